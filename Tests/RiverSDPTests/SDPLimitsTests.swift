import Testing

@testable import RiverSDP

/// Hostile offers: the parser's caps refuse them with the line that crossed, and an offer inside
/// the caps with every format and attribute the caps allow is still answered.
@Suite struct SDPLimitsTests {
    /// The Chromium offer with `m=video`'s formats and attributes replaced by many bogus ones,
    /// the H264 format river accepts last.
    func bloated(formats: Int, attributes: Int) throws -> String {
        let offer = try Fixture.videoSendrecv.text
        var lines = offer.components(separatedBy: "\r\n")
        let video = try #require(lines.firstIndex { $0.hasPrefix("m=video") })
        let parts = lines[video].split(separator: " ")
        let h264 = try #require(
            lines.first {
                $0.hasPrefix("a=fmtp:") && $0.contains("packetization-mode=1") && $0.contains("42e01f")
            }
        ).dropFirst("a=fmtp:".count).prefix { $0 != " " }
        let bogus = (0..<formats - 1).map { "\(200 + $0)" }
        lines[video] = (parts.prefix(3) + bogus.map { Substring($0) } + [h264]).joined(separator: " ")
        let extra = (0..<attributes).map { "a=rtpmap:\(200 + $0 % max(formats - 1, 1)) VP8/90000" }
        lines.insert(contentsOf: extra, at: video + 1)
        return lines.joined(separator: "\r\n")
    }

    @Test func anOfferAtTheCapsIsStillAnswered() throws {
        let text = try bloated(formats: SessionDescription.Limits.formatsPerSection, attributes: 800)
        let answer = try OfferAnswer.answer(offer: text, options: testOptions())
        #expect(answer.negotiated.videoPayloadType < 128)
    }

    @Test func tooManyFormatsAreRefusedWithTheLine() throws {
        let text = try bloated(formats: SessionDescription.Limits.formatsPerSection + 1, attributes: 0)
        #expect {
            try OfferAnswer.answer(offer: text, options: testOptions())
        } throws: { error in
            guard case .malformed(_, _, let reason) = error as? SDPError else { return false }
            return reason.contains("formats")
        }
    }

    @Test func tooManyAttributesAreRefused() throws {
        let text = try bloated(formats: 2, attributes: SessionDescription.Limits.attributesPerSection + 1)
        #expect {
            try OfferAnswer.answer(offer: text, options: testOptions())
        } throws: { error in
            guard case .malformed(_, _, let reason) = error as? SDPError else { return false }
            return reason.contains("attributes")
        }
    }

    @Test func tooManySectionsAreRefused() throws {
        var text = try Fixture.videoSendrecv.text
        for i in 0..<SessionDescription.Limits.mediaSections {
            text += "m=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=mid:x\(i)\r\n"
        }
        #expect(throws: SDPError.self) { try SessionDescription(parsing: text) }
    }

    @Test func theNoH264ErrorStaysShort() {
        let error = SDPError.noCompatibleH264(mid: "0", offered: (0..<500).map { "VP8/90000 \($0)" })
        #expect(error.description.count < 1200, "\(error.description.count) characters")
        #expect(error.description.contains("and 488 more"))
    }
}
