// Broker benchmark: client ↔ worker directly vs through `river proxy`, in one run, side by side:
// the proxy with the NULL mechanism and with CURVE (RFC 26, every message encrypted both ways).
// (Until wire version 3 it also ran an older build's proxy as a process, `--old-river`; version 3
// peers refuse version 2 ones, so that comparison's figures stay in the README.)
//
//   swift run -c release BrokerBenchmark [--small N] [--frames N] [--pings N]
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

    /// `curve`: this socket is a CURVE client of that server key; `curveServer`: it is a CURVE
    /// server with that key pair (the direct CURVE path, where the benchmark stands in for a proxy).
    init(
        context: UnsafeMutableRawPointer, type: Int32, curve: PeerCurve? = nil,
        curveServer: CurveKeyPair? = nil
    ) {
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
        if let curveServer {
            var one: Int32 = 1
            zmq_setsockopt(handle, ZMQ_CURVE_SERVER, &one, 4)
            _ = curveServer.secretKey.bytes.withUnsafeBytes {
                zmq_setsockopt(handle, ZMQ_CURVE_SECRETKEY, $0.baseAddress, 32)
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
    /// The proxy's CPU seconds so far: its loop thread and libzmq I/O thread in this process.
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

/// Direct: the worker connects to the benchmark's ROUTER as if it were a proxy, with NULL or, to
/// compare with the CURVE proxy, with CURVE (then only the proxy's own decrypt and encrypt differ).
@MainActor func directPath(curve: Bool) throws -> (BenchSocket, BrokerWorker) {
    let serverKeys = try CurveKeyPair.generate()
    let socket = BenchSocket(context: context, type: ZMQ_ROUTER, curveServer: curve ? serverKeys : nil)
    zmq_bind(socket.handle, "tcp://127.0.0.1:*")
    var endpoint = [CChar](repeating: 0, count: 256)
    var size = endpoint.count
    zmq_getsockopt(socket.handle, ZMQ_LAST_ENDPOINT, &endpoint, &size)
    let worker = BrokerWorker(
        connect: String(decoding: endpoint.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self),
        // The benchmark's ROUTER never heartbeats; a long interval keeps the worker from giving up on it.
        configuration: WorkerConfiguration(
            slots: slots, name: "direct", heartbeatInterval: .seconds(600),
            curve: curve
                ? PeerCurve(proxyKey: serverKeys.publicKey, keyPair: try CurveKeyPair.generate()) : nil),
        handler: echo)
    socket.awaitReady()
    return (socket, worker)
}

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

/// The frames measured: what serve sent before wire version 3 (640×480 I420), what it sends now to
/// a 256×192 model (scaled to fit as it decodes), and RGB24 for scale.
let frameCases: [(name: String, width: Int, height: Int, format: PixelFormat)] = [
    ("640x480 RGB", 640, 480, .rgb24),
    ("640x480 I420", 640, 480, .i420),
    ("256x192 I420", 256, 192, .i420),
]

/// What one proxy (or the direct path) measured: 1 KiB messages, then each frame case.
struct Results {
    var name: String
    var small: Measurement
    var ping: Measurement
    var smallCPU: Double
    /// Per frame case, in `frameCases` order: pipelined, one at a time, proxy CPU per request (µs).
    var frames: [Measurement]
    var framePings: [Measurement]
    var frameCPU: [Double]
}

@MainActor func measure(_ socket: BenchSocket, name: String, cpu: () -> Double) -> Results {
    _ = run(socket, width: 32, height: 21, count: 5_000, window: options.window)
    var before = cpu()
    let small = run(socket, width: 32, height: 21, count: options.small, window: options.window)
    let smallCPU = (cpu() - before) / Double(options.small) * 1e6
    let ping = run(socket, width: 32, height: 21, count: options.pings, window: 1)
    var results = Results(
        name: name, small: small, ping: ping, smallCPU: smallCPU, frames: [], framePings: [], frameCPU: [])
    for frame in frameCases {
        before = cpu()
        results.frames.append(
            run(
                socket, width: frame.width, height: frame.height, count: options.frames,
                window: options.frameWindow, format: frame.format))
        results.frameCPU.append((cpu() - before) / Double(options.frames) * 1e6)
        results.framePings.append(
            run(
                socket, width: frame.width, height: frame.height, count: options.pings / 3, window: 1,
                format: frame.format))
    }
    return results
}

print("river broker benchmark: direct vs through the proxy (one run, same machine)")
print(
    "cases: 1 KiB = 32x21 I420 (1,024 B); 640x480 RGB24 (921,600 B); 640x480 I420 (460,800 B, what serve"
        + " sent before wire version 3); 256x192 I420 (73,728 B, what serve sends a 256x192 model);"
        + " window = requests in flight")
print("proxies: NULL and CURVE = this build (libzmq), in process\n")

var directs: [Results] = []
for curve in [false, true] {
    let (socket, worker) = try directPath(curve: curve)
    directs.append(measure(socket, name: curve ? "direct CURVE" : "direct", cpu: { 0 }))
    worker.stop()
}
var results: [Results] = []
for curve in [false, true] {
    // One at a time: a proxy never competes with another for the cores.
    let subject = try inProcessProxy(curve: curve)
    results.append(measure(subject.socket, name: subject.name, cpu: subject.cpu))
    print("  \(subject.name): \(subject.counters())")
    subject.stop()
}
let directResults = directs[0]

let pad = { (s: String, n: Int) in s.padding(toLength: n, withPad: " ", startingAt: 0) }
let baseline = results[0]
let columns = results.map { pad(String(repeating: " ", count: max(0, 9 - $0.name.count)) + $0.name, 10) }
    .joined()
var throughput: [(String, (Results) -> Measurement)] = [
    ("1 KiB, window \(options.window), msgs/s", { $0.small })
]
var oneAtATime: [(String, (Results) -> Measurement)] = [("1 KiB, one at a time", { $0.ping })]
for (i, frame) in frameCases.enumerated() {
    throughput.append(("\(frame.name), window \(options.frameWindow), frames/s", { $0.frames[i] }))
    oneAtATime.append(("\(frame.name), one at a time", { $0.framePings[i] }))
}
print("\nthroughput (pipelined)          direct " + columns)
for (name, pick) in throughput {
    let directValue = pick(directResults)
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
print("\nproxy CPU per request (µs)" + String(repeating: " ", count: 13) + columns)
print(pad("  1 KiB", 39) + results.map { String(format: "%9.1f ", $0.smallCPU) }.joined())
for (i, frame) in frameCases.enumerated() {
    print(pad("  \(frame.name)", 39) + results.map { String(format: "%9.1f ", $0.frameCPU[i]) }.joined())
}

print(
    "\nlatency added by the proxy, p50 / p99 (µs; direct p50 / p99 in brackets; CURVE also against"
        + " direct CURVE, whose client and worker encrypt as through the proxy)")
let pipelined = throughput.map { (String($0.0.split(separator: ",").first!) + ", pipelined", $0.1) }
for (name, pick) in oneAtATime + pipelined {
    let plain = pick(directs[0])
    let curved = pick(directs[1])
    print(
        pad(name, 30) + String(format: "[%6.0f / %6.0f]", plain.p50, plain.p99)
            + results.map {
                String(
                    format: "  %@ %+6.0f / %+6.0f", $0.name, pick($0).p50 - plain.p50,
                    pick($0).p99 - plain.p99)
            }.joined()
            + String(
                format: "  CURVE vs direct CURVE [%6.0f / %6.0f] %+6.0f / %+6.0f", curved.p50, curved.p99,
                pick(results[1]).p50 - curved.p50, pick(results[1]).p99 - curved.p99))
}
exit(0)
