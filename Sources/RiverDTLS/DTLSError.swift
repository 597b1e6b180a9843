/// Why a DTLS endpoint could not be set up or why its handshake failed.
public enum DTLSError: Error, Equatable, Sendable, CustomStringConvertible {
    /// An OpenSSL call failed; `call` names it, `reason` is OpenSSL's first queued error.
    case openSSL(_ call: String, _ reason: String)
    /// The handshake failed (alert sent or received, bad record, no common SRTP profile…).
    case handshakeFailed(String)
    /// The peer's certificate does not hash to the `a=fingerprint` of its SDP (RFC 8122 §5).
    case fingerprintMismatch(expected: String, actual: String)
    /// The peer presented no certificate, or agreed on no SRTP profile (RFC 5764 §4.1.2).
    case missingPeerCertificate
    case noSRTPProfile
    /// ``DTLSEndpoint/send(_:)`` before the handshake completed.
    case notConnected

    public var description: String {
        switch self {
        case .openSSL(let call, let reason): "DTLS: \(call) failed: \(reason)"
        case .handshakeFailed(let reason): "DTLS handshake failed: \(reason)"
        case .fingerprintMismatch(let expected, let actual):
            "DTLS peer certificate fingerprint \(actual) does not match the SDP's \(expected)"
        case .missingPeerCertificate: "DTLS peer presented no certificate"
        case .noSRTPProfile: "DTLS peer negotiated no SRTP protection profile (use_srtp)"
        case .notConnected: "DTLS endpoint is not connected"
        }
    }
}
