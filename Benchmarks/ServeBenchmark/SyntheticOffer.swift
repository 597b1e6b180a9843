import RiverSDP

/// The SDP a browser would send for "camera + data channel", in the shape of Chromium's offers
/// (Tests/RiverSDPTests/Fixtures) but cut to what river negotiates: BUNDLE, rtcp-mux, one
/// sendrecv H264 format (packetization-mode 1, Constrained Baseline as Chromium's first H264
/// choice), and an SCTP section. The ICE credentials and DTLS fingerprint are the session's own.
struct SyntheticOffer {
    static let payloadType: UInt8 = 102

    let ufrag: String
    let password: String
    let fingerprint: String
    let ssrc: UInt32

    var text: String {
        let transport = """
            c=IN IP4 127.0.0.1
            a=ice-ufrag:\(ufrag)
            a=ice-pwd:\(password)
            a=fingerprint:sha-256 \(fingerprint)
            a=setup:actpass
            """
        let lines = """
            v=0
            o=- 4611731400430051336 2 IN IP4 127.0.0.1
            s=-
            t=0 0
            a=group:BUNDLE 0 1
            a=msid-semantic: WMS bench
            m=video 9 UDP/TLS/RTP/SAVPF \(Self.payloadType)
            \(transport)
            a=mid:0
            a=sendrecv
            a=msid:bench bench-video
            a=rtcp-mux
            a=rtcp-rsize
            a=rtpmap:\(Self.payloadType) H264/90000
            a=rtcp-fb:\(Self.payloadType) goog-remb
            a=rtcp-fb:\(Self.payloadType) nack
            a=rtcp-fb:\(Self.payloadType) nack pli
            a=fmtp:\(Self.payloadType) level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f
            a=ssrc:\(ssrc) cname:bench
            a=ssrc:\(ssrc) msid:bench bench-video
            m=application 9 UDP/DTLS/SCTP webrtc-datachannel
            \(transport)
            a=mid:1
            a=sctp-port:5000
            a=max-message-size:262144
            """
        return lines.split(separator: "\n").joined(separator: "\r\n") + "\r\n"
    }
}

/// What the benchmark needs from serve's answer: its ICE credentials, certificate fingerprint,
/// UDP candidate port and the H264 payload type it accepted.
struct ParsedAnswer {
    let ufrag: String
    let password: String
    let fingerprint: String
    let port: Int
    let payloadType: UInt8

    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    init(_ text: String) throws {
        let sdp = try SessionDescription(parsing: text)
        guard let video = sdp.media.first(where: { $0.media == "video" && $0.port != 0 }) else {
            throw Failure(description: "the answer accepts no video:\n\(text)")
        }
        func find(_ name: String) -> String? { video.attribute(name) ?? sdp.attribute(name) }
        guard let ufrag = find("ice-ufrag"), let password = find("ice-pwd"),
            let fingerprint = find("fingerprint")?.split(separator: " ").last,
            let payloadType = video.formats.first.flatMap(UInt8.init)
        else {
            throw Failure(description: "the answer lacks ICE credentials, fingerprint or format:\n\(text)")
        }
        // a=candidate:<foundation> <component> udp <priority> <address> <port> typ host
        var port: Int?
        for candidate in video.attributes("candidate") where port == nil {
            let fields = candidate.split(separator: " ")
            if fields.count > 5 && fields[2].lowercased() == "udp" { port = Int(fields[5]) }
        }
        guard let port else { throw Failure(description: "the answer has no UDP candidate:\n\(text)") }
        self.ufrag = ufrag
        self.password = password
        self.fingerprint = String(fingerprint)
        self.port = port
        self.payloadType = payloadType
    }
}
