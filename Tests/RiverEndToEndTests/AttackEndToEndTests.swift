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
            // Once the honest session is live, the attacker floods and sprays.
            try await Task.sleep(for: .seconds(4))
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

    /// A NACK flood from a session of its own (ServeBenchmark --attack nack-flood: a synthetic browser
    /// that, once its echo runs, asks again for about 8,000 packets with every frame) beside an honest
    /// Chromium session: over the flood serve sends the attacker at most twice the bytes it receives
    /// from it (unbounded, one 2 KiB compound would ask for about 9 MB), its refusals are counted,
    /// and the honest session keeps its video and results.
    @Test func aNACKFloodIsNotAmplifiedAndAnHonestSessionKeepsItsResults() async throws {
        let attacker = repositoryRoot.appendingPathComponent(".build/debug/ServeBenchmark")
        try #require(
            FileManager.default.isExecutableFile(atPath: attacker.path),
            "build it first: swift build --build-tests (missing \(attacker.path))")
        let up = try await UpProcess(["--delay", "2s"])
        defer { up.stop() }
        let port = try #require(up.baseURL.port)
        let (result, output) = try await runSessionCheck(baseURL: up.baseURL, seconds: 16) {
            try await Task.sleep(for: .seconds(4))
            let child = try ChildProcess(
                attacker, ["--attack", "nack-flood", "--port", "\(port)", "--seconds", "8"])
            defer { child.stop() }
            _ = await child.waitForExit(timeout: .seconds(30))
            return child.output
        }
        let view = try #require(try views(result).first, "\(result)")
        let line = output.split(separator: "\n").last { $0.hasPrefix("{") } ?? ""
        let attack = try #require(
            try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any], "attacker: \(output)")
        let sent = try #require(attack["floodSent"] as? Int, "\(attack)")
        let received = try #require(attack["floodReceived"] as? Int, "\(attack)")
        let compounds = attack["nackCompounds"] as? Int ?? 0
        let metrics = try await up.get("/metrics").body
        let refused = ["nackOverCap", "retransmitBudget", "nackDuplicate"].map {
            ($0, Int(Self.metric(metrics, "river_datagrams_dropped_total", reason: $0)))
        }
        print(
            "attack: NACK flood, \(compounds) compounds of \(attack["lostPerCompound"] ?? "?") packets: sent \(sent) B,"
                + " received \(received) B (\(String(format: "%.2f", Double(received) / Double(max(sent, 1))))x;"
                + " before the flood \(attack["warmupReceived"] ?? "?") / \(attack["warmupSent"] ?? "?") B);"
                + " refused \(refused); honest coverage \(view.coverage) (\(view.exact)/\(view.afterWarmup))")
        #expect(attack["phase"] as? String == "connected", "\(attack)")
        #expect(compounds >= 200, "the flood did not run: \(attack)")
        #expect(received <= 2 * sent, "serve amplified the flood: \(received) B out for \(sent) B in")
        #expect(refused.map(\.1).reduce(0, +) > 10_000, "\(refused)")
        // The attacker's session is a session too: it streams video and takes its fair share of
        // the one worker, so the honest page has frames marked saturated (about half on this
        // 2-core machine); every frame inference took carries its result, and the video never stalls.
        #expect(view.timelyCoverage >= 0.93, "the honest session lost its results: \(view)")
        #expect(view.coverage >= 0.3, "\(view)")
        #expect(view.afterWarmup > 200, "\(view)")
        let gaps = zip(view.timeline, view.timeline.dropFirst()).map { $1.at - $0.at }
        #expect((gaps.max() ?? 0) < 500, "the honest video stalled for \(gaps.max() ?? 0) ms")
        #expect(view.wrongFrameDrawn == 0)
    }
}
