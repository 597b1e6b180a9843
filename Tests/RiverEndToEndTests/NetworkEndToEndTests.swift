import Foundation
import Testing

/// river across a network, as a user on another device meets it (issue 12): `river up --host
/// 0.0.0.0` on the lab's server host, Chromium on its client host opening the page over HTTPS with
/// river's own certificate trusted through its NSS database (no certificate or insecure-origin
/// flags), on a clean path, with random UDP loss both ways, and with UDP blocked so that ICE has
/// to use TCP. Figures are printed for the issue notes.
@Suite(.serialized, .enabled(if: NetworkLab.isAvailable, NetworkLab.unavailableReason))
struct NetworkEndToEndTests {
    static let delayMilliseconds = 2000.0

    /// `river up` on the server host, its page's URL and certificate.
    struct RemoteUp {
        let child: ChildProcess
        let url: URL
        let certificate: String
        let readyLine: String
    }

    static func startUp(in lab: NetworkLab, state: URL, delay: String = "2s") async throws -> RemoteUp {
        let up = try lab.start(
            in: .server,
            [
                try riverBinary().path, "up", "--host", "0.0.0.0", "--http-port", "0", "--udp-port", "0",
                "--state-dir", state.path, "--delay", delay,
            ])
        let deadline = ContinuousClock.now + .seconds(120)
        var line: Substring?
        while line == nil && ContinuousClock.now < deadline && up.process.isRunning {
            line = up.output.split(separator: "\n").first { $0.hasPrefix("river up: https://") }
            if line == nil { try await Task.sleep(for: .milliseconds(100)) }
        }
        let ready = try #require(line, "river up did not print an https URL:\n\(up.output)")
        let url = try #require(URL(string: String(ready.split(separator: " ")[2])))
        return RemoteUp(
            child: up, url: url, certificate: state.appendingPathComponent("tls/cert.pem").path,
            readyLine: String(ready))
    }

    /// One 20 s session from the client host; prints and returns its summary.
    static func session(_ name: String, lab: NetworkLab, up: RemoteUp) async throws -> (
        ViewSummary, [String: Any]
    ) {
        let ended = { up.child.output.split(separator: "\n").filter { $0.contains("session ended: ") } }
        let endedBefore = ended().count
        let result = try await runSessionCheck(
            baseURL: up.url, seconds: 20, warmup: 3,
            browser: ["--netns", lab.namespace(.client), "--trust", up.certificate])
        #expect(result["state"] as? String == "live", "\(name): \(result)")
        let view = try #require(try views(result).first, "\(name): \(result)")
        print(
            "network \(name): coverage \(view.coverage) (\(view.exact)/\(view.afterWarmup)), accuracy "
                + "\(view.accuracy), delay \(view.delay), longest gap \(view.longestGap(afterWarmup: 3000)) ms, "
                + "connect \(result["connectSeconds"] ?? "?") s, network \(view.network)")
        // How much of the loss NACKs recovered: upstream from serve's end-of-session line (gaps
        // filled by retransmissions vs given up), downstream from serve's resends vs what the
        // browser still counts lost (a frame's last packet sent twice counts as received twice, so
        // on a lossy path that count understates).
        _ = try await eventually(timeout: .seconds(5)) { ended().count > endedBefore }
        if let line = ended().last.map(String.init), ended().count > endedBefore {
            func number(before label: String) -> Int? {
                guard let range = line.range(of: label) else { return nil }
                return Int(line[..<range.lowerBound].split(separator: " ").last ?? "")
            }
            let repaired = number(before: " repaired") ?? 0
            let givenUp = number(before: " given up") ?? 0
            let resent = number(before: " resent") ?? 0
            let lostDown = view.network["packetsLostDown"] as? Int ?? 0
            func fraction(_ a: Int, _ b: Int) -> String { a + b == 0 ? "-" : "\(Double(a) / Double(a + b))" }
            print(
                "network \(name), recovered by NACK: upstream \(repaired) of \(repaired + givenUp) "
                    + "(\(fraction(repaired, givenUp))), downstream \(resent) resent, \(lostDown) still lost "
                    + "(\(fraction(resent, lostDown))); \(number(before: " placed late") ?? 0) repairs echoed with "
                    + "their frames, \(number(before: " frame ends repeated") ?? 0) frame ends sent twice")
        }
        return (view, result)
    }

    /// Frames shown at the target delay, ±50 ms at p5 and p95.
    static func expectDelayOnTarget(_ view: ViewSummary, _ name: String) {
        let delay = view.delay
        #expect(
            (delay["p95"] ?? .infinity) <= delayMilliseconds + 50
                && (delay["p5"] ?? 0) >= delayMilliseconds - 50,
            "\(name): delay \(delay)")
    }

    @Test func aBrowserOnAnotherHostGetsItsResultsOverHTTPSThroughLossAndOverTCP() async throws {
        let lab = try NetworkLab.create()
        defer { lab.remove() }
        let state = FileManager.default.temporaryDirectory.appendingPathComponent(
            "river-net-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: state) }
        let up = try await Self.startUp(in: lab, state: state)
        #expect(up.url.host == lab.address(.server), "\(up.readyLine)")
        // The server host's one address is the candidate; loopback is not announced.
        let serveLine = up.child.output.split(separator: "\n").first { $0.contains("river serve: ") } ?? ""
        #expect(serveLine.contains("candidates=\(lab.address(.server)) "), "\(serveLine)")

        // A clean path: every displayed frame carries its own result.
        let (clean, _) = try await Self.session("clean", lab: lab, up: up)
        #expect(clean.coverage >= 0.99, "\(clean)")
        #expect(clean.wrongFrameDrawn == 0)
        #expect(clean.network["protocol"] as? String == "udp", "\(clean.network)")
        Self.expectDelayOnTarget(clean, "clean")

        for percent in [1.0, 5.0] {
            try lab.addLoss(host: .client, percent: percent)
            try lab.addLoss(host: .server, percent: percent)
            let name = "loss \(Int(percent))%"
            let (lossy, _) = try await Self.session(name, lab: lab, up: up)
            #expect(lossy.longestGap(afterWarmup: 3000) < 1000, "\(name): a freeze over 1 s")
            #expect(lossy.coverage >= 0.95, "\(name): \(lossy)")
            #expect(lossy.wrongFrameDrawn == 0)
            // A repaired frame is not shown late: upstream, serve echoes the repair with its frame
            // (and frames the repair released keep their own arrival); downstream, each frame's
            // last packet goes twice, as its loss would show only when the next frame arrives.
            Self.expectDelayOnTarget(lossy, name)
            #expect((lossy.network["nacksSent"] as? Int ?? 0) > 0, "\(name): no NACK downstream")
        }
        try lab.clear(host: .client)
        try lab.clear(host: .server)

        // No UDP at all for the client: ICE over TCP.
        try lab.blockUDP(host: .client)
        let (tcp, result) = try await Self.session("udp blocked", lab: lab, up: up)
        #expect(tcp.network["protocol"] as? String == "tcp", "\(tcp.network)")
        #expect(tcp.coverage >= 0.97, "\(tcp)")
        #expect(tcp.wrongFrameDrawn == 0)
        Self.expectDelayOnTarget(tcp, "udp blocked")
        #expect((result["connectSeconds"] as? Double ?? .infinity) < 15)
    }

    /// `--delay auto` across the lab, clean and then with 5 % UDP loss both ways: under loss the
    /// delay grows to cover repairs (a lost result message waits for SCTP's fast retransmit, and
    /// those behind it on the ordered channel wait too), so ≥ 95 % of displayed frames still carry
    /// their own result, and it settles longer than on the clean path.
    @Test func autoDelayGrowsToCoverRepairsUnderLoss() async throws {
        let lab = try NetworkLab.create()
        defer { lab.remove() }
        let state = FileManager.default.temporaryDirectory.appendingPathComponent(
            "river-net-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: state) }
        let up = try await Self.startUp(in: lab, state: state, delay: "auto")

        var sessions = 0
        func settled(_ view: ViewSummary, _ name: String) async throws -> Double {
            let settling = try #require(view.settling(from: 5000, band: 30), "\(name): no delays: \(view)")
            print(
                "network auto \(name): settled within \(Int(settling.settlingTime)) ms at \(Int(settling.delay)) ms "
                    + "(p5 \(Int(settling.p5)), p95 \(Int(settling.p95))); turnaround \(view.turnaround); "
                    + "coverage \(view.coverage) (\(view.exact)/\(view.afterWarmup)), \(view.timelyCoverage) of the "
                    + "frames inference took; statuses \(view.statuses)"
            )
            // serve's end-of-session line: what the delay was made of (RTT, repair).
            _ = try await eventually(timeout: .seconds(5)) {
                up.child.output.split(separator: "\n").filter { $0.contains("delay auto ") }.count > sessions
            }
            sessions += 1
            let made = up.child.output.split(separator: "\n").last { $0.contains("delay auto ") }
            print(
                "network auto \(name), serve: \(made.map { $0.split(separator: ";").last ?? "" } ?? "no summary line")"
            )
            return settling.delay
        }
        let (clean, _) = try await Self.session("auto clean", lab: lab, up: up)
        let cleanDelay = try await settled(clean, "clean")
        #expect(clean.coverage >= 0.97, "clean: \(clean)")
        #expect(clean.wrongFrameDrawn == 0)

        try lab.addLoss(host: .client, percent: 5)
        try lab.addLoss(host: .server, percent: 5)
        defer {
            try? lab.clear(host: .client)
            try? lab.clear(host: .server)
        }
        let (lossy, _) = try await Self.session("auto loss 5%", lab: lab, up: up)
        let lossyDelay = try await settled(lossy, "loss 5%")
        #expect(lossy.coverage >= 0.95, "loss 5%: \(lossy)")
        #expect(lossy.wrongFrameDrawn == 0)
        // Under loss the delay takes on a repair term: a round trip and three frame intervals
        // (about 200 ms at the pan clip's 15 fps), as serve's end-of-session line for this session says. The
        // settled delays themselves also move with the turnaround's tail, which the load moves.
        let lossySummary = up.child.output.split(separator: "\n").last { $0.contains("delay auto ") } ?? ""
        let repair = lossySummary.components(separatedBy: "repair ").last.flatMap {
            Int($0.prefix { $0.isNumber })
        }
        #expect(
            (repair ?? 0) >= 90, "loss 5%: \(lossySummary); settled \(lossyDelay) ms, clean \(cleanDelay) ms")
    }

    /// Bound to `::`, serve announces the host's IPv4 and IPv6 addresses, and never loopback.
    @Test func boundToEveryAddressServeAnnouncesBothFamilies() async throws {
        let lab = try NetworkLab.create()
        defer { lab.remove() }
        let state = FileManager.default.temporaryDirectory.appendingPathComponent(
            "river-net-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: state) }
        let serve = try lab.start(
            in: .server,
            [
                try riverBinary().path, "serve", "--reflect", "--host", "::", "--http-port", "0",
                "--udp-port", "0",
                "--state-dir", state.path,
            ])
        let ready = try await eventually(timeout: .seconds(30)) { serve.output.contains("river serve: ") }
        try #require(ready, "\(serve.output)")
        let line = serve.output.split(separator: "\n").first { $0.hasPrefix("river serve: ") } ?? ""
        let field = { (key: String) in
            line.split(separator: " ").first { $0.hasPrefix("\(key)=") }.map {
                String($0.dropFirst(key.count + 1))
            }
        }
        let candidates = Set((field("candidates") ?? "").split(separator: ",").map(String.init))
        #expect(candidates == [lab.address(.server), lab.address6(.server)], "\(line)")
        let port = field("http") ?? ""
        let urls = (field("urls") ?? "").split(separator: ",").map(String.init)
        #expect(
            urls == [
                "https://\(lab.address(.server)):\(port)/", "https://[\(lab.address6(.server))]:\(port)/",
                "http://127.0.0.1:\(port)/",
            ], "\(line)")
        // From the client host, plain HTTP is redirected to the HTTPS URL, which serves the page.
        let redirect = try await lab.run(
            in: .client,
            [
                "curl", "-sS", "-o", "/dev/null", "-w", "%{http_code} %{redirect_url}",
                "http://\(lab.address(.server)):\(port)/",
            ])
        #expect(redirect.output == "308 https://\(lab.address(.server)):\(port)/", "\(redirect)")
        let page = try await lab.run(
            in: .client,
            [
                "curl", "-sS", "--cacert", state.appendingPathComponent("tls/cert.pem").path, "-o",
                "/dev/null", "-w",
                "%{http_code}", "https://[\(lab.address6(.server))]:\(port)/",
            ])
        #expect(page.output == "200", "\(page)")
    }
}
