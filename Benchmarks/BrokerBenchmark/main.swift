// Broker benchmark: client ↔ worker directly vs through `river proxy`, in one run, side by side:
// the proxy with the NULL mechanism, with CURVE (RFC 26, every message encrypted both ways), and,
// given `--old-river PATH`, an older build's `river proxy` as a process (e.g. the ZMTP-on-SwiftNIO
// proxy before libzmq, from a `git worktree` release build).
//
//   swift run -c release BrokerBenchmark [--small N] [--frames N] [--pings N] [--old-river PATH]
//
// The worker is the real `BrokerWorker` answering at once (the `river onnx --echo` handler); the
// proxy is the real `BrokerProxy`. The client is a bare DEALER (via proxy) or ROUTER (direct: the
// worker connects to it as it would to a proxy) speaking the wire protocol with `WireCodec`, so the
// only difference between the columns is the proxy hop. Throughput is pipelined (a window of
// requests in flight); latency is one request at a time, so queueing does not hide the hop's cost.

import CZMQ
import Foundation
import Logging
import RiverBroker
import RiverCore

struct Options {
    var small = 200_000
    var frames = 3_000
    var pings = 3_000
    var window = 64
    var frameWindow = 8
    var oldRiver: String?

    init() {
        var arguments = CommandLine.arguments.dropFirst().makeIterator()
        while let flag = arguments.next() {
            if flag == "--old-river" {
                oldRiver = arguments.next()
                continue
            }
            guard let value = arguments.next().flatMap(Int.init) else { fatalError("\(flag) needs a number") }
            switch flag {
            case "--small": small = value
            case "--frames": frames = value
            case "--pings": pings = value
            case "--window": window = value
            default: fatalError("unknown option \(flag)")
            }
        }
    }
}

/// A bare libzmq socket for the benchmark's client side.
final class BenchSocket {
    let handle: UnsafeMutableRawPointer
    let routed: Bool
    var peer: [UInt8] = []

    init(context: UnsafeMutableRawPointer, type: Int32, curve: PeerCurve? = nil) {
        handle = zmq_socket(context, type)!
        routed = type == ZMQ_ROUTER
        var zero: Int32 = 0
        zmq_setsockopt(handle, ZMQ_LINGER, &zero, 4)
        var hwm: Int32 = 1_000_000
        zmq_setsockopt(handle, ZMQ_SNDHWM, &hwm, 4)
        zmq_setsockopt(handle, ZMQ_RCVHWM, &hwm, 4)
        if let curve {
            for (option, key) in [
                (ZMQ_CURVE_SERVERKEY, curve.proxyKey), (ZMQ_CURVE_PUBLICKEY, curve.keyPair.publicKey),
                (ZMQ_CURVE_SECRETKEY, curve.keyPair.secretKey),
            ] {
                _ = key.bytes.withUnsafeBytes { zmq_setsockopt(handle, option, $0.baseAddress, 32) }
            }
        }
    }

    deinit { zmq_close(handle) }

    /// Sends header and pixels; the pixels go without copying (the caller keeps them alive).
    func send(header: [UInt8], pixels: UnsafeMutableRawBufferPointer) {
        if routed { _ = peer.withUnsafeBytes { zmq_send(handle, $0.baseAddress, $0.count, ZMQ_SNDMORE) } }
        _ = header.withUnsafeBytes { zmq_send(handle, $0.baseAddress, $0.count, ZMQ_SNDMORE) }
        var message = zmq_msg_t()
        zmq_msg_init_data(&message, pixels.baseAddress, pixels.count, nil, nil)
        zmq_msg_send(&message, handle, 0)
    }

    /// Receives one message; returns the decoded header (envelope and body skipped).
    func receive() -> WireMessage? {
        var frames: [[UInt8]] = []
        var more = true
        while more {
            var message = zmq_msg_t()
            zmq_msg_init(&message)
            zmq_msg_recv(&message, handle, 0)
            // Only headers are kept: copying the body would charge the client for it.
            let keep = frames.count < (routed ? 2 : 1)
            frames.append(
                keep
                    ? Array(
                        UnsafeRawBufferPointer(start: zmq_msg_data(&message), count: zmq_msg_size(&message)))
                    : [])
            more = zmq_msg_more(&message) != 0
            zmq_msg_close(&message)
        }
        if routed {
            peer = frames.removeFirst()
        }
        return frames[0].withUnsafeBytes {
            try? WireCodec.decode(header: $0, frameCount: frames.count, bodyCount: 0)
        }
    }

    /// In direct mode, waits for the worker's READY and remembers its routing id.
    func awaitReady() {
        while true {
            if case .ready = receive() { return }
        }
    }

    func answerHeartbeat() {
        if routed { _ = peer.withUnsafeBytes { zmq_send(handle, $0.baseAddress, $0.count, ZMQ_SNDMORE) } }
        let beat = WireCodec.encode(.heartbeat)
        _ = beat.withUnsafeBytes { zmq_send(handle, $0.baseAddress, $0.count, 0) }
    }
}

struct Measurement {
    var rate: Double
    var p50: Double
    var p99: Double
}

/// Sends `count` requests with up to `window` in flight; returns msgs/s and latency percentiles (µs).
func run(
    _ socket: BenchSocket, width: Int, height: Int, count: Int, window: Int, format: PixelFormat? = nil
) -> Measurement {
    // 32x21 I420 is exactly 1 KiB; large frames are RGB24 unless said (serve sends I420).
    let frame = VideoFrame(
        packedWidth: width, height: height, format: format ?? (width == 32 ? .i420 : .rgb24))
    let pixels = UnsafeMutableRawBufferPointer.allocate(byteCount: frame.data.count, alignment: 64)
    defer { pixels.deallocate() }
    pixels.initializeMemory(as: UInt8.self, repeating: 7)
    var template = try! RequestHeader(frame: frame, requestID: 0, streamID: 1, budgetMicros: 10_000_000)
    var sentAt = [Instant](repeating: .zero, count: count + 1)
    var latencies: [Double] = []
    latencies.reserveCapacity(count)
    var sent = 0
    var done = 0
    let start = Instant.now
    func sendOne() {
        sent += 1
        template.requestID = UInt64(sent)
        sentAt[sent] = .now
        socket.send(header: WireCodec.encode(.request(template)), pixels: pixels)
    }
    while sent < min(window, count) { sendOne() }
    while done < count {
        switch socket.receive() {
        case .reply(let header):
            latencies.append((Instant.now - sentAt[Int(header.requestID)]).seconds * 1e6)
            done += 1
            if sent < count { sendOne() }
        case .heartbeat:
            socket.answerHeartbeat()
        case .error(let header):
            fatalError("request \(header.requestID) refused: \(header.code)")
        default:
            break
        }
    }
    let seconds = (Instant.now - start).seconds
    latencies.sort()
    return Measurement(
        rate: Double(count) / seconds, p50: latencies[latencies.count / 2],
        p99: latencies[min(latencies.count - 1, latencies.count * 99 / 100)])
}

/// CPU seconds used so far by the threads of process `pid` ("self" for this one) whose names
/// `counts` accepts. Unlike wall-clock rates, this does not depend on how busy the rest of the
/// machine is.
func cpuSeconds(pid: String, _ counts: (String) -> Bool) -> Double {
    let tasks = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/task")) ?? []
    var ticks = 0
    for task in tasks {
        let comm = (try? String(contentsOfFile: "/proc/\(pid)/task/\(task)/comm", encoding: .utf8)) ?? ""
        guard counts(comm.trimmingCharacters(in: .whitespacesAndNewlines)) else { continue }
        let stat = (try? String(contentsOfFile: "/proc/\(pid)/task/\(task)/stat", encoding: .utf8)) ?? ""
        // Fields after the parenthesised name: state is first, utime and stime 12th and 13th.
        let fields = stat.split(separator: ")").last?.split(separator: " ") ?? []
        guard fields.count > 12 else { continue }
        ticks += (Int(fields[11]) ?? 0) + (Int(fields[12]) ?? 0)
    }
    return Double(ticks) / Double(sysconf(Int32(_SC_CLK_TCK)))
}

/// One proxy under test, with its own worker, and the client socket that reaches it.
struct ProxyUnderTest {
    var name: String
    var socket: BenchSocket
    /// The proxy's CPU seconds so far: its loop thread and libzmq I/O thread in this process, or
    /// every thread of the old proxy's process.
    var cpu: () -> Double
    var counters: () -> String
    var stop: () -> Void
}

let options = Options()
let context = zmq_ctx_new()!
let echo: WorkHandler = { request in
    WorkResult(document: Array("{\"echo\":true,\"bytes\":\(request.header.byteCount)}".utf8))
}
let slots = max(options.window, options.frameWindow)

// Direct: the worker connects to the benchmark's ROUTER as if it were a proxy.
let direct = BenchSocket(context: context, type: ZMQ_ROUTER)
zmq_bind(direct.handle, "tcp://127.0.0.1:*")
var endpoint = [CChar](repeating: 0, count: 256)
var size = endpoint.count
zmq_getsockopt(direct.handle, ZMQ_LAST_ENDPOINT, &endpoint, &size)
let directWorker = BrokerWorker(
    connect: String(decoding: endpoint.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self),
    // The benchmark's ROUTER never heartbeats; a long interval keeps the worker from giving up on it.
    configuration: WorkerConfiguration(slots: slots, name: "direct", heartbeatInterval: .seconds(600)),
    handler: echo)
direct.awaitReady()

let inProcessProxyThreads: (String) -> Bool = {
    $0 == "river-proxy" || $0.hasPrefix("\(BrokerProxy.ioThreadNamePrefix)/ZMQbg")
}

/// This build's proxy in this process, NULL or CURVE, with an identical worker behind it.
/// The proxies' start and worker departures would interleave with the table.
let quiet = {
    var logger = Logger(label: "river.proxy")
    logger.logLevel = .error
    return logger
}()

@MainActor func inProcessProxy(curve: Bool) throws -> ProxyUnderTest {
    let proxyKeys = try CurveKeyPair.generate()
    let clientKeys = try CurveKeyPair.generate()
    let workerKeys = try CurveKeyPair.generate()
    let proxy = try BrokerProxy(
        frontend: "tcp://127.0.0.1:*", backend: "tcp://127.0.0.1:*",
        curve: curve
            ? ProxyCurve(keyPair: proxyKeys, clients: [clientKeys.publicKey], workers: [workerKeys.publicKey])
            : nil,
        logger: quiet, statsInterval: nil)
    let worker = BrokerWorker(
        connect: proxy.backendEndpoint,
        configuration: WorkerConfiguration(
            slots: slots, name: "proxied",
            curve: curve ? PeerCurve(proxyKey: proxyKeys.publicKey, keyPair: workerKeys) : nil),
        handler: echo)
    let socket = BenchSocket(
        context: context, type: ZMQ_DEALER,
        curve: curve ? PeerCurve(proxyKey: proxyKeys.publicKey, keyPair: clientKeys) : nil)
    zmq_connect(socket.handle, proxy.frontendEndpoint)
    while proxy.counters.freeSlots < slots { usleep(10_000) }
    return ProxyUnderTest(
        name: curve ? "CURVE" : "NULL", socket: socket,
        cpu: { cpuSeconds(pid: "self", inProcessProxyThreads) },
        counters: {
            let c = proxy.counters
            return "requests \(c.requests), answered \(c.answered), queued \(c.queued), expired \(c.expired)"
        },
        stop: {
            worker.stop()
            proxy.stop()
        })
}

/// An older build's `river proxy` as a process (NULL), with this build's worker behind it.
@MainActor func oldProxy(_ binary: String) throws -> ProxyUnderTest {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: binary)
    process.arguments = [
        "proxy", "--frontend", "tcp://127.0.0.1:*", "--backend", "tcp://127.0.0.1:*", "--stats-seconds", "0",
    ]
    let output = Pipe()
    process.standardOutput = output
    process.standardError = FileHandle.nullDevice
    try process.run()
    // The ready line: `river proxy frontend=tcp://… backend=tcp://…`.
    var line = ""
    while !line.hasSuffix("\n") {
        let byte = output.fileHandleForReading.readData(ofLength: 1)
        guard !byte.isEmpty else { fatalError("\(binary) proxy exited before it was ready") }
        line += String(decoding: byte, as: UTF8.self)
    }
    func field(_ name: String) -> String {
        line.split(separator: " ").first { $0.hasPrefix("\(name)=") }.map {
            String($0.dropFirst(name.count + 1)).trimmingCharacters(in: .whitespacesAndNewlines)
        } ?? ""
    }
    let worker = BrokerWorker(
        connect: field("backend"), configuration: WorkerConfiguration(slots: slots, name: "old"),
        handler: echo)
    let socket = BenchSocket(context: context, type: ZMQ_DEALER)
    zmq_connect(socket.handle, field("frontend"))
    awaitWorker(socket)
    let pid = "\(process.processIdentifier)"
    return ProxyUnderTest(
        name: "old", socket: socket, cpu: { cpuSeconds(pid: pid) { _ in true } },
        counters: { "(another process)" },
        stop: {
            worker.stop()
            process.terminate()
            process.waitUntilExit()
        })
}

/// Sends one small request at a time until one is answered: the worker has registered.
func awaitWorker(_ socket: BenchSocket) {
    let frame = VideoFrame(packedWidth: 32, height: 21, format: .i420)
    var pixels = frame.data
    let header = try! RequestHeader(frame: frame, requestID: 1, streamID: 1, budgetMicros: 1_000_000)
    while true {
        pixels.withUnsafeMutableBytes { socket.send(header: WireCodec.encode(.request(header)), pixels: $0) }
        switch socket.receive() {
        case .reply: return
        case .heartbeat: socket.answerHeartbeat()
        default: usleep(50_000)
        }
    }
}

/// What one proxy measured, in the order of the rows printed.
struct Results {
    var name: String
    var small: Measurement
    var frames: Measurement
    var smallCPU: Double
    var frameCPU: Double
    var ping: Measurement
    var framePing: Measurement
    var i420: Measurement
    var i420CPU: Double
    var i420Ping: Measurement
}

@MainActor func measure(_ subject: ProxyUnderTest) -> Results {
    _ = run(subject.socket, width: 32, height: 21, count: 5_000, window: options.window)
    var before = subject.cpu()
    let small = run(subject.socket, width: 32, height: 21, count: options.small, window: options.window)
    let smallCPU = (subject.cpu() - before) / Double(options.small) * 1e6
    before = subject.cpu()
    let frames = run(
        subject.socket, width: 640, height: 480, count: options.frames, window: options.frameWindow)
    let frameCPU = (subject.cpu() - before) / Double(options.frames) * 1e6
    let ping = run(subject.socket, width: 32, height: 21, count: options.pings, window: 1)
    let framePing = run(subject.socket, width: 640, height: 480, count: options.pings / 3, window: 1)
    before = subject.cpu()
    let i420 = run(
        subject.socket, width: 640, height: 480, count: options.frames, window: options.frameWindow,
        format: .i420)
    let i420CPU = (subject.cpu() - before) / Double(options.frames) * 1e6
    let i420Ping = run(
        subject.socket, width: 640, height: 480, count: options.pings / 3, window: 1, format: .i420)
    print("  \(subject.name): \(subject.counters())")
    return Results(
        name: subject.name, small: small, frames: frames, smallCPU: smallCPU, frameCPU: frameCPU, ping: ping,
        framePing: framePing, i420: i420, i420CPU: i420CPU, i420Ping: i420Ping)
}

print("river broker benchmark: direct vs through the proxy (one run, same machine)")
print(
    "cases: 1 KiB = 32x21 I420 (1,024 B); 640x480 RGB24 (921,600 B); 640x480 I420 (460,800 B, what serve sends);"
        + " window = requests in flight")
print("proxies: NULL and CURVE = this build (libzmq), in process; old = --old-river's river proxy\n")

_ = run(direct, width: 32, height: 21, count: 5_000, window: options.window)
let directSmall = run(direct, width: 32, height: 21, count: options.small, window: options.window)
let directFrames = run(direct, width: 640, height: 480, count: options.frames, window: options.frameWindow)
let directPing = run(direct, width: 32, height: 21, count: options.pings, window: 1)
let directFramePing = run(direct, width: 640, height: 480, count: options.pings / 3, window: 1)
let directI420 = run(
    direct, width: 640, height: 480, count: options.frames, window: options.frameWindow, format: .i420)
let directI420Ping = run(direct, width: 640, height: 480, count: options.pings / 3, window: 1, format: .i420)

var results: [Results] = []
var subjects: [() throws -> ProxyUnderTest] = []
if let old = options.oldRiver { subjects.append { try oldProxy(old) } }
subjects.append { try inProcessProxy(curve: false) }
subjects.append { try inProcessProxy(curve: true) }
for make in subjects {
    // One at a time: a proxy never competes with another for the cores.
    let subject = try make()
    results.append(measure(subject))
    subject.stop()
}

let pad = { (s: String, n: Int) in s.padding(toLength: n, withPad: " ", startingAt: 0) }
let baseline = results.first { $0.name == "old" } ?? results.first { $0.name == "NULL" }!
print(
    "\nthroughput (pipelined)          direct "
        + results.map { pad(String(repeating: " ", count: max(0, 9 - $0.name.count)) + $0.name, 10) }.joined()
)
for (name, pick, directValue) in [
    ("1 KiB, window \(options.window), msgs/s", { (r: Results) in r.small }, directSmall),
    ("640x480 RGB, window \(options.frameWindow), frames/s", { (r: Results) in r.frames }, directFrames),
    ("640x480 I420, window \(options.frameWindow), frames/s", { (r: Results) in r.i420 }, directI420),
] {
    print(
        pad(name, 32) + String(format: "%6.0f ", directValue.rate)
            + results.map { String(format: "%9.0f ", pick($0).rate) }.joined())
    print(
        pad("  ratio to direct", 39)
            + results.map { String(format: "%9.2f ", pick($0).rate / directValue.rate) }.joined())
    print(
        pad("  ratio to \(baseline.name)", 39)
            + results.map { String(format: "%9.2f ", pick($0).rate / pick(baseline).rate) }.joined())
}
print(
    "\nproxy CPU per request (µs)" + String(repeating: " ", count: 13)
        + results.map { pad(String(repeating: " ", count: max(0, 9 - $0.name.count)) + $0.name, 10) }.joined()
)
print(pad("  1 KiB", 39) + results.map { String(format: "%9.1f ", $0.smallCPU) }.joined())
print(pad("  640x480 RGB", 39) + results.map { String(format: "%9.1f ", $0.frameCPU) }.joined())
print(pad("  640x480 I420", 39) + results.map { String(format: "%9.1f ", $0.i420CPU) }.joined())

print("\nlatency added by the proxy, p50 / p99 (µs; direct p50 / p99 in brackets)")
for (name, pick, directValue) in [
    ("1 KiB, one at a time", { (r: Results) in r.ping }, directPing),
    ("640x480 RGB, one at a time", { (r: Results) in r.framePing }, directFramePing),
    ("640x480 I420, one at a time", { (r: Results) in r.i420Ping }, directI420Ping),
    ("1 KiB, window \(options.window)", { (r: Results) in r.small }, directSmall),
    ("640x480 RGB, window \(options.frameWindow)", { (r: Results) in r.frames }, directFrames),
    ("640x480 I420, window \(options.frameWindow)", { (r: Results) in r.i420 }, directI420),
] {
    print(
        pad(name, 30) + String(format: "[%6.0f / %6.0f]", directValue.p50, directValue.p99)
            + results.map {
                String(
                    format: "  %@ %+6.0f / %+6.0f", $0.name, pick($0).p50 - directValue.p50,
                    pick($0).p99 - directValue.p99)
            }.joined())
}
directWorker.stop()
exit(0)
