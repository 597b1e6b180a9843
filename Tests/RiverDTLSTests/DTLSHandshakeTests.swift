import RiverCore
import RiverDTLS
import RiverSRTP
import Testing

/// Delivers every datagram each side produced to the other until both are quiet.
private func pump(_ server: DTLSEndpoint, _ client: DTLSEndpoint, firstEvents: [DTLSEndpoint.Event] = [])
    -> (server: [DTLSEndpoint.Event], client: [DTLSEndpoint.Event])
{
    var serverEvents: [DTLSEndpoint.Event] = []
    var clientEvents = firstEvents
    for _ in 0..<20 {
        let toServer = client.takeOutgoing()
        let toClient = server.takeOutgoing()
        if toServer.isEmpty && toClient.isEmpty { break }
        for d in toServer { serverEvents += server.receive(d) }
        for d in toClient { clientEvents += client.receive(d) }
    }
    return (serverEvents, clientEvents)
}

private func keys(_ events: [DTLSEndpoint.Event]) -> SRTPKeyingMaterial? {
    for case .connected(let keys) in events { return keys }
    return nil
}

private func rtp(sequence: UInt16, payload: [UInt8]) -> [UInt8] {
    [0x80, 0x66, UInt8(sequence >> 8), UInt8(sequence & 0xFF), 0, 0, 0x10, 0, 0xCA, 0xFE, 0xBA, 0xBE]
        + payload
}

@Suite struct DTLSHandshakeTests {
    @Test func certificateFingerprintIsSHA256Hex() throws {
        let cert = try DTLSCertificate()
        #expect(cert.fingerprint.count == 32 * 3 - 1)
        #expect(cert.fingerprint.split(separator: ":").allSatisfy { $0.count == 2 })
        #expect(try DTLSCertificate().fingerprint != cert.fingerprint)
        #expect(DTLSCertificate.shared.fingerprint == DTLSCertificate.shared.fingerprint)
    }

    @Test(arguments: [
        ("SRTP_AEAD_AES_128_GCM:SRTP_AES128_CM_SHA1_80", SRTPProfile.aeadAES128GCM),
        ("SRTP_AES128_CM_SHA1_80", SRTPProfile.aes128CMHMACSHA1_80),
    ])
    func handshakeThenSRTPRoundTrip(clientProfiles: String, expected: SRTPProfile) throws {
        let clientCert = try DTLSCertificate(commonName: "browser")
        let server = try DTLSEndpoint(
            role: .server, expectedPeerFingerprint: clientCert.fingerprint.lowercased())
        let client = try DTLSEndpoint(
            role: .client, certificate: clientCert,
            expectedPeerFingerprint: DTLSCertificate.shared.fingerprint,
            srtpProfiles: clientProfiles)
        let (serverEvents, clientEvents) = pump(server, client, firstEvents: client.start())
        let serverKeys = try #require(keys(serverEvents), "server events: \(serverEvents)")
        let clientKeys = try #require(keys(clientEvents), "client events: \(clientEvents)")
        #expect(server.state == .connected && client.state == .connected)
        // The server prefers GCM but honours a client that offers only AES-CM.
        #expect(serverKeys.profileID == expected.rawValue)
        #expect(serverKeys.localKeyAndSalt == clientKeys.remoteKeyAndSalt)
        #expect(serverKeys.remoteKeyAndSalt == clientKeys.localKeyAndSalt)
        #expect(serverKeys.localKeyAndSalt != serverKeys.remoteKeyAndSalt)
        #expect(serverKeys.localKeyAndSalt.count == expected.keyAndSaltLength)

        let serverSRTP = try SRTPSession(
            profileID: serverKeys.profileID, localKeyAndSalt: serverKeys.localKeyAndSalt,
            remoteKeyAndSalt: serverKeys.remoteKeyAndSalt)
        let clientSRTP = try SRTPSession(
            profileID: clientKeys.profileID, localKeyAndSalt: clientKeys.localKeyAndSalt,
            remoteKeyAndSalt: clientKeys.remoteKeyAndSalt)
        for sequence in UInt16(1)...UInt16(5) {
            let plain = rtp(sequence: sequence, payload: Array(repeating: UInt8(sequence), count: 100))
            let secured = try clientSRTP.protectRTP(plain)
            #expect(secured.count > plain.count)
            #expect(secured[12...] != plain[12...])
            #expect(try serverSRTP.unprotectRTP(secured) == plain)
            let back = try serverSRTP.protectRTP(plain)
            #expect(try clientSRTP.unprotectRTP(back) == plain)
        }
        // A replayed packet and a tampered one are both refused.
        let secured = try clientSRTP.protectRTP(rtp(sequence: 9, payload: [1, 2, 3]))
        _ = try serverSRTP.unprotectRTP(secured)
        #expect(throws: SRTPError.replay(rtcp: false)) { try serverSRTP.unprotectRTP(secured) }
        var tampered = try clientSRTP.protectRTP(rtp(sequence: 10, payload: [1, 2, 3]))
        tampered[13] ^= 0xFF
        #expect(throws: SRTPError.authenticationFailed(rtcp: false)) { try serverSRTP.unprotectRTP(tampered) }

        // An RTCP PLI.
        let rtcp: [UInt8] = [0x81, 206, 0, 2, 0xCA, 0xFE, 0xBA, 0xBE, 0x12, 0x34, 0x56, 0x78]
        let securedRTCP = try serverSRTP.protectRTCP(rtcp)
        #expect(try clientSRTP.unprotectRTCP(securedRTCP) == rtcp)

        // Application data (what SCTP will ride on) flows both ways.
        try client.send(Array("hello".utf8))
        let data = client.takeOutgoing().flatMap { server.receive($0) }
        #expect(data == [.applicationData(Array("hello".utf8))])
    }

    @Test func wrongFingerprintFailsTheHandshake() throws {
        let impostor = try DTLSCertificate(commonName: "impostor")
        let expected = try DTLSCertificate(commonName: "browser")
        let server = try DTLSEndpoint(role: .server, expectedPeerFingerprint: expected.fingerprint)
        let client = try DTLSEndpoint(role: .client, certificate: impostor, expectedPeerFingerprint: nil)
        let (serverEvents, _) = pump(server, client, firstEvents: client.start())
        guard case .failed(.fingerprintMismatch(_, let actual)) = server.state else {
            Issue.record("server state \(server.state), events \(serverEvents)")
            return
        }
        #expect(actual == impostor.fingerprint)
        #expect(serverEvents.contains { if case .failed = $0 { true } else { false } })
        #expect(keys(serverEvents) == nil)
    }

    @Test func garbageAndTruncatedRecordsAreIgnored() throws {
        let server = try DTLSEndpoint(role: .server, expectedPeerFingerprint: nil)
        let client = try DTLSEndpoint(role: .client, expectedPeerFingerprint: nil)
        _ = client.start()
        let hello = try #require(client.takeOutgoing().first)
        var generator = SystemRandomNumberGenerator()
        for length in [1, 13, 40, 300] {
            let junk = [UInt8(22)] + (1..<length).map { _ in UInt8.random(in: 0...255, using: &generator) }
            _ = server.receive(junk)
        }
        _ = server.receive(hello.prefix(hello.count / 2))
        #expect(server.state == .handshaking)
        // A complete, well-formed handshake still succeeds afterwards.
        _ = server.takeOutgoing()
        let (serverEvents, _) = pump(server, client, firstEvents: server.receive(hello))
        #expect(keys(serverEvents) != nil || server.state == .connected, "\(serverEvents)")
    }

    @Test func lostFlightIsRetransmittedAfterTimeout() async throws {
        let server = try DTLSEndpoint(role: .server, expectedPeerFingerprint: nil)
        let client = try DTLSEndpoint(role: .client, expectedPeerFingerprint: nil)
        _ = client.start()
        let lost = client.takeOutgoing()
        #expect(!lost.isEmpty)
        let now = Instant.now
        let deadline = try #require(client.nextTimeout(now: now))
        #expect(deadline > now && deadline <= now + .seconds(2))
        try await Task.sleep(for: deadline + .milliseconds(50) - Instant.now)
        _ = client.handleTimeout(now: .now)
        let resent = client.takeOutgoing()
        #expect(!resent.isEmpty)
        _ = pump(server, client, firstEvents: resent.flatMap { server.receive($0) })
        #expect(server.state == .connected)
        #expect(client.state == .connected)
    }
}
