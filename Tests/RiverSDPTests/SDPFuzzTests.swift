import RiverTestSupport
import Testing

@testable import RiverSDP

/// Mangled real offers must give an answer or a typed error, never a crash.
@Suite struct SDPFuzzTests {
    /// FuzzSDP's finding (kept as Fuzz/make_seeds.py's `cr-inside-line` seed): a CR inside a line
    /// went into the m= proto and was written back before the line end, where the parser drops
    /// stray CRs, so write → parse → write was not stable. A CR inside a line is now refused.
    @Test func crInsideALineIsRefused() {
        let finding = "v=0\no=- 3 2 I 4 2\ns=\nt=\nm=D 4 \r "
        #expect(throws: SDPError.malformed(line: 5, text: "m=D 4 \r ", reason: "CR inside a line")) {
            try SessionDescription(parsing: finding)
        }
    }

    @Test(arguments: Fixture.allCases)
    func mangledOffersNeverCrash(_ fixture: Fixture) throws {
        let lines = try fixture.text.split(separator: "\r\n").map(String.init)
        var rng = SplitMix64(seed: UInt64(fixture.rawValue.utf8.count))
        let junk = [
            "", "/", ":", " ", "=", "a=", "m=", "0", "65536", "x/y", "\u{301}", "96 ", "a=extmap:/ x",
            "m=video / UDP/TLS/RTP/SAVPF 96", "a=fmtp:102 =;;=1", "a=rtpmap:102", "a=group:BUNDLE",
        ]
        var answered = 0
        var refused = 0
        for _ in 0..<250 {
            var mangled = lines
            for _ in 0..<(1 + rng.next() % 4) {
                let i = Int(rng.next() % UInt64(mangled.count))
                switch rng.next() % 4 {
                case 0: mangled.remove(at: i)
                case 1: mangled.insert(junk[Int(rng.next() % UInt64(junk.count))], at: i)
                case 2:
                    // Cut a line short, or splice junk into it.
                    let line = mangled[i]
                    let cut = line.index(line.startIndex, offsetBy: Int(rng.next() % UInt64(line.count + 1)))
                    mangled[i] = String(line[..<cut]) + junk[Int(rng.next() % UInt64(junk.count))]
                default: mangled.swapAt(i, Int(rng.next() % UInt64(mangled.count)))
                }
                if mangled.isEmpty { mangled = ["v=0"] }
            }
            do {
                let answer = try OfferAnswer.answer(
                    offer: mangled.joined(separator: "\r\n"), options: testOptions(dataChannels: true))
                // Whatever we answer must itself be valid SDP with a video section.
                let reparsed = try SessionDescription(parsing: answer.sdp)
                #expect(reparsed.media.contains { $0.media == "video" && $0.port == 9 })
                answered += 1
            } catch {
                #expect(!error.description.isEmpty)
                refused += 1
            }
        }
        #expect(answered + refused == 250)
        #expect(refused > 0)
    }
}
