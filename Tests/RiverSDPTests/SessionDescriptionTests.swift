import Testing

@testable import RiverSDP

@Suite struct SessionDescriptionTests {
    @Test(arguments: Fixture.allCases)
    func browserOfferRoundTripsByteForByte(_ fixture: Fixture) throws {
        let text = try fixture.text
        let offer = try SessionDescription(parsing: text)
        #expect(offer.serialized() == text)
        #expect(try SessionDescription(parsing: offer.serialized()) == offer)
    }

    @Test func parsesTheFieldsOfAChromiumOffer() throws {
        let offer = try Fixture.videoAudio.offer
        #expect(offer.version == 0)
        #expect(offer.origin.username == "-")
        #expect(offer.origin.addressType == "IP4")
        #expect(offer.timings == ["0 0"])
        #expect(offer.attribute("group") == "BUNDLE 0 1")
        #expect(offer.media.map(\.media) == ["video", "audio"])
        #expect(offer.media.map(\.mid) == ["0", "1"])
        let video = offer.media[0]
        #expect(video.proto == "UDP/TLS/RTP/SAVPF")
        #expect(video.port > 0)
        #expect(video.connection?.address == "127.0.0.1")
        #expect(video.has("rtcp-mux"))
        #expect(video.attributes("rtpmap").contains { $0.hasSuffix(" H264/90000") })
        #expect(video.formats.count == video.attributes("rtpmap").count)
    }

    @Test func parsesFirefoxsBundleOnlyDataChannel() throws {
        let offer = try Fixture.firefoxSendrecvDataChannel.offer
        #expect(offer.attribute("group") == "BUNDLE 0 1")
        let application = try #require(offer.media.last)
        #expect(application.media == "application")
        #expect(application.port == 0)
        #expect(application.proto == "UDP/DTLS/SCTP")
        #expect(application.formats == ["webrtc-datachannel"])
        // A property attribute: present, without a value.
        #expect(application.attributes.contains(Attribute("bundle-only")))
        #expect(application.attribute("bundle-only") == "")
        #expect(!offer.media[0].has("bundle-only"))
    }

    @Test func acceptsBareLineFeeds() throws {
        let crlf = try Fixture.videoSendonly.text
        let lf = crlf.replacingOccurrences(of: "\r\n", with: "\n")
        #expect(try SessionDescription(parsing: lf) == SessionDescription(parsing: crlf))
    }

    @Test func dropsEveryStrayCarriageReturnBeforeALineEnd() throws {
        let head = "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\nm=video 9 UDP/TLS/RTP/SAVPF 96\r\n"
        let sdp = try SessionDescription(parsing: head + "a=rtcp-mux\r\r\r\na=mid:0\r\r\n")
        #expect(sdp.media[0].attributes == [Attribute("rtcp-mux"), Attribute("mid", "0")])
        #expect(sdp.serialized() == head + "a=rtcp-mux\r\na=mid:0\r\n")
        #expect(try SessionDescription(parsing: sdp.serialized()) == sdp)
    }

    @Test func keepsRareLinesInOrder() throws {
        let text =
            "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=x\r\ni=info\r\nu=http://example.com\r\nb=AS:100\r\nt=0 0\r\n"
            + "r=7d 1h 0 25h\r\na=tool:t\r\nm=audio 5004/2 RTP/AVP 0\r\ni=media info\r\nb=AS:64\r\na=recvonly\r\n"
        let sdp = try SessionDescription(parsing: text)
        #expect(sdp.serialized() == text)
        #expect(sdp.media[0].portCount == 2)
        #expect(sdp.media[0].otherLines == [.init(type: "i", value: "media info")])
    }

    @Test(arguments: [
        ("", SDPError.missingLine("v")),
        (
            "o=- 1 1 IN IP4 0.0.0.0\r\n",
            .malformed(line: 1, text: "o=- 1 1 IN IP4 0.0.0.0", reason: "SDP must start with v=")
        ),
        (
            "v=0\r\no=- 1 1 IN IP4\r\ns=-\r\nt=0 0\r\n",
            .malformed(line: 2, text: "o=- 1 1 IN IP4", reason: "o= needs 6 fields, got 5")
        ),
        ("v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\n", .missingLine("t")),
        ("v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\nt=0 0\r\n", .missingLine("s")),
        ("v=1\r\n", .malformed(line: 1, text: "v=1", reason: "only SDP version 0 exists")),
        (
            "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\nm=video x UDP/TLS/RTP/SAVPF 96\r\n",
            .malformed(
                line: 5, text: "m=video x UDP/TLS/RTP/SAVPF 96",
                reason: "m= port x is not a number in 0…65535")
        ),
        (
            "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\nm=video 9\r\n",
            .malformed(line: 5, text: "m=video 9", reason: "m= needs <media> <port> <proto> <fmt>…")
        ),
        (
            "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\nx=what\r\n",
            .malformed(line: 5, text: "x=what", reason: "unknown line type x=")
        ),
        (
            "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\nm=video 9 RTP/AVP 96\r\nt=0 0\r\n",
            .malformed(line: 6, text: "t=0 0", reason: "t= is not allowed inside an m= section")
        ),
        (
            "GET / HTTP/1.1\r\n",
            .malformed(line: 1, text: "GET / HTTP/1.1", reason: "expected <letter>=<value>")
        ),
    ])
    func malformedTextGivesALineAndReason(_ text: String, _ expected: SDPError) {
        #expect(throws: expected) { try SessionDescription(parsing: text) }
    }

    @Test func errorDescriptionsNameTheLine() {
        let error = SDPError.malformed(line: 5, text: "m=video x", reason: "m= port x is not a number")
        #expect(error.description.contains("line 5"))
        #expect(error.description.contains("m=video x"))
    }
}
