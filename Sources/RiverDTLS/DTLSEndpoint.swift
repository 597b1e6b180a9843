import COpenSSL
import RiverCore

/// A DTLS 1.2 endpoint with the `use_srtp` extension (RFC 6347, RFC 5764), sans-IO: datagrams
/// and clock ticks go in, datagrams to send and events come out.
///
/// WebRTC's answerer is the DTLS server (`a=setup:passive`); the client role exists so tests and
/// tools can play the browser. Both sides present self-signed certificates and authenticate them
/// against the fingerprint from the other side's SDP (RFC 8122 §5, RFC 8842).
///
/// Not thread-safe, and deliberately not `Sendable`: the `SSL` handle and OpenSSL's per-thread
/// error queue require every call to come from one executor (e.g. the session's event loop).
public final class DTLSEndpoint {
    public enum Role: Sendable { case server, client }

    public enum State: Sendable, Equatable {
        case handshaking, connected
        case failed(DTLSError)
        case closed
    }

    /// What happened while handling input; datagrams to send are collected separately
    /// (``takeOutgoing()``) because every call may produce some.
    public enum Event: Sendable, Equatable {
        /// Handshake done, peer authenticated, SRTP keys exported.
        case connected(SRTPKeyingMaterial)
        /// Application data (e.g. SCTP packets for data channels, RFC 8261).
        case applicationData([UInt8])
        case failed(DTLSError)
        /// The peer sent close_notify.
        case closed
    }

    /// SRTP profiles offered, most preferred first (RFC 7714 GCM, then RFC 5764's AES-CM).
    public static let srtpProfiles = "SRTP_AEAD_AES_128_GCM:SRTP_AES128_CM_SHA1_80"

    public let role: Role
    public private(set) var state: State = .handshaking
    private let expectedPeerFingerprint: String?
    private let ssl: OpaquePointer
    private let sink = DatagramSink()
    private let readBIO: OpaquePointer

    /// - Parameters:
    ///   - expectedPeerFingerprint: the peer's `sha-256` fingerprint from its SDP, hex with or
    ///     without colons, any case; `nil` accepts any certificate (tests only).
    ///   - srtpProfiles: OpenSSL profile names, most preferred first.
    public init(
        role: Role, certificate: DTLSCertificate = .shared, expectedPeerFingerprint: String?,
        srtpProfiles: String = DTLSEndpoint.srtpProfiles
    ) throws(DTLSError) {
        self.role = role
        self.expectedPeerFingerprint = expectedPeerFingerprint.map(Self.normalize)
        ERR_clear_error()
        // The server role (every session) shares one context; a client (tests, tools) makes its
        // own, whose only reference the SSL takes over below.
        let ctx =
            role == .server
            ? try DTLSContext.shared(certificate: certificate, srtpProfiles: srtpProfiles)
            : try DTLSContext.make(role: role, certificate: certificate, srtpProfiles: srtpProfiles)
        defer { if role == .client { SSL_CTX_free(ctx) } }
        guard let ssl = SSL_new(ctx), let rbio = BIO_new(BIO_s_mem()), let wbio = makeDatagramBIO(sink: sink)
        else {
            throw .openSSL("SSL_new/BIO_new", lastOpenSSLError())
        }
        // An empty read BIO means "no datagram yet" (retry), not end of file.
        _ = river_BIO_set_mem_eof_return(rbio, -1)
        SSL_set_bio(ssl, rbio, wbio)
        _ = SSL_set_options(ssl, river_SSL_OP_NO_QUERY_MTU())
        _ = river_SSL_set_mtu(ssl, dtlsMTU)
        if role == .server { SSL_set_accept_state(ssl) } else { SSL_set_connect_state(ssl) }
        self.ssl = ssl
        self.readBIO = rbio
    }

    deinit {
        SSL_free(ssl)  // frees both BIOs, and its reference to the shared context
    }

    /// Client role: sends the first ClientHello. A server waits for ``receive(_:)``.
    public func start() -> [Event] {
        drive()
    }

    /// Feeds one received datagram (first byte 20…63, RFC 7983).
    public func receive<Bytes: Collection<UInt8>>(_ datagram: Bytes) -> [Event] {
        guard state == .handshaking || state == .connected, !datagram.isEmpty else { return [] }
        let bytes = Array(datagram)
        _ = bytes.withUnsafeBytes { BIO_write(readBIO, $0.baseAddress, Int32($0.count)) }
        let events = drive()
        // Anything DTLS did not consume (a garbage tail) must not merge with the next datagram.
        _ = BIO_ctrl(readBIO, BIO_CTRL_RESET, 0, nil)
        return events
    }

    /// Datagrams produced since the last call, in order.
    public func takeOutgoing() -> [[UInt8]] {
        defer { sink.datagrams.removeAll(keepingCapacity: true) }
        return sink.datagrams
    }

    /// When ``handleTimeout(now:)`` should next be called (handshake retransmission, RFC 6347
    /// §4.2.4), or `nil` when no timer is running.
    ///
    /// OpenSSL keeps this timer on its own clock (`DTLSv1_get_timeout` answers "time left"), so the
    /// deadline is `now` plus what it says, and ``handleTimeout(now:)`` lets OpenSSL decide by its
    /// clock whether the flight is really due.
    public func nextTimeout(now: Instant) -> Instant? {
        guard state == .handshaking else { return nil }
        var tv = timeval()
        guard river_DTLSv1_get_timeout(ssl, &tv) == 1 else { return nil }
        return now + .seconds(Int64(tv.tv_sec)) + .microseconds(Int64(tv.tv_usec))
    }

    /// Retransmits the last flight if its timer expired; fails after OpenSSL gives up.
    public func handleTimeout(now: Instant) -> [Event] {
        guard state == .handshaking else { return [] }
        ERR_clear_error()
        if river_DTLSv1_handle_timeout(ssl) < 0 {
            return fail(.handshakeFailed("retransmission limit reached: \(lastOpenSSLError())"))
        }
        return []
    }

    /// Encrypts application data into one record (call ``takeOutgoing()`` afterwards).
    public func send(_ data: [UInt8]) throws(DTLSError) {
        guard state == .connected else { throw .notConnected }
        ERR_clear_error()
        let written = data.withUnsafeBytes { SSL_write(ssl, $0.baseAddress, Int32($0.count)) }
        guard written == data.count else { throw .openSSL("SSL_write", lastOpenSSLError()) }
    }

    /// Sends close_notify and stops accepting input.
    public func close() {
        guard state == .connected || state == .handshaking else { return }
        ERR_clear_error()
        if state == .connected { _ = SSL_shutdown(ssl) }
        state = .closed
    }

    private func drive() -> [Event] {
        var events: [Event] = []
        if state == .handshaking {
            ERR_clear_error()
            let result = SSL_do_handshake(ssl)
            if result == 1 {
                events += finishHandshake()
            } else {
                let error = SSL_get_error(ssl, result)
                if error != SSL_ERROR_WANT_READ && error != SSL_ERROR_WANT_WRITE {
                    return fail(.handshakeFailed(lastOpenSSLError()))
                }
            }
        }
        guard state == .connected else { return events }
        var buffer = [UInt8](repeating: 0, count: 16_384)
        while true {
            ERR_clear_error()
            let n = buffer.withUnsafeMutableBytes { SSL_read(ssl, $0.baseAddress, Int32($0.count)) }
            if n > 0 {
                events.append(.applicationData(Array(buffer[0..<Int(n)])))
                continue
            }
            let error = SSL_get_error(ssl, n)
            if error == SSL_ERROR_ZERO_RETURN {
                state = .closed
                events.append(.closed)
            } else if error != SSL_ERROR_WANT_READ && error != SSL_ERROR_WANT_WRITE {
                events += fail(.handshakeFailed(lastOpenSSLError()))
            }
            return events
        }
    }

    private func finishHandshake() -> [Event] {
        guard let peer = SSL_get1_peer_certificate(ssl) else { return fail(.missingPeerCertificate) }
        let actual = DTLSCertificate.sha256Fingerprint(of: peer) ?? ""
        X509_free(peer)
        if let expected = expectedPeerFingerprint, Self.normalize(actual) != expected {
            return fail(.fingerprintMismatch(expected: expected, actual: actual))
        }
        guard let profile = SSL_get_selected_srtp_profile(ssl),
            let (keyLength, saltLength) = SRTPKeyingMaterial.lengths(profileID: UInt16(profile.pointee.id))
        else { return fail(.noSRTPProfile) }
        let profileID = UInt16(profile.pointee.id)
        var exported = [UInt8](repeating: 0, count: 2 * (keyLength + saltLength))
        let label = "EXTRACTOR-dtls_srtp"
        guard
            SSL_export_keying_material(ssl, &exported, exported.count, label, label.utf8.count, nil, 0, 0)
                == 1,
            let keys = SRTPKeyingMaterial(profileID: profileID, exported: exported, isServer: role == .server)
        else { return fail(.openSSL("SSL_export_keying_material", lastOpenSSLError())) }
        state = .connected
        return [.connected(keys)]
    }

    private func fail(_ error: DTLSError) -> [Event] {
        state = .failed(error)
        return [.failed(error)]
    }

    /// Upper-case hex without separators, so "ab:cd" and "ABCD" compare equal.
    static func normalize(_ fingerprint: String) -> String {
        String(fingerprint.uppercased().filter { $0 != ":" })
    }
}
