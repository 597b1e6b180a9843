// Broker benchmark: client ↔ worker directly vs through `river proxy`, in one run, side by side.
//
//   swift run -c release BrokerBenchmark [--small N] [--frames N] [--pings N]
//
// The worker is the real `BrokerWorker` answering at once (the `river onnx --echo` handler); the
// proxy is the real `BrokerProxy`. The client is a bare DEALER (via proxy) or ROUTER (direct: the
// worker connects to it as it would to a proxy) speaking the wire protocol with `WireCodec`, so the
// only difference between the two columns is the proxy hop. Throughput is pipelined (a window of
// requests in flight); latency is one request at a time, so queueing does not hide the hop's cost.

import CZMQ
import Foundation
import RiverBroker
import RiverCore

struct Options {
    var small = 200_000
    var frames = 3_000
    var pings = 3_000
    var window = 64
    var frameWindow = 8

    init() {
        var arguments = CommandLine.arguments.dropFirst().makeIterator()
        while let flag = arguments.next() {
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

    init(context: UnsafeMutableRawPointer, type: Int32) {
        handle = zmq_socket(context, type)!
        routed = type == ZMQ_ROUTER
        var zero: Int32 = 0
        zmq_setsockopt(handle, ZMQ_LINGER, &zero, 4)
        var hwm: Int32 = 1_000_000
        zmq_setsockopt(handle, ZMQ_SNDHWM, &hwm, 4)
        zmq_setsockopt(handle, ZMQ_RCVHWM, &hwm, 4)
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
func run(_ socket: BenchSocket, width: Int, height: Int, count: Int, window: Int) -> Measurement {
    // 32x21 I420 is exactly 1 KiB; the large case is RGB24.
    let frame = VideoFrame(packedWidth: width, height: height, format: width == 32 ? .i420 : .rgb24)
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

/// CPU seconds used so far by the proxy's one thread ("river-proxy": it reads, routes and writes).
/// Unlike wall-clock rates, this does not depend on how busy the rest of the machine is.
func proxyCPUSeconds() -> Double {
    let tasks = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/task")) ?? []
    var ticks = 0
    for task in tasks {
        let comm = (try? String(contentsOfFile: "/proc/self/task/\(task)/comm", encoding: .utf8)) ?? ""
        guard comm.trimmingCharacters(in: .whitespacesAndNewlines) == "river-proxy" else { continue }
        let stat = (try? String(contentsOfFile: "/proc/self/task/\(task)/stat", encoding: .utf8)) ?? ""
        // Fields after the parenthesised name: state is first, utime and stime 12th and 13th.
        let fields = stat.split(separator: ")").last?.split(separator: " ") ?? []
        guard fields.count > 12 else { continue }
        ticks += (Int(fields[11]) ?? 0) + (Int(fields[12]) ?? 0)
    }
    return Double(ticks) / Double(sysconf(Int32(_SC_CLK_TCK)))
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

// Through the proxy: an identical worker behind a real BrokerProxy.
let proxy = try BrokerProxy(frontend: "tcp://127.0.0.1:*", backend: "tcp://127.0.0.1:*", statsInterval: nil)
let proxiedWorker = BrokerWorker(
    connect: proxy.backendEndpoint, configuration: WorkerConfiguration(slots: slots, name: "proxied"),
    handler: echo)
let viaProxy = BenchSocket(context: context, type: ZMQ_DEALER)
zmq_connect(viaProxy.handle, proxy.frontendEndpoint)
while proxy.counters.freeSlots < slots { usleep(10_000) }

print("river broker benchmark: direct vs through the proxy (one run, same machine)")
print("cases: 1 KiB = 32x21 I420 (1,024 B); 640x480 RGB24 (921,600 B); window = requests in flight\n")
func row(_ name: String, _ d: Measurement, _ p: Measurement, unit: String) {
    let pad = { (s: String, n: Int) in s.padding(toLength: n, withPad: " ", startingAt: 0) }
    print(
        pad(name, 34) + pad(String(format: "%10.0f", d.rate), 12) + pad(String(format: "%10.0f", p.rate), 12)
            + String(format: "  ratio %.2f  %@", p.rate / d.rate, unit))
}
func latencyRow(_ name: String, _ d: Measurement, _ p: Measurement) {
    print(
        name.padding(toLength: 34, withPad: " ", startingAt: 0)
            + String(
                format: "p50 %7.1f / %7.1f µs (added %+6.1f)   p99 %7.1f / %7.1f µs (added %+6.1f)", d.p50,
                p.p50,
                p.p50 - d.p50, d.p99, p.p99, p.p99 - d.p99))
}
print("throughput (pipelined)".padding(toLength: 34, withPad: " ", startingAt: 0) + "    direct     proxied")

// Warm both paths, then measure them alternately so drifting machine load hits both alike.
_ = run(direct, width: 32, height: 21, count: 5_000, window: options.window)
_ = run(viaProxy, width: 32, height: 21, count: 5_000, window: options.window)
let smallDirect = run(direct, width: 32, height: 21, count: options.small, window: options.window)
let cpuBeforeSmall = proxyCPUSeconds()
let smallProxy = run(viaProxy, width: 32, height: 21, count: options.small, window: options.window)
let smallCPU = (proxyCPUSeconds() - cpuBeforeSmall) / Double(options.small) * 1e6
row("1 KiB, window \(options.window)", smallDirect, smallProxy, unit: "msgs/s")
let frameDirect = run(direct, width: 640, height: 480, count: options.frames, window: options.frameWindow)
let cpuBeforeFrames = proxyCPUSeconds()
let frameProxy = run(viaProxy, width: 640, height: 480, count: options.frames, window: options.frameWindow)
let frameCPU = (proxyCPUSeconds() - cpuBeforeFrames) / Double(options.frames) * 1e6
row("640x480 RGB, window \(options.frameWindow)", frameDirect, frameProxy, unit: "frames/s")

for (name, cpu, unit) in [("1 KiB", smallCPU, "msgs/s"), ("640x480 RGB", frameCPU, "frames/s")] {
    print(
        "proxy CPU per request, \(name)".padding(toLength: 36, withPad: " ", startingAt: 0)
            + String(format: "%6.1f µs  (one core: %.0f %@)", cpu, 1e6 / cpu, unit))
}
print("\nlatency (one request at a time)     direct / proxied")
let pingDirect = run(direct, width: 32, height: 21, count: options.pings, window: 1)
let pingProxy = run(viaProxy, width: 32, height: 21, count: options.pings, window: 1)
latencyRow("1 KiB", pingDirect, pingProxy)
let framePingDirect = run(direct, width: 640, height: 480, count: options.pings / 3, window: 1)
let framePingProxy = run(viaProxy, width: 640, height: 480, count: options.pings / 3, window: 1)
latencyRow("640x480 RGB", framePingDirect, framePingProxy)
print("\nlatency under the pipelined load above: direct / proxied")
latencyRow("1 KiB, window \(options.window)", smallDirect, smallProxy)
latencyRow("640x480 RGB, window \(options.frameWindow)", frameDirect, frameProxy)

let c = proxy.counters
print("\nproxy: requests \(c.requests), answered \(c.answered), queued \(c.queued), expired \(c.expired)")
directWorker.stop()
proxiedWorker.stop()
proxy.stop()
exit(0)
