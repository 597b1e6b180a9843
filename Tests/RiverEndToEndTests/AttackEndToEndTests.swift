import Foundation
import Testing

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif
#if canImport(Glibc)
    import Glibc
#endif

/// Attacks on a live `river up` while an honest Chromium session runs beside them: a WHIP flood,
/// garbage on the media ports (UDP and ICE-TCP) and silent TCP connections. The honest session
/// keeps its video and results, the bounds hold, and every refusal shows in `/metrics`.
@Suite(.serialized) struct AttackEndToEndTests {
    /// `key=value` from serve's ready line, as `up` passes it on.
    static func serveField(_ key: String, in output: String) -> Int? {
        guard let line = output.split(separator: "\n").first(where: { $0.contains("river serve: ") }) else {
            return nil
        }
        return line.split(separator: " ").first { $0.hasPrefix("\(key)=") }.flatMap {
            Int($0.dropFirst(key.count + 1))
        }
    }

    static func metric(_ text: String, _ name: String, reason: String) -> Double {
        text.split(separator: "\n").first { $0.hasPrefix("\(name){") && $0.contains("reason=\"\(reason)\"") }
            .flatMap { Double($0.split(separator: " ").last ?? "") } ?? 0
    }

    @Test func anHonestSessionKeepsItsResultsThroughAFloodAndGarbage() async throws {
        let up = try await UpProcess(["--delay", "2s", "--max-sessions", "4", "--max-offers-per-second", "5"])
        defer { up.stop() }
        let udp = try #require(Self.serveField("udp", in: up.child.output), "\(up.child.output)")
        let tcp = try #require(Self.serveField("tcp", in: up.child.output), "\(up.child.output)")
        let offer = try String(
            contentsOf: repositoryRoot.appendingPathComponent(
                "Tests/RiverSDPTests/Fixtures/chromium-video-sendrecv.sdp"), encoding: .utf8)
        let baseURL = up.baseURL
        let (result, flood) = try await runSessionCheck(baseURL: baseURL, seconds: 15) {
            // Once the honest session holds its slot, the attacker floods and sprays. Chromium may
            // take longer than a fixed wait to post its offer on a slow machine, and a flood that
            // came first would take every slot.
            for _ in 0..<120 {
                let (body, _) = try await URLSession.shared.data(
                    from: baseURL.appendingPathComponent("metrics"))
                let sessions =
                    String(decoding: body, as: UTF8.self).split(separator: "\n")
                    .first { $0.hasPrefix("river_sessions ") }.flatMap { Double($0.split(separator: " ")[1]) }
                    ?? 0
                if sessions >= 1 { break }
                try await Task.sleep(for: .milliseconds(250))
            }
            try await Task.sleep(for: .seconds(2))
            var statuses: [Int: Int] = [:]
            for _ in 0..<60 {
                var request = URLRequest(url: baseURL.appendingPathComponent("whip"))
                request.httpMethod = "POST"
                request.setValue("application/sdp", forHTTPHeaderField: "Content-Type")
                request.httpBody = Data(offer.utf8)
                let (_, response) = try await URLSession.shared.data(for: request)
                statuses[(response as? HTTPURLResponse)?.statusCode ?? 0, default: 0] += 1
            }
            // Garbage datagrams and frames on the media ports.
            let socketFD = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
            defer { close(socketFD) }
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_port = UInt16(udp).bigEndian
            address.sin_addr.s_addr = inet_addr("127.0.0.1")
            for i in 0..<2000 {
                var bytes = (0..<(i % 300 + 1)).map { _ in UInt8.random(in: 0...255) }
                if i % 4 == 0 { bytes[0] = 0x80 }  // looks like RTP
                _ = withUnsafePointer(to: &address) {
                    $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                        sendto(socketFD, bytes, bytes.count, 0, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
                    }
                }
            }
            var silent: [Int32] = []
            for _ in 0..<20 {
                let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
                var tcpAddress = address
                tcpAddress.sin_port = UInt16(tcp).bigEndian
                _ = withUnsafePointer(to: &tcpAddress) {
                    $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                        connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
                    }
                }
                silent.append(fd)
            }
            try await Task.sleep(for: .seconds(7))
            for fd in silent { close(fd) }
            return statuses
        }
        let view = try #require(try views(result).first, "\(result)")
        print(
            "attack: flood statuses \(flood); honest coverage \(view.coverage) (\(view.exact)/\(view.afterWarmup))"
        )
        #expect(
            view.timelyCoverage >= 0.93 && view.coverage >= 0.7,
            "the honest session lost its results: \(view)")
        #expect(view.wrongFrameDrawn == 0)
        // The flood was refused: at most 3 more sessions beside the honest one, the rest 503/429.
        #expect((flood[201] ?? 0) <= 3, "\(flood)")
        #expect((flood[503] ?? 0) + (flood[429] ?? 0) >= 57, "\(flood)")
        let metrics = try await up.get("/metrics").body
        #expect(
            Self.metric(metrics, "river_sessions_refused_total", reason: "full")
                + Self.metric(metrics, "river_sessions_refused_total", reason: "tooFast") >= 57, "\(metrics)")
        #expect(Self.metric(metrics, "river_datagrams_dropped_total", reason: "unrouted") > 0, "\(metrics)")
        #expect(
            Self.metric(metrics, "river_datagrams_dropped_total", reason: "unknownKind") > 0, "\(metrics)")
    }

    /// What one hostile session (`ServeBenchmark --attack KIND`, a synthetic browser built from
    /// river's own cores) did to a live `river up --delay 2s` while an honest Chromium session ran
    /// beside it: the honest page's view, the attacker's JSON line, `/metrics` after, and serve's
    /// RSS before the attack and at its end.
    struct Attack {
        var view: ViewSummary
        var report: [String: Any]
        var metrics: String
        var rss: (before: Double, after: Double)
    }

    func attackBesideAnHonestSession(_ kind: String, _ extra: [String] = [], seconds: Int = 8) async throws
        -> Attack
    {
        let attacker = repositoryRoot.appendingPathComponent(".build/debug/ServeBenchmark")
        try #require(
            FileManager.default.isExecutableFile(atPath: attacker.path),
            "build it first: swift build --build-tests (missing \(attacker.path))")
        let up = try await UpProcess(["--delay", "2s"])
        defer { up.stop() }
        let port = try #require(up.baseURL.port)
        let serve = try #require(up.pids["serve"])
        let (result, (output, before, after)) = try await runSessionCheck(
            baseURL: up.baseURL, seconds: seconds + 8
        ) {
            try await Task.sleep(for: .seconds(4))
            let before = rssMiB(serve) ?? 0
            let child = try ChildProcess(
                attacker,
                ["--attack", kind, "--port", "\(port)", "--seconds", "\(seconds)", "--delay", "2s"] + extra)
            defer { child.stop() }
            _ = await child.waitForExit(timeout: .seconds(60))
            return (child.output, before, rssMiB(serve) ?? 0)
        }
        let view = try #require(try views(result).first, "\(result)")
        // serve's end-of-session lines, for what each session asked of its sender (NACKs, PLIs).
        let ended = up.child.output.split(separator: "\n").filter { $0.contains("session ended: ") }
        print(
            "attack \(kind): honest page showed \(view.afterWarmup) frames after the warm-up "
                + "(\(view.raw["framesEncoded"] ?? "?") encoded); serve: "
                + ended.map {
                    $0.split(separator: ",").filter { $0.contains("PLIs") || $0.contains("NACKs") }
                        .joined(separator: ",")
                }.joined(separator: " | "))
        let line = output.split(separator: "\n").last { $0.hasPrefix("{") } ?? ""
        let report = try #require(
            try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any], "attacker: \(output)")
        #expect(report["phase"] as? String == "connected", "the attacker's session did not last: \(report)")
        return Attack(
            view: view, report: report, metrics: try await up.get("/metrics").body, rss: (before, after))
    }

    /// The honest session beside an attacker: every frame inference took carries its result, and
    /// its video never stalls. The attacker's session is a session too: it takes its fair share of
    /// the one worker (`saturated` frames on the honest page, about half on this 2-core machine).
    func expectTheHonestSessionHeld(_ view: ViewSummary) {
        #expect(view.timelyCoverage >= 0.93, "the honest session lost its results: \(view)")
        #expect(view.coverage >= 0.3, "\(view)")
        // About 8 s of delayed video follow the warm-up. A browser starved of CPU (2 cores: it,
        // serve, the worker and the attacker) encodes and shows fewer (three in four in CI runs at
        // 30 fps); a stall is the gap check's to find.
        #expect(view.afterWarmup > 5 * panClipFPS, "\(view)")
        // A stall is a second without a new frame: a serve that let the attacker hold up the honest
        // session would hold it for the attack's 8 s, or again and again. Shorter gaps come from the
        // machine: a CI run measured 621 ms once (the no-marker attack, 4 busy processes on 2 cores),
        // and under 500 ms in the runs before it.
        let gaps = zip(view.timeline, view.timeline.dropFirst()).map { $1.at - $0.at }
        print("attack: the honest page's longest gap between frames \(gaps.max() ?? 0) ms")
        #expect((gaps.max() ?? 0) < 1000, "the honest video stalled for \(gaps.max() ?? 0) ms")
        #expect(view.wrongFrameDrawn == 0)
    }

    /// A NACK flood: with every frame the attacker asks again for about 8,000 packets (unbounded,
    /// one 2 KiB compound would ask for about 9 MB). Over the flood serve sends it at most twice the
    /// bytes it receives from it, and its refusals are counted.
    @Test func aNACKFloodIsNotAmplifiedAndAnHonestSessionKeepsItsResults() async throws {
        let attack = try await attackBesideAnHonestSession("nack-flood")
        let (sent, received) = (attack.report["sent"] as? Int ?? 0, attack.report["received"] as? Int ?? 0)
        let compounds = attack.report["nackCompounds"] as? Int ?? 0
        let refused = ["nackOverCap", "retransmitBudget", "nackDuplicate"].map {
            ($0, Int(Self.metric(attack.metrics, "river_datagrams_dropped_total", reason: $0)))
        }
        print(
            "attack: NACK flood, \(compounds) compounds of \(attack.report["lostPerCompound"] ?? "?") packets: sent \(sent) B,"
                + " received \(received) B (\(String(format: "%.2f", Double(received) / Double(max(sent, 1))))x;"
                + " before the flood \(attack.report["warmupReceived"] ?? "?") / \(attack.report["warmupSent"] ?? "?") B);"
                + " refused \(refused); honest coverage \(attack.view.coverage) (\(attack.view.exact)/\(attack.view.afterWarmup))"
        )
        #expect(compounds >= 200, "the flood did not run: \(attack.report)")
        #expect(received <= 2 * sent, "serve amplified the flood: \(received) B out for \(sent) B in")
        #expect(refused.map(\.1).reduce(0, +) > 10_000, "\(refused)")
        expectTheHonestSessionHeld(attack.view)
    }

    /// A spoofed nomination: valid USE-CANDIDATE checks with the session's own credentials from a
    /// second address. They are answered (they are valid checks), but the media stays with the
    /// address that proves itself with SRTP: the spoofer receives no RTP, the session keeps its own.
    @Test func aSpoofedNominationRedirectsNothing() async throws {
        let attack = try await attackBesideAnHonestSession("spoofed-nomination")
        let report = attack.report
        print(
            "attack: spoofed nomination: \(report["spoofSTUNResponses"] ?? "?") checks answered, RTP to the spoofer"
                + " \(report["spoofRTPBytes"] ?? "?") B, to the session \(report["mediaBytesDuringSpoof"] ?? "?") B;"
                + " its results \(report["statuses"] ?? "?"); honest coverage \(attack.view.coverage)")
        #expect(report["spoofRTPBytes"] as? Int == 0, "\(report)")
        #expect(
            (report["spoofSTUNResponses"] as? Int ?? 0) > 0,
            "the spoofed checks never reached serve: \(report)")
        #expect((report["mediaBytesDuringSpoof"] as? Int ?? 0) > 200_000, "\(report)")
        #expect((report["results"] as? Int ?? 0) > 100, "the attacked session lost its results: \(report)")
        expectTheHonestSessionHeld(attack.view)
    }

    /// A stream whose one access unit never ends (FU-A fragments without a marker or an end bit,
    /// 3.3 MB/s): the unit is dropped at its 4 MiB bound and counted, serve's memory stays bounded
    /// (the delay line's 32 MiB bound holds what it echoes), and the honest session is untouched.
    @Test func aStreamWithoutAMarkerIsBounded() async throws {
        let attack = try await attackBesideAnHonestSession("no-marker")
        let tooLarge = Self.metric(
            attack.metrics, "river_datagrams_dropped_total", reason: "accessUnitTooLarge")
        print(
            "attack: no marker: \(attack.report["sent"] ?? "?") B sent in 8 s; units dropped as too large"
                + " \(Int(tooLarge)); serve RSS \(attack.rss.before) -> \(attack.rss.after) MiB; honest coverage"
                + " \(attack.view.coverage)")
        #expect((attack.report["sent"] as? Int ?? 0) > 20_000_000, "\(attack.report)")
        #expect(tooLarge >= 1, "\(attack.metrics)")
        #expect(
            attack.rss.after - attack.rss.before < 80,
            "serve grew \(attack.rss.after - attack.rss.before) MiB")
        expectTheHonestSessionHeld(attack.view)
    }

    /// An 8192×8192 SPS (fixtures/h264/huge.h264, 2 flat frames looped, 5 a second): each of its frames is
    /// refused before libavcodec allocates a picture (`--max-pixels`) and answered `decodeError`;
    /// serve's memory stays flat and the honest session is untouched.
    @Test func an8192SquareSPSIsRefusedBeforeDecoding() async throws {
        let clip = repositoryRoot.appendingPathComponent("fixtures/h264/huge.h264").path
        // 5 frames a second: each is 98 KB, and at 30 the attacker's own SRTP (a debug build) and
        // serve's echo of 3 MB/s take the 2 cores from the honest session; the bound is the same.
        let attack = try await attackBesideAnHonestSession("stream", ["--clip", clip, "--every", "6"])
        let statuses = attack.report["statuses"] as? [String: Int] ?? [:]
        print(
            "attack: 8192x8192 SPS: its frames' statuses \(statuses); serve RSS \(attack.rss.before) ->"
                + " \(attack.rss.after) MiB; honest coverage \(attack.view.coverage)")
        #expect((statuses["decodeError"] ?? 0) >= 30 && statuses.count == 1, "\(statuses)")
        #expect(
            attack.rss.after - attack.rss.before < 40,
            "serve grew \(attack.rss.after - attack.rss.before) MiB")
        expectTheHonestSessionHeld(attack.view)
    }

    /// 600 data channels at once (the peer's side opens what its streams allow, 511): serve holds
    /// at most 16 per association, resets every other one at once (so the peer's channel closes
    /// rather than waiting), counts each, and the attacker's own `river` channel keeps its results.
    @Test func sixHundredDataChannelsAreCappedAndReset() async throws {
        let attack = try await attackBesideAnHonestSession("many-channels", seconds: 5)
        let report = attack.report
        let opened = report["channelsOpened"] as? Int ?? 0
        let reset = report["channelsClosedByServe"] as? Int ?? 0
        let refused = Int(
            Self.metric(attack.metrics, "river_datagrams_dropped_total", reason: "dataChannelRefused"))
        print(
            "attack: 600 data channels: \(opened) opened by the peer, \(reset) reset by serve, \(refused) refused in"
                + " /metrics; its results \(report["statuses"] ?? "?"); honest coverage \(attack.view.coverage)"
        )
        #expect(opened > 400, "\(report)")
        #expect(reset == refused && refused >= opened - 16, "\(report); refused \(refused)")
        #expect(
            (report["results"] as? Int ?? 0) > 100, "the attacker's own channel lost its results: \(report)")
        expectTheHonestSessionHeld(attack.view)
    }

    /// SRTP garbage from inside a live session: authenticated packets of ever new SSRCs past the
    /// few a session admits are refused before libsrtp makes a stream for each (`unknownSSRC`), and
    /// its own that fail to authenticate are dropped (`session`); each is counted in /metrics and
    /// the session lives on.
    @Test func srtpGarbageFromASessionIsDroppedAndCounted() async throws {
        let attack = try await attackBesideAnHonestSession("garbage", seconds: 5)
        let unknown = Self.metric(attack.metrics, "river_datagrams_dropped_total", reason: "unknownSSRC")
        let failed = Self.metric(attack.metrics, "river_datagrams_dropped_total", reason: "session")
        print(
            "attack: SRTP garbage: unknownSSRC \(Int(unknown)), session \(Int(failed)) dropped; its results"
                + " \(attack.report["statuses"] ?? "?"); honest coverage \(attack.view.coverage)")
        #expect(unknown > 1000, "\(attack.metrics)")
        #expect(failed > 1000, "\(attack.metrics)")
        #expect(
            (attack.report["results"] as? Int ?? 0) > 100,
            "the garbage ended the session's results: \(attack.report)")
        expectTheHonestSessionHeld(attack.view)
    }

    /// A peer that never acknowledges SCTP data, against `serve --reflect` (whose channels echo):
    /// it sends 16 KiB on three channels with every frame and cuts serve's DATA chunks out before its
    /// association sees them. serve's echo stays within its bounds (each channel's 4 MiB, then it
    /// stops reading, so the peer's own window closes), its memory stays flat, and an honest
    /// Chromium session beside it keeps decoding.
    @Test func aPeerThatNeverAcknowledgesSCTPIsHeldToItsBuffer() async throws {
        let attacker = repositoryRoot.appendingPathComponent(".build/debug/ServeBenchmark")
        try #require(
            FileManager.default.isExecutableFile(atPath: attacker.path),
            "build it first: swift build --build-tests")
        let serve = try await ServeProcess()
        defer { serve.stop() }
        let pid = serve.child.process.processIdentifier
        async let honest = runChromiumReflect(against: serve, audio: false, seconds: 14)
        try await Task.sleep(for: .seconds(3))
        let before = rssMiB(pid) ?? 0
        let child = try ChildProcess(
            attacker,
            ["--attack", "never-ack", "--port", "\(serve.httpPort)", "--seconds", "8", "--delay", "0"])
        defer { child.stop() }
        _ = await child.waitForExit(timeout: .seconds(60))
        let after = rssMiB(pid) ?? 0
        let line = child.output.split(separator: "\n").last { $0.hasPrefix("{") } ?? ""
        let report = try #require(
            try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
            "attacker: \(child.output)")
        let result = try await honest
        let samples = try #require(result["samples"] as? [[String: Any]], "\(result)")
        let decoded = samples.map { $0["framesDecoded"] as? Int ?? 0 }
        print(
            "attack: never acknowledging SCTP: \(report["echoBytesSent"] ?? "?") B of echo requests sent,"
                + " \(report["dataChunksWithheld"] ?? "?") DATA chunks of serve's withheld; serve RSS \(before) ->"
                + " \(after) MiB; honest frames decoded \(decoded)")
        #expect(report["phase"] as? String == "connected", "\(report)")
        #expect(
            (report["echoBytesSent"] as? Int ?? 0) > 4 << 20,
            "the attack did not fill serve's buffer: \(report)")
        #expect(after - before < 40, "serve grew \(after - before) MiB")
        #expect(
            decoded.count >= 8 && decoded.last! > decoded[decoded.count / 2] + 60,
            "decoding stalled: \(decoded)")
    }

    /// A session on ICE-TCP that never reads (a check and its SRTP over a TCP connection with a
    /// 2 KiB receive buffer, 3.3 MB/s sent there for serve to echo): once the kernel's buffers are
    /// full, serve drops what it would write to that connection and counts it (`unwritable`), holds
    /// nothing more for it, and the honest session is untouched.
    @Test func anICETCPPeerThatNeverReadsIsDroppedNotBuffered() async throws {
        let attack = try await attackBesideAnHonestSession("tcp-no-read")
        let unwritable = Self.metric(attack.metrics, "river_datagrams_dropped_total", reason: "unwritable")
        print(
            "attack: ICE-TCP peer that never reads: \(attack.report["sent"] ?? "?") B sent, \(attack.report["tcpBytesWaiting"] ?? "?")"
                + " B waiting in the kernel's buffers, \(Int(unwritable)) writes dropped; serve RSS \(attack.rss.before) ->"
                + " \(attack.rss.after) MiB; honest coverage \(attack.view.coverage)")
        #expect(
            (attack.report["tcpBytesWaiting"] as? Int ?? 0) > 100_000,
            "media never moved to TCP: \(attack.report)")
        #expect(unwritable > 1000, "\(attack.metrics)")
        #expect(
            attack.rss.after - attack.rss.before < 80,
            "serve grew \(attack.rss.after - attack.rss.before) MiB")
        expectTheHonestSessionHeld(attack.view)
    }
}
