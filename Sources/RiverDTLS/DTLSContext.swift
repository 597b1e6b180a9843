import COpenSSL
import Synchronization

/// The `SSL_CTX`s of DTLS servers (every session's endpoint): one per certificate and SRTP profile
/// list, made once and kept for the life of the process. A context holds nothing of a session
/// (the peer's fingerprint is checked per endpoint after the handshake), so sessions share it, and
/// a WHIP POST no longer costs a context of its own.
///
/// Renegotiation is off (`SSL_OP_NO_RENEGOTIATION`): WebRTC never renegotiates DTLS, and a peer
/// that asks would only make the server redo handshake work.
///
/// `@unchecked Sendable` in effect through the lock: `SSL_CTX` is reference-counted atomically and
/// is not changed after it is made, which is what OpenSSL requires to share it between threads.
enum DTLSContext {
    private struct Key: Hashable {
        var certificate: ObjectIdentifier
        var srtpProfiles: String
    }

    private nonisolated(unsafe) static var contexts: [Key: OpaquePointer] = [:]
    private static let lock = Mutex(())

    static func shared(certificate: DTLSCertificate, srtpProfiles: String) throws(DTLSError) -> OpaquePointer
    {
        let key = Key(certificate: ObjectIdentifier(certificate), srtpProfiles: srtpProfiles)
        return try lock.withLock { _ throws(DTLSError) -> OpaquePointer in
            if let context = contexts[key] { return context }
            let context = try make(role: .server, certificate: certificate, srtpProfiles: srtpProfiles)
            // The certificate is kept alive with its context (a key of the same object identity
            // must never name a freed certificate's successor).
            retained.append(certificate)
            contexts[key] = context
            return context
        }
    }

    private nonisolated(unsafe) static var retained: [DTLSCertificate] = []

    /// A new context; the caller owns its reference.
    static func make(
        role: DTLSEndpoint.Role, certificate: DTLSCertificate, srtpProfiles: String
    ) throws(DTLSError) -> OpaquePointer {
        guard let ctx = SSL_CTX_new(role == .server ? DTLS_server_method() : DTLS_client_method()) else {
            throw .openSSL("SSL_CTX_new", lastOpenSSLError())
        }
        var ok = river_SSL_CTX_set_min_proto_version(ctx, DTLS1_2_VERSION) == 1
        ok = ok && SSL_CTX_use_certificate(ctx, certificate.x509) == 1
        ok = ok && SSL_CTX_use_PrivateKey(ctx, certificate.privateKey) == 1
        ok = ok && SSL_CTX_check_private_key(ctx) == 1
        // Returns 0 on success, unlike most of OpenSSL.
        ok = ok && SSL_CTX_set_tlsext_use_srtp(ctx, srtpProfiles) == 0
        guard ok else {
            SSL_CTX_free(ctx)
            throw .openSSL("SSL_CTX set-up", lastOpenSSLError())
        }
        _ = SSL_CTX_set_options(ctx, river_SSL_OP_NO_RENEGOTIATION())
        // Self-signed certificates: accept any chain here; each endpoint compares the peer's
        // fingerprint with its own session's SDP after the handshake.
        SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT) { _, _ in 1 }
        return ctx
    }

    /// Contexts made so far (tests check sessions share them).
    static var count: Int { lock.withLock { _ in contexts.count } }
}
