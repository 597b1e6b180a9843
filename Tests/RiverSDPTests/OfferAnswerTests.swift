import Testing

@testable import RiverSDP

@Suite struct OfferAnswerTests {
    /// Checks what every answer river gives a browser's offer must hold, and returns it re-parsed.
    func checkCommon(_ answer: Answer, offer: SessionDescription, options: AnswerOptions) throws
        -> SessionDescription
    {
        let sdp = try SessionDescription(parsing: answer.sdp)
        #expect(sdp.attribute("ice-lite") == "")
        #expect(sdp.media.count == offer.media.count)
        #expect(sdp.media.map(\.mid) == offer.media.map(\.mid))
        #expect(sdp.media.map(\.media) == offer.media.map(\.media))
        let video = try #require(sdp.media.first { $0.media == "video" })
        #expect(video.port == 9)
        #expect(video.formats == [String(answer.negotiated.videoPayloadType)])
        #expect(video.attribute("setup") == "passive")
        #expect(video.attribute("ice-ufrag") == options.iceUfrag)
        #expect(video.attribute("ice-pwd") == options.icePwd)
        #expect(video.attribute("fingerprint") == "sha-256 " + options.fingerprintSHA256)
        #expect(video.has("rtcp-mux"))
        #expect(video.attributes("candidate").count == options.candidates.count)
        #expect(video.attributes("candidate")[0].hasSuffix("127.0.0.1 40000 typ host"))
        #expect(video.has("end-of-candidates"))
        let pt = answer.negotiated.videoPayloadType
        #expect(video.attributes("rtpmap") == ["\(pt) H264/90000"])
        #expect(
            Set(video.attributes("rtcp-fb")) == [
                "\(pt) nack", "\(pt) nack pli", "\(pt) ccm fir", "\(pt) goog-remb",
            ])
        let fmtp = try #require(video.attribute("fmtp"))
        #expect(fmtp.contains("packetization-mode=1"))
        #expect(fmtp.contains("level-asymmetry-allowed=1"))
        #expect(fmtp.contains("profile-level-id=\(answer.negotiated.h264ProfileLevelID)"))

        // The payload type is the offer's own, and the offer describes it as that H264 format.
        let offeredVideo = try #require(offer.media.first { $0.mid == answer.negotiated.videoMid })
        #expect(offeredVideo.attributes("rtpmap").contains("\(pt) H264/90000"))
        let offeredFmtp = try #require(offeredVideo.attributes("fmtp").first { $0.hasPrefix("\(pt) ") })
        #expect(offeredFmtp.contains("packetization-mode=1"))
        #expect(offeredFmtp.contains("profile-level-id=\(answer.negotiated.h264ProfileLevelID)"))

        // Remote transport parameters come from the offer: media level, else session level
        // (Firefox gives its fingerprint once, for the session).
        #expect(answer.negotiated.remoteICEUfrag == offeredVideo.attribute("ice-ufrag"))
        #expect(answer.negotiated.remoteICEPwd == offeredVideo.attribute("ice-pwd"))
        let fingerprint = try #require(answer.negotiated.remoteFingerprints.first)
        #expect(fingerprint.algorithm == "sha-256")
        #expect(fingerprint.bytes?.count == 32)
        #expect(
            (offeredVideo.attribute("fingerprint") ?? offer.attribute("fingerprint"))
                == "sha-256 \(fingerprint.value)")

        // bundle-only is an offerer's request; an answer never carries it (RFC 9143 §7.3).
        #expect(!sdp.media.contains { $0.has("bundle-only") })

        // Every rejected section has port 0 and stays out of the bundle.
        let bundle = try #require(sdp.attribute("group"))
        for section in sdp.media where section.port == 0 {
            #expect(answer.negotiated.rejectedMids.contains(section.mid!))
            #expect(!bundle.split(separator: " ").contains(Substring(section.mid!)))
        }
        #expect(bundle.split(separator: " ").contains(Substring(answer.negotiated.videoMid)))
        return sdp
    }

    @Test func answersAChromiumVideoOnlyOffer() throws {
        let offer = try Fixture.videoSendonly.offer
        let options = testOptions()
        let answer = try OfferAnswer.answer(offer: offer, options: options)
        let sdp = try checkCommon(answer, offer: offer, options: options)
        #expect(sdp.attribute("group") == "BUNDLE 0")
        #expect(answer.negotiated.videoMid == "0")
        #expect(answer.negotiated.videoDirection == "recvonly")
        #expect(sdp.media[0].has("recvonly"))
        #expect(sdp.media[0].attributes("ssrc").isEmpty)
        #expect(answer.negotiated.localVideoSSRC == nil)
        #expect(answer.negotiated.rejectedMids.isEmpty)
        #expect(!answer.negotiated.dataChannelAccepted)

        // Chromium announces one media SSRC and its RTX partner in an FID group.
        let group = try #require(offer.media[0].attribute("ssrc-group"))
        let ids = group.split(separator: " ").dropFirst().compactMap { UInt32($0) }
        #expect(answer.negotiated.remoteVideoSSRCs == [ids[0]])
        #expect(answer.negotiated.remoteRTXSSRCs == [ids[1]])

        // Accepted header extensions keep the offer's ids; others (e.g. transport-cc) are left out.
        let extmaps = offer.media[0].attributes("extmap")
        for (uri, id) in answer.negotiated.headerExtensionIDs {
            #expect(extmaps.contains("\(id) \(uri)"))
        }
        #expect(answer.negotiated.headerExtensionIDs["urn:ietf:params:rtp-hdrext:sdes:mid"] != nil)
        #expect(sdp.media[0].attributes("extmap").count == answer.negotiated.headerExtensionIDs.count)
        #expect(!sdp.media[0].attributes("extmap").contains { $0.contains("transport-wide-cc") })
    }

    @Test func rejectsAudioWithPortZeroAndStillAnswers() throws {
        let offer = try Fixture.videoAudio.offer
        let options = testOptions()
        let answer = try OfferAnswer.answer(offer: offer, options: options)
        let sdp = try checkCommon(answer, offer: offer, options: options)
        let audio = sdp.media[1]
        #expect(audio.media == "audio")
        #expect(audio.port == 0)
        #expect(audio.mid == "1")
        #expect(audio.formats.count == 1)
        #expect(audio.attributes("candidate").isEmpty)
        #expect(answer.negotiated.rejectedMids == ["1"])
        #expect(sdp.attribute("group") == "BUNDLE 0")
    }

    /// With audio on, Chromium's sendrecv Opus section is accepted beside video and the data
    /// channel: Opus only, NACK, our SSRC, and the video's msid stream, so the browser syncs them.
    @Test func acceptsOpusAudioWhenAskedAndSendsItBackInTheVideosStream() throws {
        let offer = try Fixture.sendrecvVideoAudioDataChannel.offer
        let options = testOptions(dataChannels: true, audio: true)
        let answer = try OfferAnswer.answer(offer: offer, options: options)
        let sdp = try checkCommon(answer, offer: offer, options: options)
        let negotiated = try #require(answer.negotiated.audio)
        let offeredAudio = try #require(offer.media.first { $0.media == "audio" })
        #expect(negotiated.mid == offeredAudio.mid)
        #expect(negotiated.payloadType == 111)
        #expect(negotiated.localSSRC == options.audioSendSSRC)
        #expect(negotiated.remoteSSRCs == OfferAnswer.ssrcs(offeredAudio).0)
        #expect(!negotiated.remoteSSRCs.isEmpty)
        #expect(answer.negotiated.rejectedMids.isEmpty)
        let audio = try #require(sdp.media.first { $0.media == "audio" })
        #expect(audio.port == 9)
        #expect(audio.formats == ["111"])
        #expect(audio.attributes("rtpmap") == ["111 opus/48000/2"])
        #expect(audio.attributes("rtcp-fb") == ["111 nack"])
        #expect(audio.has("sendrecv") && audio.has("rtcp-mux"))
        #expect(audio.attribute("setup") == "passive")
        #expect(audio.attributes("ssrc").contains("\(options.audioSendSSRC) msid:river river-audio"))
        // One stream id for both tracks (RFC 8830): the browser lip-syncs tracks of one stream.
        let video = try #require(sdp.media.first { $0.media == "video" })
        #expect(video.attribute("msid")?.split(separator: " ").first == "river")
        #expect(audio.attribute("msid")?.split(separator: " ").first == "river")
        #expect(audio.attributes("extmap").contains { $0.hasSuffix("ssrc-audio-level") })
        #expect(!audio.attributes("extmap").contains { $0.contains("transport-wide-cc") })
        let group = try #require(sdp.attribute("group"))
        #expect(
            Set(group.split(separator: " ").dropFirst().map(String.init)) == Set(sdp.media.compactMap(\.mid)))
    }

    /// An audio section without Opus, or that river would not send back, is still refused, not fatal.
    @Test func refusesAudioWithoutOpusEvenWhenAudioIsOn() throws {
        let text = try Fixture.videoAudio.text
            .replacingOccurrences(of: "a=rtpmap:111 opus/48000/2", with: "a=rtpmap:111 speex/16000")
        let offer = try SessionDescription(parsing: text)
        let answer = try OfferAnswer.answer(offer: offer, options: testOptions(audio: true))
        #expect(answer.negotiated.audio == nil)
        #expect(answer.negotiated.rejectedMids == ["1"])
        // Audio the browser only sends has nowhere to go: refused too.
        let sendonlyOffer = try Fixture.sendrecvAudioDataChannel.offer
        let sendonly = try OfferAnswer.answer(offer: sendonlyOffer, options: testOptions(audio: true))
        #expect(sendonly.negotiated.audio == nil)
        let audioMid = try #require(sendonlyOffer.media.first { $0.media == "audio" }?.mid)
        #expect(sendonly.negotiated.rejectedMids.contains(audioMid))
    }

    @Test func acceptsADataChannelWhenAsked() throws {
        let offer = try Fixture.videoDataChannel.offer
        let options = testOptions(dataChannels: true)
        let answer = try OfferAnswer.answer(offer: offer, options: options)
        let sdp = try checkCommon(answer, offer: offer, options: options)
        let application = sdp.media[1]
        #expect(application.port == 9)
        #expect(application.proto == "UDP/DTLS/SCTP")
        #expect(application.formats == ["webrtc-datachannel"])
        #expect(application.attribute("sctp-port") == "5000")
        #expect(application.attribute("max-message-size") == "262144")
        #expect(application.attribute("setup") == "passive")
        #expect(sdp.attribute("group") == "BUNDLE 0 1")
        #expect(answer.negotiated.dataChannelMid == "1")
        #expect(answer.negotiated.remoteSCTPPort == UInt16(offer.media[1].attribute("sctp-port")!))
        #expect(answer.negotiated.remoteMaxMessageSize == Int(offer.media[1].attribute("max-message-size")!))
    }

    @Test func rejectsADataChannelWhenNotAsked() throws {
        let offer = try Fixture.videoDataChannel.offer
        let options = testOptions(dataChannels: false)
        let answer = try OfferAnswer.answer(offer: offer, options: options)
        let sdp = try checkCommon(answer, offer: offer, options: options)
        #expect(sdp.media[1].port == 0)
        #expect(sdp.media[1].formats == ["webrtc-datachannel"])
        #expect(!answer.negotiated.dataChannelAccepted)
        #expect(answer.negotiated.remoteSCTPPort == nil)
    }

    @Test func answersSendrecvWithOurOwnStream() throws {
        let offer = try Fixture.videoSendrecv.offer
        let options = testOptions()
        let answer = try OfferAnswer.answer(offer: offer, options: options)
        let sdp = try checkCommon(answer, offer: offer, options: options)
        #expect(answer.negotiated.videoDirection == "sendrecv")
        #expect(sdp.media[0].has("sendrecv"))
        #expect(answer.negotiated.localVideoSSRC == 0x1234_5678)
        #expect(sdp.media[0].attributes("ssrc").contains("\(0x1234_5678) cname:river"))
        #expect(sdp.media[0].attribute("msid") != nil)
    }

    @Test func answersTheFullPageOffer() throws {
        let offer = try Fixture.sendrecvAudioDataChannel.offer
        let options = testOptions(dataChannels: true)
        let answer = try OfferAnswer.answer(offer: offer, options: options)
        let sdp = try checkCommon(answer, offer: offer, options: options)
        #expect(sdp.media.map(\.port) == [9, 0, 9])
        #expect(sdp.attribute("group") == "BUNDLE 0 2")
        #expect(answer.negotiated.rejectedMids == ["1"])
        #expect(answer.negotiated.dataChannelMid == "2")
        #expect(answer.negotiated.videoDirection == "sendrecv")
    }

    // MARK: Firefox (max-bundle: the data channel is port 0 with a=bundle-only)

    @Test func acceptsFirefoxsBundleOnlyDataChannel() throws {
        let offer = try Fixture.firefoxSendrecvDataChannel.offer
        let offered = try #require(offer.media.first { $0.media == "application" })
        #expect(offered.port == 0 && offered.has("bundle-only"))
        let options = testOptions(dataChannels: true)
        let answer = try OfferAnswer.answer(offer: offer, options: options)
        let sdp = try checkCommon(answer, offer: offer, options: options)

        // The data channel rides the bundle: a real port, river's SCTP parameters, in the group.
        #expect(sdp.media.map(\.port) == [9, 9])
        let application = sdp.media[1]
        #expect(application.proto == "UDP/DTLS/SCTP")
        #expect(application.formats == ["webrtc-datachannel"])
        #expect(application.attribute("sctp-port") == "5000")
        #expect(application.attribute("max-message-size") == "262144")
        #expect(application.attribute("setup") == "passive")
        #expect(application.attribute("mid") == offered.mid)
        #expect(sdp.attribute("group") == "BUNDLE 0 1")
        #expect(answer.negotiated.dataChannelMid == offered.mid)
        #expect(answer.negotiated.remoteSCTPPort == UInt16(offered.attribute("sctp-port")!))
        #expect(answer.negotiated.remoteMaxMessageSize == Int(offered.attribute("max-message-size")!))
        #expect(answer.negotiated.rejectedMids.isEmpty)

        // The H264 video: Firefox lists VP8 and VP9 first; river takes its first pm=1 H264.
        #expect(answer.negotiated.videoMid == "0")
        #expect(answer.negotiated.videoDirection == "sendrecv")
        #expect(answer.negotiated.localVideoSSRC == options.sendSSRC)
        let firstH264 = try #require(
            offer.media[0].formats.first { pt in
                offer.media[0].attributes("rtpmap").contains("\(pt) H264/90000")
                    && offer.media[0].attributes("fmtp").contains {
                        $0.hasPrefix("\(pt) ") && $0.contains("packetization-mode=1")
                    }
            })
        #expect(String(answer.negotiated.videoPayloadType) == firstH264)
        let group = try #require(offer.media[0].attribute("ssrc-group"))
        let ids = group.split(separator: " ").dropFirst().compactMap { UInt32($0) }
        #expect(answer.negotiated.remoteVideoSSRCs == [ids[0]])
        #expect(answer.negotiated.remoteRTXSSRCs == [ids[1]])
    }

    @Test func rejectsFirefoxsDataChannelWhenNotAsked() throws {
        let offer = try Fixture.firefoxSendrecvDataChannel.offer
        let options = testOptions(dataChannels: false)
        let answer = try OfferAnswer.answer(offer: offer, options: options)
        let sdp = try checkCommon(answer, offer: offer, options: options)
        #expect(sdp.media.map(\.port) == [9, 0])
        #expect(sdp.attribute("group") == "BUNDLE 0")
        #expect(answer.negotiated.rejectedMids == ["1"])
        #expect(!answer.negotiated.dataChannelAccepted)
    }

    /// Firefox's offer with `transform` applied to its text.
    func editedFirefoxOffer(_ transform: (String) -> String) throws -> String {
        transform(try Fixture.firefoxSendrecvDataChannel.text)
    }

    @Test func portZeroWithoutBundleOnlyIsStillRejected() throws {
        // Port 0 and no bundle-only: the offerer disabled the section (RFC 9143 §7.3).
        let text = try editedFirefoxOffer { lines($0) { $0 == "a=bundle-only" } }
        let options = testOptions(dataChannels: true)
        let offer = try SessionDescription(parsing: text)
        let answer = try OfferAnswer.answer(offer: offer, options: options)
        let sdp = try checkCommon(answer, offer: offer, options: options)
        #expect(sdp.media.map(\.port) == [9, 0])
        #expect(sdp.attribute("group") == "BUNDLE 0")
        #expect(answer.negotiated.rejectedMids == ["1"])
        #expect(!answer.negotiated.dataChannelAccepted)
        #expect(answer.negotiated.remoteSCTPPort == nil)
    }

    @Test(arguments: ["a=group:BUNDLE 0", "a=group:BUNDLE 1", ""])
    func bundleOnlyOutsideTheVideosBundleIsRejected(_ group: String) throws {
        // bundle-only outside a BUNDLE group is discarded (RFC 8843 §6), leaving a disabled
        // section; in a group without the video it would need a second transport river lacks.
        let text = try editedFirefoxOffer {
            $0.replacingOccurrences(of: "a=group:BUNDLE 0 1\r\n", with: group.isEmpty ? "" : group + "\r\n")
        }
        #expect(text != (try Fixture.firefoxSendrecvDataChannel.text))
        let answer = try OfferAnswer.answer(offer: text, options: testOptions(dataChannels: true))
        #expect(answer.description.media.map(\.port) == [9, 0])
        #expect(answer.negotiated.rejectedMids == ["1"])
        #expect(!answer.negotiated.dataChannelAccepted)
        #expect(answer.description.attribute("group") == (group == "a=group:BUNDLE 0" ? "BUNDLE 0" : nil))
    }

    @Test(arguments: [("42e0", "42e01f"), ("4200", "42001f"), ("4d00", "4d001f")])
    func negotiatesTheConfiguredProfile(_ profile: String, _ expected: String) throws {
        let offer = try Fixture.videoSendonly.offer
        let answer = try OfferAnswer.answer(offer: offer, options: testOptions(profiles: [profile]))
        #expect(answer.negotiated.h264ProfileLevelID == expected)
        let fmtp = try #require(
            offer.media[0].attributes("fmtp").first { $0.hasPrefix("\(answer.negotiated.videoPayloadType) ") }
        )
        #expect(fmtp.contains("packetization-mode=1"))
        #expect(fmtp.contains("profile-level-id=\(expected)"))
    }

    @Test func prefersTheOffersOrder() throws {
        // Chromium lists 42001f first; with every profile acceptable the first offered pm=1 wins.
        let offer = try Fixture.videoSendonly.offer
        let answer = try OfferAnswer.answer(offer: offer, options: testOptions())
        let firstH264 = try #require(
            offer.media[0].formats.first { pt in
                offer.media[0].attributes("fmtp").contains {
                    $0.hasPrefix("\(pt) ") && $0.contains("packetization-mode=1")
                }
                    && offer.media[0].attributes("rtpmap").contains("\(pt) H264/90000")
            })
        #expect(String(answer.negotiated.videoPayloadType) == firstH264)
    }

    @Test func natOneToOneAnnouncesThePublicAddress() throws {
        let list = HostCandidate.list(addresses: ["10.0.0.5"], publicAddresses: ["203.0.113.7"], port: 3478)
        #expect(list == [HostCandidate(address: "203.0.113.7", port: 3478)])
        var options = testOptions()
        options.candidates = list + HostCandidate.list(addresses: ["10.0.0.5"], port: 3478)
        let answer = try OfferAnswer.answer(offer: Fixture.videoSendonly.offer, options: options)
        let candidates = answer.description.media[0].attributes("candidate")
        #expect(candidates.count == 2)
        #expect(candidates[0] == "1 1 udp 2130706431 203.0.113.7 3478 typ host")
        // RFC 8445 §5.1.2.1: the earlier address has the higher priority.
        #expect(candidates[1].contains(" 2130706175 10.0.0.5 3478 typ host"))
    }

    // MARK: offers river cannot answer

    /// The video-only offer with `transform` applied to its text.
    func editedOffer(_ transform: (String) -> String) throws -> String {
        transform(try Fixture.videoSendonly.text)
    }

    func lines(_ text: String, without predicate: (Substring) -> Bool) -> String {
        text.split(separator: "\r\n").filter { !predicate($0) }.joined(separator: "\r\n") + "\r\n"
    }

    @Test func offerWithoutH264IsRefusedWithTheOfferedCodecs() throws {
        let text = try editedOffer { lines($0) { $0.contains("H264") || $0.contains("packetization-mode") } }
        #expect {
            try OfferAnswer.answer(offer: text, options: testOptions())
        } throws: { error in
            guard case SDPError.noCompatibleH264(let mid, let offered) = error else { return false }
            return mid == "0" && offered.contains("VP8/90000") && !offered.contains { $0.hasPrefix("H264") }
        }
    }

    @Test func offerWithOnlyPacketizationModeZeroIsRefused() throws {
        let text = try editedOffer { lines($0) { $0.contains("packetization-mode=1") } }
        let error = try #require(throws: SDPError.self) {
            try OfferAnswer.answer(offer: text, options: testOptions())
        }
        #expect(error.description.contains("packetization-mode=1"))
        #expect(error.description.contains("H264/90000 pm=0 42001f"))
    }

    @Test func offerWithoutVideoIsRefused() throws {
        var offer = try Fixture.videoAudio.offer
        offer.media.removeFirst()
        offer.attributes = offer.attributes.filter { $0.name != "group" }
        #expect(throws: SDPError.noVideo) { try OfferAnswer.answer(offer: offer, options: testOptions()) }
    }

    @Test func offerWithRejectedVideoIsRefused() throws {
        var offer = try Fixture.videoSendonly.offer
        offer.media[0].port = 0
        #expect(throws: SDPError.noVideo) { try OfferAnswer.answer(offer: offer, options: testOptions()) }
    }

    @Test func rtcpMuxIsRequired() throws {
        let text = try editedOffer { lines($0) { $0 == "a=rtcp-mux" } }
        #expect(throws: SDPError.rtcpMuxRequired(mid: "0")) {
            try OfferAnswer.answer(offer: text, options: testOptions())
        }
    }

    @Test func fingerprintIsRequired() throws {
        let text = try editedOffer { lines($0) { $0.hasPrefix("a=fingerprint") } }
        #expect(throws: SDPError.missingFingerprint(mid: "0")) {
            try OfferAnswer.answer(offer: text, options: testOptions())
        }
    }

    @Test func iceCredentialsAreRequired() throws {
        let text = try editedOffer { lines($0) { $0.hasPrefix("a=ice-pwd") } }
        #expect(throws: SDPError.missingICECredentials(mid: "0")) {
            try OfferAnswer.answer(offer: text, options: testOptions())
        }
    }

    @Test func passiveOffererIsRefused() throws {
        let text = try editedOffer { $0.replacingOccurrences(of: "a=setup:actpass", with: "a=setup:passive") }
        #expect(throws: SDPError.unsupportedSetup(mid: "0", role: "passive")) {
            try OfferAnswer.answer(offer: text, options: testOptions())
        }
    }

    @Test func sectionWithoutMidIsRefused() throws {
        let text = try editedOffer { lines($0) { $0.hasPrefix("a=mid") } }
        #expect(throws: SDPError.missingMid(media: "video")) {
            try OfferAnswer.answer(offer: text, options: testOptions())
        }
    }

    @Test func plainRTPVideoIsRefused() throws {
        let text = try editedOffer { $0.replacingOccurrences(of: "UDP/TLS/RTP/SAVPF", with: "RTP/AVP") }
        #expect(throws: SDPError.unsupportedProtocol(mid: "0", proto: "RTP/AVP")) {
            try OfferAnswer.answer(offer: text, options: testOptions())
        }
    }

    @Test func garbageIsRefusedAsMalformed() {
        #expect {
            try OfferAnswer.answer(offer: "{\"type\":\"offer\"}", options: testOptions())
        } throws: { error in
            guard case SDPError.malformed(line: 1, _, _) = error else { return false }
            return true
        }
    }
}

@Suite struct FingerprintTests {
    @Test func formatsAndParsesDigests() {
        let digest: [UInt8] = [0x00, 0x0A, 0xFF, 0x91]
        let fingerprint = Fingerprint(algorithm: "sha-256", digest: digest)
        #expect(fingerprint.value == "00:0A:FF:91")
        #expect(fingerprint.bytes == digest)
        #expect(Fingerprint(algorithm: "sha-256", value: "0:0A").bytes == nil)
        #expect(Fingerprint(algorithm: "sha-256", value: "ZZ").bytes == nil)
    }
}
