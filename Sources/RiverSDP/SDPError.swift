/// Why an offer could not be parsed or answered. ``description`` is a sentence a person can act
/// on; the signalling layer returns it as the body of a `400 Bad Request`.
public enum SDPError: Error, Equatable, CustomStringConvertible {
    /// The text is not SDP (RFC 8866 §9 grammar): which line (1-based), its text, and why.
    case malformed(line: Int, text: String, reason: String)
    /// A required line is missing (`v=`, `o=`, `s=`, `t=`).
    case missingLine(Character)
    /// No `m=video` section offers what river can receive.
    case noVideo
    /// The video section offers no H264 with packetization-mode=1 and a supported profile.
    case noCompatibleH264(mid: String, offered: [String])
    /// RTP and RTCP must share the port (RFC 8843 / RFC 5761); river does not do separate RTCP.
    case rtcpMuxRequired(mid: String)
    /// A section has no `a=mid`, so it cannot be bundled or answered (RFC 8829 §5.8).
    case missingMid(media: String)
    case missingICECredentials(mid: String)
    case missingFingerprint(mid: String)
    /// `a=setup:passive` offers would make river the DTLS client; river is always the server.
    case unsupportedSetup(mid: String, role: String)
    case unsupportedProtocol(mid: String, proto: String)

    public var description: String {
        switch self {
        case .malformed(let line, let text, let reason):
            "SDP line \(line) (\"\(text.prefix(80))\"): \(reason)"
        case .missingLine(let type):
            "SDP has no \(type)= line, which RFC 8866 requires"
        case .noVideo:
            "the offer has no active m=video section; river receives one H264 video track"
        case .noCompatibleH264(let mid, let offered):
            "m=video (mid \(mid)) offers no H264 with packetization-mode=1 and profile-level-id "
                + "42e01f/42001f/4d001f (offered: \(offered.prefix(12).map { String($0.prefix(60)) }.joined(separator: ", "))"
                + (offered.count > 12 ? ", and \(offered.count - 12) more)" : ")")
        case .rtcpMuxRequired(let mid):
            "m-section mid \(mid) lacks a=rtcp-mux; river requires RTP and RTCP on one port"
        case .missingMid(let media):
            "an m=\(media) section has no a=mid"
        case .missingICECredentials(let mid):
            "m-section mid \(mid) has no a=ice-ufrag/a=ice-pwd (session or media level)"
        case .missingFingerprint(let mid):
            "m-section mid \(mid) has no a=fingerprint; DTLS-SRTP needs the peer's certificate fingerprint"
        case .unsupportedSetup(let mid, let role):
            "m-section mid \(mid) has a=setup:\(role); river is the DTLS server, so the offer must be "
                + "actpass or active"
        case .unsupportedProtocol(let mid, let proto):
            "m-section mid \(mid) uses \(proto); river accepts UDP/TLS/RTP/SAVPF video"
        }
    }
}
