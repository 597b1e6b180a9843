import RiverDTLS
import RiverSCTP
import RiverSRTP

/// Runs the session stack's one-time initialisation at start-up: a DTLS-SRTP handshake between two
/// in-memory endpoints, an SRTP and SRTCP round trip with the keys it exported, and the start of the
/// usrsctp stack.
///
/// Why: OpenSSL (its algorithm and provider caches, the DTLS and ECDHE/ECDSA code), libsrtp (its
/// crypto kernel and the NSS library it is built on here) and usrsctp (its threads and tables) set
/// themselves up on first use and keep that state for the life of the process. Without this, the
/// first session pays it: a slower first handshake, and several MiB of memory that stay after
/// that session ends, so the server's resident size never returns to its ready figure. Doing it
/// before `river serve` announces its ports also means a broken crypto library fails the start,
/// not every session. It costs some tens of milliseconds and nothing on the network.
public enum MediaStackWarmUp {
    public enum WarmUpError: Error, CustomStringConvertible {
        case dtls(DTLSError)
        case handshakeIncomplete(server: DTLSEndpoint.State, client: DTLSEndpoint.State)
        case srtp(SRTPError)
        case roundTripMismatch

        public var description: String {
            switch self {
            case .dtls(let error): "media stack warm-up: \(error)"
            case .handshakeIncomplete(let server, let client):
                "media stack warm-up: loopback DTLS handshake did not finish (server \(server), client \(client))"
            case .srtp(let error): "media stack warm-up: \(error)"
            case .roundTripMismatch: "media stack warm-up: SRTP round trip changed the packet"
            }
        }
    }

    /// Runs the warm-up on the calling thread (any thread: everything it creates is dropped before
    /// it returns).
    public static func run() throws(WarmUpError) {
        SCTPAssociation.startStack()
        let (serverKeys, clientKeys) = try handshake()
        do {
            let server = try SRTPSession(
                profileID: serverKeys.profileID, localKeyAndSalt: serverKeys.localKeyAndSalt,
                remoteKeyAndSalt: serverKeys.remoteKeyAndSalt)
            let client = try SRTPSession(
                profileID: clientKeys.profileID, localKeyAndSalt: clientKeys.localKeyAndSalt,
                remoteKeyAndSalt: clientKeys.remoteKeyAndSalt)
            // RTP version 2, payload type 96, SSRC 1; a sender report from SSRC 1.
            let rtp: [UInt8] =
                [0x80, 96, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1] + [UInt8](repeating: 0xAB, count: 1000)
            let rtcp: [UInt8] = [0x80, 200, 0, 6, 0, 0, 0, 1] + [UInt8](repeating: 0, count: 20)
            guard try server.unprotectRTP(client.protectRTP(rtp)) == rtp,
                try client.unprotectRTCP(server.protectRTCP(rtcp)) == rtcp
            else { throw WarmUpError.roundTripMismatch }
        } catch let error as SRTPError {
            throw .srtp(error)
        } catch {
            throw .roundTripMismatch
        }
    }

    /// A DTLS 1.2 handshake with `use_srtp` between a server endpoint (as sessions use it) and a
    /// client with its own certificate, datagrams passed by hand.
    private static func handshake() throws(WarmUpError) -> (SRTPKeyingMaterial, SRTPKeyingMaterial) {
        let server: DTLSEndpoint
        let client: DTLSEndpoint
        do {
            let clientCertificate = try DTLSCertificate(commonName: "river-warm-up")
            server = try DTLSEndpoint(role: .server, expectedPeerFingerprint: clientCertificate.fingerprint)
            client = try DTLSEndpoint(
                role: .client, certificate: clientCertificate,
                expectedPeerFingerprint: DTLSCertificate.shared.fingerprint)
        } catch {
            throw .dtls(error)
        }
        var serverEvents: [DTLSEndpoint.Event] = []
        var clientEvents = client.start()
        // A DTLS 1.2 handshake is three flights each way at most; the bound guards a bug.
        for _ in 0..<16 {
            let toServer = client.takeOutgoing()
            let toClient = server.takeOutgoing()
            if toServer.isEmpty && toClient.isEmpty { break }
            for datagram in toServer { serverEvents += server.receive(datagram) }
            for datagram in toClient { clientEvents += client.receive(datagram) }
        }
        guard let serverKeys = keys(serverEvents), let clientKeys = keys(clientEvents) else {
            throw .handshakeIncomplete(server: server.state, client: client.state)
        }
        server.close()
        client.close()
        return (serverKeys, clientKeys)
    }

    private static func keys(_ events: [DTLSEndpoint.Event]) -> SRTPKeyingMaterial? {
        for case .connected(let keys) in events { return keys }
        return nil
    }
}
