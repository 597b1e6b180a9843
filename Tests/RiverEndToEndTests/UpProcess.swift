import Foundation
import Testing

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// `river up` on free ports of 127.0.0.1, with the children's PIDs read from its ready line.
final class UpProcess: @unchecked Sendable {
    let child: ChildProcess
    let httpPort: Int
    /// PIDs of `proxy`, `onnx` and `serve` from the ready line.
    let pids: [String: Int32]
    let frontend: String
    let backend: String

    init(_ arguments: [String] = [], startTimeout: Duration = .seconds(120)) async throws {
        child = try ChildProcess(
            riverBinary(), ["up", "--host", "127.0.0.1", "--http-port", "0", "--udp-port", "0"] + arguments)
        let deadline = ContinuousClock.now + startTimeout
        var line: Substring?
        while line == nil && ContinuousClock.now < deadline && child.process.isRunning {
            line = child.output.split(separator: "\n").first { $0.hasPrefix("river up: http") }
            if line == nil { try await Task.sleep(for: .milliseconds(100)) }
        }
        guard let line else {
            let output = child.output
            child.stop()
            throw ServeProcess.ServeError(message: "river up did not print its URL:\n\(output)")
        }
        let fields = Dictionary(
            line.split(separator: " ").compactMap { field -> (String, String)? in
                guard let eq = field.firstIndex(of: "=") else { return nil }
                return (String(field[..<eq]), String(field[field.index(after: eq)...]))
            }, uniquingKeysWith: { a, _ in a })
        let url = line.split(separator: " ")[2]
        httpPort = Int(url.split(separator: ":").last?.split(separator: "/").first ?? "") ?? 0
        pids = Dictionary(
            (fields["pids"] ?? "").split(separator: ",").compactMap { pair -> (String, Int32)? in
                let parts = pair.split(separator: ":")
                guard parts.count == 2, let pid = Int32(parts[1]) else { return nil }
                return (String(parts[0]), pid)
            }, uniquingKeysWith: { a, _ in a })
        frontend = fields["proxy"] ?? ""
        backend = fields["backend"] ?? ""
    }

    var baseURL: URL { URL(string: "http://127.0.0.1:\(httpPort)")! }

    func stop() { child.stop() }

    func get(_ path: String) async throws -> (status: Int, body: String, contentType: String) {
        let (data, response) = try await URLSession.shared.data(from: URL(string: path, relativeTo: baseURL)!)
        let http = try #require(response as? HTTPURLResponse)
        return (
            http.statusCode, String(decoding: data, as: UTF8.self),
            http.value(forHTTPHeaderField: "Content-Type") ?? ""
        )
    }
}

/// The release build of the `river` binary, the one `make run` starts (`make test` builds it with
/// `swift build -c release --product river`). End-to-end tests run what users run, and on two
/// cores a debug serve and worker beside Chromium would leave the model short of CPU.
func riverBinary() throws -> URL {
    let binary = repositoryRoot.appendingPathComponent(".build/release/river")
    try #require(
        FileManager.default.isExecutableFile(atPath: binary.path),
        "build the binary first: swift build -c release --product river (missing \(binary.path))")
    return binary
}

/// Whether a process with this PID exists (and is not a zombie).
func processAlive(_ pid: Int32) -> Bool {
    guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8) else { return false }
    // The state follows the parenthesised command name.
    guard let close = stat.lastIndex(of: ")") else { return false }
    let state = stat[stat.index(close, offsetBy: 2)]
    return state != "Z" && state != "X"
}

/// CPU time (user + system) a process has used so far, in seconds, from /proc/PID/stat.
func cpuSeconds(_ pid: Int32) -> Double? {
    guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
        let close = stat.lastIndex(of: ")")
    else { return nil }
    let fields = stat[stat.index(close, offsetBy: 2)...].split(separator: " ")
    // Fields 14 and 15 of proc(5) (utime, stime) are 11 and 12 after the state field (index 0).
    guard fields.count > 12, let user = Double(fields[11]), let system = Double(fields[12]) else {
        return nil
    }
    return (user + system) / Double(sysconf(Int32(_SC_CLK_TCK)))
}

/// Resident set size of a process in MiB, from /proc/PID/status (VmRSS).
/// A process's resident memory in MiB from /proc: `VmRSS` (all of it), `RssAnon` (heap and stacks) or
/// `RssFile` (mapped code and data of the binary and its libraries).
func rssMiB(_ pid: Int32, field: String = "VmRSS") -> Double? {
    guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return nil }
    for line in status.split(separator: "\n") where line.hasPrefix(field + ":") {
        let kib = line.split(separator: " ").compactMap { Double($0) }.first
        return kib.map { $0 / 1024 }
    }
    return nil
}

/// Runs scripts/e2e/session_check.py (headless Chromium, the pan clip) against `baseURL`. With
/// `audio`, the camera is the sync clip (`fixtures/pan-flash`) and its sound is the microphone.
func runSessionCheck(
    baseURL: URL, sessions: Int = 1, seconds: Int = 15, warmup: Int = 3, token: String? = nil,
    browser: [String] = [], audio: Bool = false
) async throws -> [String: Any] {
    try await runSessionCheck(
        baseURL: baseURL, sessions: sessions, seconds: seconds, warmup: warmup, token: token,
        browser: browser,
        audio: audio
    ) {}.0
}

/// The same, running `during` beside the browser once it has started (measurements and faults
/// must wait for the browser slot too), and returning what `during` returned. `browser` are more
/// arguments for session_check.py (`--netns`, `--trust`).
func runSessionCheck<T: Sendable>(
    baseURL: URL, sessions: Int = 1, seconds: Int = 15, warmup: Int = 3, token: String? = nil,
    browser: [String] = [], audio: Bool = false,
    during: @escaping @Sendable () async throws -> T
) async throws -> ([String: Any], T) {
    let clip = repositoryRoot.appendingPathComponent(audio ? "fixtures/pan-flash.y4m" : "fixtures/pan.y4m")
    let wav = clip.deletingPathExtension().appendingPathExtension("wav")
    if audio {
        try #require(
            FileManager.default.fileExists(atPath: wav.path), "missing \(wav.path): run scripts/setup.sh")
    }
    try #require(
        FileManager.default.fileExists(atPath: clip.path)
            && FileManager.default.fileExists(
                atPath: clip.deletingPathExtension().appendingPathExtension("json").path),
        "missing \(clip.path) or its .json: run scripts/setup.sh (make_fixtures.sh)")
    let arguments =
        [
            repositoryRoot.appendingPathComponent("scripts/e2e/session_check.py").path,
            "--url", baseURL.absoluteString + "/", "--y4m", clip.path, "--sessions", "\(sessions)",
            "--seconds", "\(seconds)", "--warmup", "\(warmup)",
        ] + (token.map { ["--token", $0] } ?? []) + (audio ? ["--wav", wav.path] : []) + browser
    let command = ["python3"] + arguments
    let (status, output, measured) = try await BrowserSlot.shared.hold {
        let driver = try ChildProcess(URL(fileURLWithPath: "/usr/bin/env"), command)
        defer { driver.stop() }
        async let measured = during()
        let status = await driver.waitForExit(timeout: .seconds(Int64(seconds) + 120))
        return (status, driver.output, try await measured)
    }
    try #require(status == 0, "session_check.py failed (\(String(describing: status))):\n\(output)")
    let line = try #require(
        output.split(separator: "\n").last { $0.hasPrefix("{") }, "no JSON in:\n\(output)")
    return (try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]), measured)
}

/// Frames a second of the pan clips (`fps` in fixtures/pan.json; scripts/make_fixtures.sh sets it).
/// Bounds on frame counts are written as seconds of video times this.
let panClipFPS: Int = {
    let json = repositoryRoot.appendingPathComponent("fixtures/pan.json")
    guard let data = try? Data(contentsOf: json),
        let meta = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
        let fps = meta["fps"] as? Int
    else { return 30 }  // runSessionCheck fails first, naming the missing fixture
    return fps
}()

/// One session's summary from session_check.py, typed for the assertions.
struct ViewSummary: CustomStringConvertible {
    let raw: [String: Any]
    var afterWarmup: Int { raw["afterWarmup"] as? Int ?? 0 }
    var exact: Int { raw["exact"] as? Int ?? 0 }
    var coverage: Double { raw["coverage"] as? Double ?? 0 }
    var withBox: Int { raw["withBox"] as? Int ?? 0 }
    var accuracy: Double { raw["accuracy"] as? Double ?? 0 }
    var wrongFrameDrawn: Int { raw["wrongFrameDrawn"] as? Int ?? -1 }
    var unreadable: Int { raw["unreadable"] as? Int ?? 0 }
    var framesDecoded: Int { raw["framesDecoded"] as? Int ?? 0 }
    var delay: [String: Double] { (raw["delay"] as? [String: Any] ?? [:]).compactMapValues { $0 as? Double } }
    var statuses: [String: Int] { raw["statuses"] as? [String: Int] ?? [:] }
    /// Coverage among the frames inference took (all but `saturated` ones, which a busy worker
    /// turned away whatever the delay): the part of coverage that the delay decides.
    var timelyCoverage: Double {
        let taken = afterWarmup - (statuses["saturated"] ?? 0)
        return taken > 0 ? Double(exact) / Double(taken) : 0
    }
    /// (page receive wall time ms, status or nil, measured delay ms or nil) per displayed frame.
    /// The session's getStats figures (session_check.py's `network`).
    var network: [String: Any] { raw["network"] as? [String: Any] ?? [:] }
    /// With audio: the audio's getStats figures (`packetsReceived`, `packetsSent`, `packetsLost`, …).
    var audio: [String: Double] {
        (raw["audio"] as? [String: Any] ?? [:]).compactMapValues { ($0 as? NSNumber)?.doubleValue }
    }
    /// With audio: what river and the browser's playout added to sound against picture at each flash
    /// received (ms, positive: sound late), the same flash as sent subtracted (session_check.py),
    /// with when the flash was shown (ms on the page's clock).
    var addedSyncOffsets: [(flash: Double, added: Double)] {
        ((raw["sync"] as? [String: Any])?["added"] as? [[String: Double]] ?? []).compactMap {
            guard let flash = $0["flash"], let added = $0["added"] else { return nil }
            return (flash, added)
        }
    }
    /// The longest time between two displayed frames after the warm-up, in ms.
    func longestGap(afterWarmup warmup: Double) -> Double {
        let times = timeline.map(\.at)
        guard let first = times.first else { return .infinity }
        let after = times.filter { $0 >= first + warmup }
        return zip(after, after.dropFirst()).map { $1 - $0 }.max() ?? .infinity
    }
    var timeline: [(at: Double, status: String?, delay: Double?, turnaround: Double?)] {
        (raw["timeline"] as? [[Any]] ?? []).map {
            (
                $0[0] as? Double ?? 0, $0[1] as? String, $0.count > 2 ? $0[2] as? Double : nil,
                $0.count > 3 ? $0[3] as? Double : nil
            )
        }
    }
    /// The server's frame-received → result-ready times of the displayed frames' own results after
    /// the warm-up (`n`, `p50`, `p99`, `max`, ms).
    var turnaround: [String: Double] {
        (raw["turnaround"] as? [String: Any] ?? [:]).compactMapValues { $0 as? Double }
    }

    /// How a moving delay (`--delay auto`) settled: `delay`, the median of the delays the page
    /// measured on frames shown from `from` ms after the first displayed frame; `p5`/`p95` of
    /// those; and `settlingTime`, ms from the first displayed frame to the first frame after which
    /// the measured delay stays within `band` ms of `delay` (a single frame outside, shown late by
    /// the browser, does not count as leaving). Nil without measured delays.
    func settling(from: Double, band: Double) -> (
        delay: Double, p5: Double, p95: Double, settlingTime: Double
    )? {
        let frames = timeline
        guard let first = frames.first?.at else { return nil }
        let late = frames.filter { $0.at >= first + from }.compactMap(\.delay).sorted()
        guard !late.isEmpty else { return nil }
        let settled = late[late.count / 2]
        let p5 = late[late.count * 5 / 100]
        let p95 = late[min(late.count - 1, late.count * 95 / 100)]
        let delays = frames.compactMap { frame in frame.delay.map { (frame.at, abs($0 - settled) > band) } }
        let outside = delays.indices.dropLast().last { delays[$0].1 && delays[$0 + 1].1 }
        let settledAt = outside.map { delays[min(delays.count - 1, $0 + 2)].0 } ?? first
        return (settled, p5, p95, settledAt - first)
    }
    /// When a moving delay first held still: ms from the first displayed frame to the first frame
    /// from which the measured delay stays within `band` ms of its median for the next `hold` ms
    /// (a single frame outside does not count). Unlike ``settling(from:band:)``, a delay that
    /// settles and later follows a change in the turnaround (a slow spell leaving the window) still
    /// reads as settled early. Nil if it never held for that long.
    func firstHold(band: Double, hold: Double) -> Double? {
        let delays = timeline.compactMap { frame in frame.delay.map { (at: frame.at, delay: $0) } }
        guard let first = timeline.first?.at else { return nil }
        for (index, start) in delays.enumerated() {
            let span = delays[index...].prefix { $0.at <= start.at + hold }
            guard let last = span.last, last.at - start.at >= hold * 0.9 else { return nil }
            let sorted = span.map(\.delay).sorted()
            let median = sorted[sorted.count / 2]
            let outside = span.map { abs($0.delay - median) > band }
            if !zip(outside, outside.dropFirst()).contains(where: { $0 && $1 }) { return start.at - first }
        }
        return nil
    }

    var description: String {
        var shown = raw
        shown["timeline"] = "(\(timeline.count) frames)"
        return "\(shown)"
    }
}

func views(_ result: [String: Any]) throws -> [ViewSummary] {
    let views = try #require(result["views"] as? [[String: Any]], "no views: \(result)")
    return views.map(ViewSummary.init)
}

/// The value of an unlabelled counter or gauge in Prometheus text, or nil when it is not there.
func prometheusValue(_ text: String, _ name: String) -> Double? {
    text.split(separator: "\n").first { $0.hasPrefix("\(name) ") }.flatMap {
        Double($0.split(separator: " ").last ?? "")
    }
}
