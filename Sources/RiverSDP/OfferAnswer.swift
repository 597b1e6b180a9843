/// Answers a browser's offer (RFC 3264 offer/answer as profiled by JSEP, RFC 8829 §5.3) the one
/// way river can serve it: one bundled ICE-lite/DTLS transport (RFC 8843), RTP and RTCP muxed, H264
/// video, optionally one sendrecv Opus audio section (its packets come back, never decoded; audio
/// that only comes in has nowhere to go yet, so it is refused), and optionally one SCTP data
/// channel section.
///
/// Every other section is rejected with port 0 (RFC 3264 §6) rather than failing the whole
/// negotiation, so a page that also offers audio still connects. An offered port 0 disables a
/// section, except with `a=bundle-only` inside the video's BUNDLE group (``isBundleOnly(_:)``).
public enum OfferAnswer {
    static let rtpProtocols: Set<String> = ["UDP/TLS/RTP/SAVPF", "RTP/SAVPF"]
    static let sctpProtocol = "UDP/DTLS/SCTP"

    /// Parses `offer` and answers it. Throws an ``SDPError`` that says why when it is not SDP or
    /// river cannot receive what it offers.
    public static func answer(offer text: String, options: AnswerOptions) throws(SDPError) -> Answer {
        try answer(offer: SessionDescription(parsing: text), options: options)
    }

    public static func answer(offer: SessionDescription, options: AnswerOptions) throws(SDPError) -> Answer {
        for section in offer.media where section.mid == nil {
            throw .missingMid(media: section.media)
        }
        let bundle = bundleGroup(offer)

        // Pick the video section: the first active m=video that speaks a SAVPF profile. It needs
        // its own port: river takes the transport from it, and a bundle-only section can never be
        // the offerer-tagged one whose transport the bundle uses (RFC 9143 §7.2.1).
        guard
            let videoIndex = offer.media.firstIndex(where: {
                $0.media == "video" && $0.port != 0 && rtpProtocols.contains($0.proto)
            })
        else {
            if let v = offer.media.first(where: { $0.media == "video" && $0.port != 0 }) {
                throw .unsupportedProtocol(mid: v.mid ?? "?", proto: v.proto)
            }
            throw .noVideo
        }
        let video = offer.media[videoIndex]
        let videoMid = video.mid!
        guard video.has("rtcp-mux") else { throw .rtcpMuxRequired(mid: videoMid) }
        let h264 = try chooseH264(video, profiles: options.h264Profiles)
        let transport = try transportParameters(offer, video)

        // Other sections join only if they share the video's bundle (we have one transport).
        func bundledWithVideo(_ mid: String) -> Bool {
            guard let bundle else { return false }
            return bundle.contains(mid) && bundle.contains(videoMid)
        }
        var dataIndex: Int?
        if options.dataChannels {
            dataIndex = offer.media.firstIndex {
                $0.media == "application" && $0.proto == sctpProtocol
                    && $0.formats.contains("webrtc-datachannel") && bundledWithVideo($0.mid!)
                    && ($0.port != 0 || isBundleOnly($0))
            }
        }

        var audioIndex: Int?
        var opus: UInt8?
        if options.audio {
            for (index, section) in offer.media.enumerated()
            where section.media == "audio" && rtpProtocols.contains(section.proto)
                && (section.port != 0 || isBundleOnly(section)) && bundledWithVideo(section.mid!)
                && section.has("rtcp-mux") && answerDirection(section) == "sendrecv"
            {
                if let pt = opusPayloadType(section) {
                    (audioIndex, opus) = (index, pt)
                    break
                }
            }
        }

        var answerMedia: [MediaDescription] = []
        var accepted: [String] = []
        var rejected: [String] = []
        var extensionIDs: [String: UInt8] = [:]
        var videoDirection = "recvonly"
        var audio: NegotiatedAudio?
        var remoteSCTPPort: UInt16?
        var remoteMaxMessageSize: Int?
        for (index, section) in offer.media.enumerated() {
            let mid = section.mid!
            if index == videoIndex {
                let (m, direction, ids) = videoSection(section, h264: h264, options: options)
                answerMedia.append(m)
                videoDirection = direction
                extensionIDs = ids
                accepted.append(mid)
            } else if index == audioIndex, let opus {
                answerMedia.append(audioSection(section, payloadType: opus, options: options))
                audio = NegotiatedAudio(
                    mid: mid, payloadType: opus, remoteSSRCs: ssrcs(section).0,
                    localSSRC: options.audioSendSSRC)
                accepted.append(mid)
            } else if index == dataIndex {
                remoteSCTPPort = UInt16(section.attribute("sctp-port") ?? "5000") ?? 5000
                remoteMaxMessageSize = Int(section.attribute("max-message-size") ?? "65536")
                var m = MediaDescription(
                    media: "application", port: 9, proto: sctpProtocol, formats: ["webrtc-datachannel"],
                    connection: .init())
                m.attributes = transportAttributes(mid: mid, options: options)
                m.attributes.append(Attribute("sctp-port", "5000"))
                m.attributes.append(Attribute("max-message-size", String(options.maxMessageSize)))
                answerMedia.append(m)
                accepted.append(mid)
            } else {
                answerMedia.append(rejectedSection(section))
                rejected.append(mid)
            }
        }

        var attributes: [Attribute] = []
        if let bundle, bundle.contains(videoMid) {
            attributes.append(Attribute("group", "BUNDLE " + accepted.joined(separator: " ")))
        }
        attributes.append(Attribute("ice-lite"))
        attributes.append(Attribute("msid-semantic", " WMS river"))
        let description = SessionDescription(
            origin: .init(username: "river", sessionID: String(options.sessionID)), sessionName: "-",
            attributes: attributes, media: answerMedia)

        let (mediaSSRCs, rtxSSRCs) = ssrcs(video)
        let negotiated = NegotiatedSession(
            videoMid: videoMid, videoPayloadType: h264.payloadType, h264ProfileLevelID: h264.profileLevelID,
            videoDirection: videoDirection, remoteVideoSSRCs: mediaSSRCs, remoteRTXSSRCs: rtxSSRCs,
            headerExtensionIDs: extensionIDs, remoteICEUfrag: transport.ufrag, remoteICEPwd: transport.pwd,
            remoteFingerprints: transport.fingerprints,
            localVideoSSRC: videoDirection == "sendrecv" || videoDirection == "sendonly"
                ? options.sendSSRC : nil,
            dataChannelMid: dataIndex.map { offer.media[$0].mid! }, remoteSCTPPort: remoteSCTPPort,
            remoteMaxMessageSize: remoteMaxMessageSize, rejectedMids: rejected, audio: audio)
        return Answer(description: description, negotiated: negotiated)
    }

    /// Whether a port-0 section asks to be carried only on the BUNDLE transport (RFC 8843 §6,
    /// RFC 9143 §7.2): `a=bundle-only`. Firefox offers every section after the first this way
    /// under max-bundle, its data channel included. Such a section is live, not disabled; the
    /// caller accepts it only inside the video's BUNDLE group, because outside a group the
    /// attribute means nothing (RFC 8843 §6: it is discarded) and port 0 then disables the section.
    /// The answer gives it the bundle's port and no `a=bundle-only` (RFC 9143 §7.3).
    static func isBundleOnly(_ section: MediaDescription) -> Bool {
        section.port == 0 && section.has("bundle-only")
    }

    /// The mids of the offer's first `a=group:BUNDLE` (RFC 8843 §7.1), if any.
    static func bundleGroup(_ offer: SessionDescription) -> [String]? {
        for a in offer.attributes where a.name == "group" {
            let parts = (a.value ?? "").split(separator: " ").map(String.init)
            if parts.first == "BUNDLE" { return Array(parts.dropFirst()) }
        }
        return nil
    }

    /// The first H264 format river can receive. One pass over the attributes first, so the work
    /// is linear in the offer's size, however many formats and attributes it lists.
    static func chooseH264(_ video: MediaDescription, profiles: [String]) throws(SDPError) -> H264Format {
        var rtpmaps: [Substring: Substring] = [:]
        var fmtps: [Substring: Substring] = [:]
        for attribute in video.attributes where attribute.name == "rtpmap" || attribute.name == "fmtp" {
            guard let value = attribute.value, let space = value.firstIndex(of: " ") else { continue }
            let format = value[..<space]
            let rest = value[value.index(after: space)...]
            if attribute.name == "rtpmap" {
                if rtpmaps[format] == nil { rtpmaps[format] = rest }
            } else if fmtps[format] == nil {
                fmtps[format] = rest
            }
        }
        var offered: [String] = []
        for format in video.formats {
            guard let pt = UInt8(format), pt < 128, let encoding = rtpmaps[format[...]] else { continue }
            offered.append(String(encoding))
            guard encoding.uppercased().hasPrefix("H264/90000") else { continue }
            let h264 = H264Format(payloadType: pt, fmtp: fmtps[format[...]].map(String.init))
            offered[offered.count - 1] += " pm=\(h264.packetizationMode) \(h264.profileLevelID)"
            if h264.packetizationMode == 1 && profiles.contains(h264.profile) { return h264 }
        }
        throw .noCompatibleH264(mid: video.mid ?? "?", offered: offered)
    }

    struct Transport {
        var ufrag: String
        var pwd: String
        var fingerprints: [Fingerprint]
    }

    /// ICE and DTLS parameters of the bundle transport: media level first, then session level
    /// (RFC 8839 §5.4, RFC 8122 §5).
    static func transportParameters(_ offer: SessionDescription, _ video: MediaDescription) throws(SDPError)
        -> Transport
    {
        let mid = video.mid ?? "?"
        guard let ufrag = video.attribute("ice-ufrag") ?? offer.attribute("ice-ufrag"),
            let pwd = video.attribute("ice-pwd") ?? offer.attribute("ice-pwd"), !ufrag.isEmpty, !pwd.isEmpty
        else { throw .missingICECredentials(mid: mid) }
        var lines = video.attributes("fingerprint")
        if lines.isEmpty { lines = offer.attributes.compactMap { $0.name == "fingerprint" ? $0.value : nil } }
        let fingerprints = lines.compactMap { line -> Fingerprint? in
            let parts = line.split(separator: " ", omittingEmptySubsequences: true)
            guard parts.count == 2 else { return nil }
            let fingerprint = Fingerprint(
                algorithm: parts[0].lowercased(), value: String(parts[1]).uppercased())
            return fingerprint.bytes == nil ? nil : fingerprint
        }
        guard !fingerprints.isEmpty else { throw .missingFingerprint(mid: mid) }
        let setup = video.attribute("setup") ?? offer.attribute("setup") ?? "actpass"
        guard setup == "actpass" || setup == "active" else { throw .unsupportedSetup(mid: mid, role: setup) }
        return Transport(ufrag: ufrag, pwd: pwd, fingerprints: fingerprints)
    }

    /// ICE-lite and DTLS attributes of an accepted section. Every accepted section repeats them, as
    /// browsers' own answers do; the bundle makes them one transport.
    static func transportAttributes(mid: String, options: AnswerOptions) -> [Attribute] {
        var attributes: [Attribute] = []
        for (i, candidate) in options.candidates.enumerated() {
            attributes.append(Attribute("candidate", candidate.attributeValue(index: i)))
        }
        // Non-trickle (WHIP-style): every candidate is here already (RFC 8840 §4.1).
        attributes.append(Attribute("end-of-candidates"))
        attributes.append(Attribute("ice-ufrag", options.iceUfrag))
        attributes.append(Attribute("ice-pwd", options.icePwd))
        attributes.append(Attribute("fingerprint", "sha-256 " + options.fingerprintSHA256))
        // We are always the DTLS server (RFC 5763 §5: the answerer to actpass may pick passive).
        attributes.append(Attribute("setup", "passive"))
        attributes.append(Attribute("mid", mid))
        return attributes
    }

    static func videoSection(_ offered: MediaDescription, h264: H264Format, options: AnswerOptions)
        -> (MediaDescription, String, [String: UInt8])
    {
        let pt = String(h264.payloadType)
        var m = MediaDescription(
            media: "video", port: 9, proto: offered.proto, formats: [pt], connection: .init())
        m.attributes = transportAttributes(mid: offered.mid!, options: options)
        let ids = acceptExtensions(offered, options: options, into: &m)
        let direction = answerDirection(offered)
        m.attributes.append(Attribute(direction))
        let sending = direction == "sendrecv" || direction == "sendonly"
        if sending { m.attributes.append(Attribute("msid", "river river-video")) }
        m.attributes.append(Attribute("rtcp-mux"))
        m.attributes.append(Attribute("rtpmap", "\(pt) H264/90000"))
        for feedback in ["nack", "nack pli", "ccm fir", "goog-remb"] {
            m.attributes.append(Attribute("rtcp-fb", "\(pt) \(feedback)"))
        }
        m.attributes.append(Attribute("fmtp", "\(pt) \(h264.answerFmtp)"))
        if sending {
            m.attributes.append(Attribute("ssrc", "\(options.sendSSRC) cname:\(options.cname)"))
            m.attributes.append(Attribute("ssrc", "\(options.sendSSRC) msid:river river-video"))
        }
        return (m, direction, ids)
    }

    /// The accepted header extensions (RFC 8285) of a section, their offered ids kept, added to the
    /// answer's section `m`: URI → id.
    static func acceptExtensions(
        _ offered: MediaDescription, options: AnswerOptions, into m: inout MediaDescription
    )
        -> [String: UInt8]
    {
        var ids: [String: UInt8] = [:]
        for value in offered.attributes("extmap") {
            // "<id>[/<direction>] <uri> [attributes]" (RFC 8285 §8)
            let parts = value.split(separator: " ")
            guard parts.count >= 2, let id = parts[0].split(separator: "/").first.flatMap({ UInt8($0) }),
                (1...255).contains(id)
            else { continue }
            let uri = String(parts[1])
            if options.headerExtensions.contains(uri), ids[uri] == nil {
                ids[uri] = id
                m.attributes.append(Attribute("extmap", "\(id) \(uri)"))
            }
        }
        return ids
    }

    /// The answer's direction for an offered section (RFC 3264 §6.1): the offer's, mirrored.
    static func answerDirection(_ offered: MediaDescription) -> String {
        switch offered.attributes.first(where: {
            ["sendrecv", "sendonly", "recvonly", "inactive"].contains($0.name)
        })?
        .name ?? "sendrecv"
        {
        case "sendonly": "recvonly"
        case "recvonly": "sendonly"
        case "inactive": "inactive"
        default: "sendrecv"
        }
    }

    /// The offer's payload type for `opus/48000/2` (RFC 7587 §7: always 48 kHz, 2 channels), if any.
    static func opusPayloadType(_ audio: MediaDescription) -> UInt8? {
        for value in audio.attributes("rtpmap") {
            let parts = value.split(separator: " ", maxSplits: 1)
            guard parts.count == 2, parts[1].lowercased() == "opus/48000/2", let pt = UInt8(parts[0]),
                pt < 128,
                audio.formats.contains(String(parts[0]))
            else { continue }
            return pt
        }
        return nil
    }

    /// The answer's audio section: Opus only, with Chromium's own parameters (an Opus decoder takes
    /// every mode the encoder may pick, and nothing of the offer's text is echoed), NACK so a lost
    /// packet can be asked for again, and the video's msid stream id, so the browser puts both tracks in one stream and
    /// lip-syncs them (RFC 8830 §2).
    static func audioSection(_ offered: MediaDescription, payloadType: UInt8, options: AnswerOptions)
        -> MediaDescription
    {
        let pt = String(payloadType)
        var m = MediaDescription(
            media: "audio", port: 9, proto: offered.proto, formats: [pt], connection: .init())
        m.attributes = transportAttributes(mid: offered.mid!, options: options)
        _ = acceptExtensions(offered, options: options, into: &m)
        m.attributes.append(Attribute("sendrecv"))
        m.attributes.append(Attribute("msid", "river river-audio"))
        m.attributes.append(Attribute("rtcp-mux"))
        m.attributes.append(Attribute("rtpmap", "\(pt) opus/48000/2"))
        m.attributes.append(Attribute("rtcp-fb", "\(pt) nack"))
        m.attributes.append(Attribute("fmtp", "\(pt) minptime=10;useinbandfec=1"))
        m.attributes.append(Attribute("ssrc", "\(options.audioSendSSRC) cname:\(options.cname)"))
        m.attributes.append(Attribute("ssrc", "\(options.audioSendSSRC) msid:river river-audio"))
        return m
    }

    /// A refused section (RFC 3264 §6): port 0, the same media and protocol, one of the offered
    /// formats (the grammar needs one), and its mid so the offerer can match it (RFC 8829 §5.3.1).
    static func rejectedSection(_ offered: MediaDescription) -> MediaDescription {
        var m = MediaDescription(
            media: offered.media, port: 0, proto: offered.proto, formats: Array(offered.formats.prefix(1)),
            connection: .init())
        m.attributes = [Attribute("mid", offered.mid!), Attribute("inactive")]
        return m
    }

    /// `a=ssrc` ids of a section, split into media SSRCs and FID (RTX) SSRCs.
    static func ssrcs(_ section: MediaDescription) -> ([UInt32], [UInt32]) {
        var all: [UInt32] = []
        var seen = Set<UInt32>()
        for value in section.attributes("ssrc") {
            if let id = value.split(separator: " ").first.flatMap({ UInt32($0) }), seen.insert(id).inserted {
                all.append(id)
            }
        }
        var rtx: [UInt32] = []
        for value in section.attributes("ssrc-group") {
            let parts = value.split(separator: " ")
            if parts.first == "FID", parts.count >= 3 { rtx += parts.dropFirst(2).compactMap { UInt32($0) } }
        }
        let rtxSet = Set(rtx)
        return (all.filter { !rtxSet.contains($0) }, rtx)
    }
}
