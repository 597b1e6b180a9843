/// The SRTP protection profiles river negotiates in DTLS `use_srtp` (RFC 5764 §4.1.2, RFC 7714 §14.2).
public enum SRTPProfile: UInt16, Sendable, CaseIterable {
    /// AES-128 counter mode with an 80-bit HMAC-SHA1 tag: 16-byte key, 14-byte salt.
    case aes128CMHMACSHA1_80 = 0x0001
    /// AES-128-GCM AEAD with a 16-byte tag: 16-byte key, 12-byte salt.
    case aeadAES128GCM = 0x0007

    /// Master key + master salt length in bytes.
    public var keyAndSaltLength: Int {
        switch self {
        case .aes128CMHMACSHA1_80: 30
        case .aeadAES128GCM: 28
        }
    }
}

/// Why an SRTP call failed; carries libsrtp's status code.
public enum SRTPError: Error, Equatable, Sendable, CustomStringConvertible {
    case unsupportedProfile(UInt16)
    case badKeyLength(expected: Int, got: Int)
    /// `srtp_create` failed.
    case create(status: Int32)
    /// Authentication failed: forged, corrupted, or keyed for another session.
    case authenticationFailed(rtcp: Bool)
    /// Replay window rejected a repeated or too-old packet (RFC 3711 §3.3.2).
    case replay(rtcp: Bool)
    /// Too short or otherwise not SRTP.
    case malformed(rtcp: Bool, status: Int32)
    case protect(rtcp: Bool, status: Int32)
    /// A packet from an SSRC that was not negotiated, after ``SRTPSession/maxUnexpectedSSRCs``
    /// others already made libsrtp streams (each SSRC costs a stream context and a longer lookup).
    case unknownSSRC(UInt32, rtcp: Bool)

    public var description: String {
        switch self {
        case .unsupportedProfile(let id): "SRTP profile 0x\(String(id, radix: 16)) is not supported"
        case .badKeyLength(let expected, let got): "SRTP key+salt must be \(expected) bytes, got \(got)"
        case .create(let status): "srtp_create failed with status \(status)"
        case .authenticationFailed(let rtcp): "SRT\(rtcp ? "CP" : "P") authentication failed"
        case .replay(let rtcp): "SRT\(rtcp ? "CP" : "P") replayed or too old"
        case .malformed(let rtcp, let status):
            "SRT\(rtcp ? "CP" : "P") unprotect failed with status \(status)"
        case .protect(let rtcp, let status): "SRT\(rtcp ? "CP" : "P") protect failed with status \(status)"
        case .unknownSSRC(let ssrc, let rtcp):
            "SRT\(rtcp ? "CP" : "P") from SSRC \(ssrc), which was not negotiated, past the limit of streams"
        }
    }
}
