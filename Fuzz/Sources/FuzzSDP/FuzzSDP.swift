import FuzzDriver
import RiverSDP

/// What `river serve` answers with, fixed so runs are reproducible.
private let options = AnswerOptions(
    iceUfrag: "rvUf", icePwd: "riverpasswordriverpass",
    fingerprintSHA256: Array(repeating: "AB", count: 32).joined(separator: ":"),
    candidates: HostCandidate.list(addresses: ["127.0.0.1", "::1"], port: 40_000), dataChannels: true,
    audio: true, sendSSRC: 0x1234_5678, audioSendSSRC: 0x0A0D_10AA)

/// libFuzzer entry: any text either parses as SDP or throws a typed error. What parses is written
/// as text that parses back to the same fields and writes identically. Whatever river answers is
/// SDP it parses itself, with an accepted video section; accepted sections have a port, are all in
/// the answer's BUNDLE group when there is one, and none carries `a=bundle-only` (RFC 9143 §7.3); an
/// accepted audio section is sendrecv Opus alone, on a port.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzSDP(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let text = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
    guard let offer = try? SessionDescription(parsing: text) else { return 0 }
    // The writer puts rare lines (i=, k=, r=, z=, …) in RFC 8866 §5 order, so an input that has
    // them out of order reads back with `otherLines` reordered; the text written must not change.
    let written = offer.serialized()
    guard let again = try? SessionDescription(parsing: written) else {
        preconditionFailure("the SDP writer produced text its parser refuses")
    }
    precondition(again.serialized() == written, "SDP write → parse → write is not stable")
    precondition(withoutRareLines(again) == withoutRareLines(offer), "SDP round trip changed a field")
    precondition(sameByType(again.otherLines, offer.otherLines), "SDP round trip changed a rare line")
    for (a, b) in zip(again.media, offer.media) {
        precondition(sameByType(a.otherLines, b.otherLines), "SDP round trip changed a rare media line")
    }

    guard let answer = try? OfferAnswer.answer(offer: offer, options: options) else { return 0 }
    guard let parsed = try? SessionDescription(parsing: answer.sdp) else {
        preconditionFailure("river's answer is not SDP its parser accepts")
    }
    precondition(parsed.media.count == offer.media.count, "the answer has a section per offered one")
    precondition(parsed.media.contains { $0.media == "video" && $0.port == 9 }, "no accepted video")
    precondition(!parsed.media.contains { $0.has("bundle-only") }, "bundle-only in an answer")
    let bundle = parsed.attribute("group").map { $0.split(separator: " ").dropFirst().map(String.init) }
    for section in parsed.media where section.port != 0 {
        if let bundle { precondition(bundle.contains(section.mid ?? ""), "accepted mid outside BUNDLE") }
    }
    if let mid = answer.negotiated.dataChannelMid {
        precondition(
            parsed.media.contains { $0.mid == mid && $0.media == "application" && $0.port == 9 },
            "accepted data channel without a port")
    }
    if let audio = answer.negotiated.audio {
        precondition(
            parsed.media.contains {
                $0.mid == audio.mid && $0.media == "audio" && $0.port == 9
                    && $0.formats == [String(audio.payloadType)]
                    && $0.has("sendrecv")
            }, "accepted audio without a port, Opus alone, or sendrecv")
        precondition(audio.localSSRC != options.sendSSRC, "audio sent from the video's SSRC")
    }
    return 0
}

private func withoutRareLines(_ description: SessionDescription) -> SessionDescription {
    var d = description
    d.otherLines = []
    for i in d.media.indices { d.media[i].otherLines = [] }
    return d
}

/// The same lines of each type in the same order (the order between types is the writer's).
private func sameByType(_ a: [SessionDescription.Line], _ b: [SessionDescription.Line]) -> Bool {
    Set(a.map(\.type) + b.map(\.type)).allSatisfy { type in
        a.filter { $0.type == type } == b.filter { $0.type == type }
    }
}

/// The executable's entry point (see `runLibFuzzer`).
@_cdecl("FuzzSDP_main")
public func FuzzSDPMain(_ argc: Int32, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> Int32 {
    runLibFuzzer(argc, argv) { data, size in fuzzSDP(data!, size) }
}
