/// What river puts in its answer besides what it echoes from the offer.
public struct AnswerOptions: Sendable {
    /// Our ICE credentials (RFC 8445 §5.3: ufrag ≥ 4 and pwd ≥ 22 characters of ice-char).
    public var iceUfrag: String
    public var icePwd: String
    /// Our certificate's SHA-256 fingerprint as colon-separated upper-case hex (RFC 8122 §5).
    public var fingerprintSHA256: String
    /// One host candidate per entry, in priority order (RFC 8445 §5.1.1.1).
    public var candidates: [HostCandidate]
    /// Acceptable H264 profiles as `profile_idc`+`profile-iop` hex (RFC 6184 §8.1); the first
    /// offered payload type whose profile is listed wins, in the offer's order of preference.
    public var h264Profiles: [String]
    /// Accept an `m=application … webrtc-datachannel` section (RFC 8841) when bundled with video.
    public var dataChannels: Bool
    /// `a=max-message-size` we announce for data channels (RFC 8841 §6).
    public var maxMessageSize: Int
    /// Header extensions (RFC 8285) to accept when offered; their offered ids are kept.
    public var headerExtensions: [String]
    /// Accept one Opus `m=audio` section (RFC 7587) bundled with the video, and send it back
    /// from ``audioSendSSRC`` when the offer sends and receives it.
    public var audio: Bool
    /// SSRC and CNAME of the stream we send back on a sendrecv video section.
    public var sendSSRC: UInt32
    /// SSRC of the audio we send back on a sendrecv audio section.
    public var audioSendSSRC: UInt32
    public var cname: String
    /// `o=` session id; any 63-bit number unique to this session (RFC 8866 §5.2).
    public var sessionID: UInt64

    public static let defaultHeaderExtensions = [
        "urn:ietf:params:rtp-hdrext:sdes:mid",
        "http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time",
        "urn:ietf:params:rtp-hdrext:toffset",
        // Audio only: each packet's level (RFC 6464), kept as the browser wrote it.
        "urn:ietf:params:rtp-hdrext:ssrc-audio-level",
    ]

    public init(
        iceUfrag: String, icePwd: String, fingerprintSHA256: String, candidates: [HostCandidate],
        h264Profiles: [String] = ["42e0", "4200", "4d00"], dataChannels: Bool = false,
        maxMessageSize: Int = 262_144, headerExtensions: [String] = AnswerOptions.defaultHeaderExtensions,
        audio: Bool = false, sendSSRC: UInt32 = UInt32.random(in: 1...UInt32.max),
        audioSendSSRC: UInt32 = UInt32.random(in: 1...UInt32.max), cname: String = "river",
        sessionID: UInt64 = UInt64.random(in: 1...(UInt64.max >> 1))
    ) {
        self.iceUfrag = iceUfrag
        self.icePwd = icePwd
        self.fingerprintSHA256 = fingerprintSHA256
        self.candidates = candidates
        self.h264Profiles = h264Profiles
        self.dataChannels = dataChannels
        self.maxMessageSize = maxMessageSize
        self.headerExtensions = headerExtensions
        self.audio = audio
        self.sendSSRC = sendSSRC
        self.audioSendSSRC = audioSendSSRC
        self.cname = cname
        self.sessionID = sessionID
    }
}

/// A host candidate we announce (RFC 8445 §5.1.1.1): the shared UDP port, or the TCP port that
/// takes ICE over TCP as a passive candidate (RFC 6544 §4.1), on one address.
public struct HostCandidate: Sendable, Equatable {
    public enum Transport: Sendable, Equatable {
        case udp
        /// Passive TCP: the peer connects, we accept (RFC 6544 §4.5).
        case tcpPassive
    }

    public var address: String
    public var port: UInt16
    public var transport: Transport

    public init(address: String, port: UInt16, transport: Transport = .udp) {
        self.address = address
        self.port = port
        self.transport = transport
    }

    /// Candidates for `port` on each local address, then, with a `tcpPort`, passive TCP ones on
    /// the same addresses; with NAT 1:1 (`--public-ip`) the public addresses are announced instead,
    /// as Pion's NAT1To1IPs host mode does, because the peer can only reach us through them and our
    /// port is mapped one to one.
    public static func list(
        addresses: [String], publicAddresses: [String] = [], port: UInt16, tcpPort: UInt16? = nil
    ) -> [HostCandidate] {
        let announced = publicAddresses.isEmpty ? addresses : publicAddresses
        return announced.map { HostCandidate(address: $0, port: port) }
            + (tcpPort.map { tcp in
                announced.map { HostCandidate(address: $0, port: tcp, transport: .tcpPassive) }
            }
                ?? [])
    }

    /// The `a=candidate` value for the `index`-th candidate: host type preference 126, component 1
    /// (rtcp-mux), and a local preference falling with the index (RFC 8445 §5.1.2.1). For TCP the
    /// local preference is RFC 6544 §4.2's (2^13 × direction preference 4 for passive, + other
    /// preference), below every UDP one, so a peer that can reach us over UDP prefers it.
    func attributeValue(index: Int) -> String {
        switch transport {
        case .udp:
            let localPreference = UInt32(65_535 - min(index, 65_535))
            let priority = (UInt32(126) << 24) | (localPreference << 8) | 255
            return "\(index + 1) 1 udp \(priority) \(address) \(port) typ host"
        case .tcpPassive:
            let localPreference = UInt32((4 << 13) + 8191 - min(index, 8191))
            let priority = (UInt32(126) << 24) | (localPreference << 8) | 255
            return "\(index + 1) 1 tcp \(priority) \(address) \(port) typ host tcptype passive"
        }
    }
}

/// One `a=fingerprint` (RFC 8122 §5): hash function name, lower-cased, and the colon hex value.
public struct Fingerprint: Sendable, Equatable {
    public var algorithm: String
    public var value: String

    public init(algorithm: String, value: String) {
        self.algorithm = algorithm
        self.value = value
    }

    /// A fingerprint from digest bytes, written as RFC 8122 §5 does: upper-case hex pairs joined
    /// by colons (e.g. a certificate's SHA-256 for ``AnswerOptions/fingerprintSHA256``).
    public init(algorithm: String, digest: [UInt8]) {
        let hex: [Character] = Array("0123456789ABCDEF")
        self.algorithm = algorithm
        self.value = digest.map { String([hex[Int($0 >> 4)], hex[Int($0 & 0x0F)]]) }.joined(separator: ":")
    }

    /// The digest bytes, or `nil` if `value` is not colon-separated hex.
    public var bytes: [UInt8]? {
        var out: [UInt8] = []
        for part in value.split(separator: ":", omittingEmptySubsequences: false) {
            guard part.count == 2, let byte = UInt8(part, radix: 16) else { return nil }
            out.append(byte)
        }
        return out.isEmpty ? nil : out
    }
}
