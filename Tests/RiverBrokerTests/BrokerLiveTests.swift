import CZMQ
import Foundation
import RiverCore
import RiverTestSupport
import Testing

@testable import RiverBroker

/// Proxy, workers and client in this process, over real ZeroMQ sockets on 127.0.0.1.
@Suite(.serialized) struct BrokerLiveTests {
    @Test func requestsRoundTripThroughTheProxy() async throws {
        let proxy = try BrokerProxy(
            frontend: "tcp://127.0.0.1:*", backend: "tcp://127.0.0.1:*", statsInterval: nil)
        defer { proxy.stop() }
        let worker = BrokerWorker(
            connect: proxy.backendEndpoint, configuration: WorkerConfiguration(slots: 2)
        ) {
            request in
            // Echo back what the worker saw, to prove header and pixels arrived intact.
            let frame = try request.frame()
            let sum = frame.data.reduce(0) { $0 &+ Int($1) }
            return WorkResult(
                document: Array("\(frame.width)x\(frame.height) \(frame.rtpTimestamp) \(sum)".utf8))
        }
        defer { worker.stop() }
        let client = BrokerClient(connect: proxy.frontendEndpoint)
        defer { client.close() }
        #expect(await waitUntil { proxy.counters.workersAlive == 1 })

        // 640x480 RGB: large enough for the zero-copy path on every hop.
        var frame = VideoFrame(packedWidth: 640, height: 480, format: .rgb24, rtpTimestamp: 1234)
        for index in stride(from: 0, to: frame.data.count, by: 997) { frame.data[index] = 3 }
        let expectedSum = frame.data.reduce(0) { $0 + Int($1) }
        let reply = try await client.infer(frame: frame, streamID: 9, deadline: Instant.now + .seconds(5))
        #expect(String(decoding: reply.document, as: UTF8.self) == "640x480 1234 \(expectedSum)")
        #expect(reply.streamID == 9)
        #expect(reply.rtpTimestamp == 1234)
        #expect(reply.status == .ok)

        // Many in flight at once, all matched to the right caller.
        let results = await withTaskGroup(of: (UInt32, String?).self) { group in
            for rtp in UInt32(1)...64 {
                group.addTask {
                    let reply = try? await client.infer(
                        frame: smallFrame(rtp), streamID: 1, deadline: Instant.now + .seconds(10))
                    return (rtp, reply.map { String(decoding: $0.document, as: UTF8.self) })
                }
            }
            return await group.reduce(into: []) { $0.append($1) }
        }
        #expect(results.count == 64)
        for (rtp, document) in results { #expect(document?.hasPrefix("16x16 \(rtp) ") == true) }
        // Counters are published after the reply is handed over: allow a moment.
        #expect(await waitUntil { client.counters.answered == 65 && client.counters.sent == 65 })
    }

    /// Two workers, one four times slower, each with one slot; the client keeps exactly as many
    /// requests in flight as there are slots.
    @Test func fastWorkerServesProportionallyMoreAndNothingWaitsWhileASlotIsFree() async throws {
        let proxy = try BrokerProxy(
            frontend: "tcp://127.0.0.1:*", backend: "tcp://127.0.0.1:*", statsInterval: nil)
        defer { proxy.stop() }
        let fast = BrokerWorker(
            connect: proxy.backendEndpoint, configuration: WorkerConfiguration(slots: 1, name: "fast"),
            handler: sleepyHandler("fast", delay: .milliseconds(5)))
        defer { fast.stop() }
        let slow = BrokerWorker(
            connect: proxy.backendEndpoint, configuration: WorkerConfiguration(slots: 1, name: "slow"),
            handler: sleepyHandler("slow", delay: .milliseconds(25)))
        defer { slow.stop() }
        let client = BrokerClient(connect: proxy.frontendEndpoint)
        defer { client.close() }
        #expect(await waitUntil { proxy.counters.freeSlots == 2 })

        let end = ContinuousClock.now + .milliseconds(1500)
        let served = await withTaskGroup(of: [String: Int].self) { group in
            for _ in 0..<2 {
                group.addTask {
                    var tally: [String: Int] = [:]
                    while ContinuousClock.now < end {
                        let (result, _) = await client.attempt(budget: .seconds(5))
                        if case .success(let reply) = result {
                            tally[String(decoding: reply.document, as: UTF8.self), default: 0] += 1
                        }
                    }
                    return tally
                }
            }
            return await group.reduce(into: [:]) { total, tally in total.merge(tally, uniquingKeysWith: +) }
        }
        let fastCount = served["{\"worker\":\"fast\"}"] ?? 0
        let slowCount = served["{\"worker\":\"slow\"}"] ?? 0
        #expect(slowCount > 0)
        // 25 ms against 5 ms is 5:1 in theory; scheduling noise on a loaded box only narrows it.
        #expect(fastCount > 2 * slowCount, "fast \(fastCount), slow \(slowCount)")
        #expect(proxy.counters.queued == 0, "a request waited while a slot was free")
        #expect(proxy.counters.answered == fastCount + slowCount)
        // Per-worker figures are refreshed every 20 ms.
        try await Task.sleep(for: .milliseconds(100))
        let stats = Dictionary(uniqueKeysWithValues: proxy.workers.map { ($0.name, $0.dispatched) })
        #expect(stats["fast"] == fastCount)
        #expect(stats["slow"] == slowCount)
    }

    /// A request made before any proxy exists waits in the client and goes once one appears.
    @Test func requestsWaitForTheProxyToAppear() async throws {
        let frontend = "tcp://127.0.0.1:\(try freePort())"
        let backend = "tcp://127.0.0.1:\(try freePort())"
        let client = BrokerClient(connect: frontend)
        defer { client.close() }
        async let early = client.attempt(budget: .seconds(5))
        try await Task.sleep(for: .milliseconds(300))
        let proxy = try BrokerProxy(frontend: frontend, backend: backend, statsInterval: nil)
        defer { proxy.stop() }
        let worker = BrokerWorker(connect: backend, handler: sleepyHandler("late", delay: .zero))
        defer { worker.stop() }
        #expect(Outcome(await early.0) == .reply("{\"worker\":\"late\"}"))
        // Short deadlines still end on time while nothing is there to take them.
        proxy.stop()
        // Give ZeroMQ a moment to notice the closed connection, so the request is not sent into it.
        try await Task.sleep(for: .milliseconds(300))
        let (result, elapsed) = await client.attempt(budget: .milliseconds(200))
        #expect(Outcome(result) == .other("\(BrokerError.notConnected(endpoint: frontend))"))
        #expect(elapsed < .seconds(2))
    }

    @Test func queuedRequestsPastTheirDeadlineAreAnsweredExpired() async throws {
        let proxy = try BrokerProxy(
            frontend: "tcp://127.0.0.1:*", backend: "tcp://127.0.0.1:*", statsInterval: nil)
        defer { proxy.stop() }
        let worker = BrokerWorker(
            connect: proxy.backendEndpoint, configuration: WorkerConfiguration(slots: 1),
            handler: sleepyHandler("w", delay: .milliseconds(800)))
        defer { worker.stop() }
        let client = BrokerClient(connect: proxy.frontendEndpoint)
        defer { client.close() }
        #expect(await waitUntil { proxy.counters.freeSlots == 1 })
        async let first = client.attempt(budget: .seconds(5))
        try await Task.sleep(for: .milliseconds(50))
        // The only slot is busy for 800 ms; this one may wait 100 ms.
        let (second, elapsed) = await client.attempt(budget: .milliseconds(100))
        #expect(Outcome(second) == .rejected(.expired))
        #expect(elapsed < .milliseconds(600), "answered at the deadline, not when the slot freed")
        #expect(Outcome(await first.0) == .reply("{\"worker\":\"w\"}"))
        #expect(proxy.counters.expired == 1)
        #expect(proxy.counters.dispatched == 1, "the expired request was never dispatched")
    }

    /// A worker that hangs past the deadline: the proxy answers ERROR(expired) at the deadline
    /// (before the client's own timeout, deadline + 250 ms), and the hung slot is not given out
    /// again until the worker answers; then the late answer is dropped and the slot serves again.
    @Test func inFlightRequestsPastTheirDeadlineAreAnsweredExpiredAndTheSlotWaits() async throws {
        let proxy = try BrokerProxy(
            frontend: "tcp://127.0.0.1:*", backend: "tcp://127.0.0.1:*", statsInterval: nil)
        defer { proxy.stop() }
        let worker = BrokerWorker(
            connect: proxy.backendEndpoint, configuration: WorkerConfiguration(slots: 1),
            handler: sleepyHandler("w", delay: .milliseconds(900)))
        defer { worker.stop() }
        let client = BrokerClient(connect: proxy.frontendEndpoint)
        defer { client.close() }
        #expect(await waitUntil { proxy.counters.freeSlots == 1 })
        let (first, elapsed) = await client.attempt(budget: .milliseconds(150))
        #expect(Outcome(first) == .rejected(.expired))
        #expect(elapsed < .milliseconds(380), "the proxy answered at the deadline: \(elapsed)")
        #expect(proxy.counters.expiredInFlight == 1 && proxy.counters.freeSlots == 0)
        // The next one waits for the hung slot, which frees when the late answer arrives.
        let (second, _) = await client.attempt(budget: .seconds(5))
        #expect(Outcome(second) == .reply("{\"worker\":\"w\"}"))
        #expect(proxy.counters.lateReplies == 1 && proxy.counters.answered == 1)
    }

    /// Garbage on both proxy sockets is refused and counted while a real client and worker keep
    /// being served.
    @Test func malformedMessagesAreRefusedCountedAndEveryoneElseIsServed() async throws {
        let proxy = try BrokerProxy(
            frontend: "tcp://127.0.0.1:*", backend: "tcp://127.0.0.1:*", statsInterval: nil)
        defer { proxy.stop() }
        let worker = BrokerWorker(
            connect: proxy.backendEndpoint, configuration: WorkerConfiguration(slots: 2),
            handler: sleepyHandler("w", delay: .zero))
        defer { worker.stop() }
        let client = BrokerClient(connect: proxy.frontendEndpoint)
        defer { client.close() }
        #expect(await waitUntil { proxy.counters.freeSlots == 2 })

        let valid = try RequestHeader(
            frame: smallFrame(), requestID: 41, streamID: 1, budgetMicros: 1_000_000)
        var badVersion = WireCodec.encode(.heartbeat)
        badVersion[2] = 7
        var claimsMore = valid
        claimsMore.byteCount = 2 * 768
        var badGeometry = valid
        badGeometry.strides = [4]
        let garbage: [[[UInt8]]] = [
            [WireCodec.encode(.request(valid))],  // wrong frame count: no pixels
            [WireCodec.encode(.heartbeat), [1], [2]],  // wrong frame count: extra frames
            [badVersion],
            // Truncated header.
            [Array(WireCodec.encode(.request(valid)).prefix(30)), [UInt8](repeating: 0, count: 768)],
            // Header claims more pixels than sent.
            [WireCodec.encode(.request(claimsMore)), [UInt8](repeating: 0, count: 768)],
            [WireCodec.encode(.request(badGeometry)), [UInt8](repeating: 0, count: 768)],
            [(0..<50).map { _ in UInt8.random(in: 0...255) }],  // random bytes
            [[]],  // an empty frame
        ]

        let context = ZMQContext()
        let rogueClient = try ZMQSocket(context, type: ZMQ_DEALER)
        defer { rogueClient.close() }
        try rogueClient.connect(proxy.frontendEndpoint)
        let rogueWorker = try ZMQSocket(context, type: ZMQ_DEALER)
        defer { rogueWorker.close() }
        try rogueWorker.connect(proxy.backendEndpoint)
        try await Task.sleep(for: .milliseconds(100))

        // Interleave garbage with real traffic.
        var answeredMeanwhile = 0
        for message in garbage {
            for socket in [rogueClient, rogueWorker] {
                for (index, frame) in message.enumerated() {
                    socket.send(frame, more: index < message.count - 1)
                }
            }
            if case .success = await client.attempt(budget: .seconds(5)).0 { answeredMeanwhile += 1 }
        }
        #expect(answeredMeanwhile == garbage.count)
        #expect(await waitUntil { proxy.counters.malformedFromClients == garbage.count })
        #expect(await waitUntil { proxy.counters.malformedFromWorkers == garbage.count })

        // The rogue client got one ERROR per message, each with a code saying why.
        var codes: [ErrorCode] = []
        var frames: [Frame] = []
        let end = ContinuousClock.now + .seconds(5)
        while codes.count < garbage.count, ContinuousClock.now < end {
            guard rogueClient.receive(into: &frames) else {
                try await Task.sleep(for: .milliseconds(5))
                continue
            }
            let message = try WireCodec.decode(
                header: frames[0].message.bytes, frameCount: frames.count,
                bodyCount: frames.count > 1 ? frames[1].count : 0)
            guard case .error(let header) = message else {
                Issue.record("expected ERROR, got \(message)")
                continue
            }
            codes.append(header.code)
            if header.code == .malformed, frames.count > 1 {
                #expect(!String(decoding: frames[1].message.bytes, as: UTF8.self).isEmpty)
            }
        }
        #expect(codes.count == garbage.count)
        #expect(codes.filter { $0 == .badVersion }.count == 1)
        #expect(codes.filter { $0 == .malformed }.count == garbage.count - 1)
        // The rogue worker's wrong version was answered too; nothing else it sent was.
        #expect(proxy.counters.workersAlive == 1)
        #expect(proxy.counters.dispatched == proxy.counters.answered)
        #expect(worker.counters.malformed == 0)
    }

    /// Bytes that are not ZMTP at all (an HTTP client, a port scanner) on either port: libzmq
    /// closes that connection, the proxy counts it, and everyone else is served.
    @Test func nonZMTPConnectionsAreClosedCountedAndEveryoneElseIsServed() async throws {
        let proxy = try BrokerProxy(
            frontend: "tcp://127.0.0.1:*", backend: "tcp://127.0.0.1:*", statsInterval: nil)
        defer { proxy.stop() }
        let worker = BrokerWorker(
            connect: proxy.backendEndpoint, configuration: WorkerConfiguration(slots: 1),
            handler: sleepyHandler("w", delay: .zero))
        defer { worker.stop() }
        let client = BrokerClient(connect: proxy.frontendEndpoint)
        defer { client.close() }
        #expect(await waitUntil { proxy.counters.freeSlots == 1 })

        let strays = [
            Array("GET / HTTP/1.1\r\nHost: river\r\n\r\n".utf8),
            (0..<200).map { _ in UInt8.random(in: 0...255) }.replacing([0xFF], with: [0xFE]),
        ]
        var closed = 0
        for endpoint in [proxy.frontendEndpoint, proxy.backendEndpoint] {
            for stray in strays {
                let fd = try connectTCP(endpoint)
                defer { close(fd) }
                _ = stray.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, 0) }
                // libzmq's greeting starts (its 10-byte signature); then the proxy hangs up.
                var buffer = [UInt8](repeating: 0, count: 4096)
                var total = 0
                while true {
                    let n = recv(fd, &buffer, buffer.count, 0)
                    if n <= 0 { break }
                    total += n
                }
                #expect(total >= 10, "the greeting came first")
                closed += 1
            }
            if case .success = await client.attempt(budget: .seconds(5)).0 {
            } else {
                Issue.record("the client was not served after a stray connection")
            }
        }
        #expect(closed == 4)
        #expect(await waitUntil { proxy.counters.brokenConnections == 4 })
        #expect(proxy.counters.workersAlive == 1)
        // No check on the malformed counts: libzmq still speaks ZMTP 1.0 to a peer whose first byte
        // is not 0xFF, so random bytes can arrive as a frame first, which the proxy then counts as
        // malformed. Either way it was counted and served nobody.
    }

    @Test func endpointsThatCannotBeBoundFailAtStartSayingWhichAndWhy() throws {
        let taken = try BrokerProxy(
            frontend: "tcp://127.0.0.1:*", backend: "tcp://127.0.0.1:*", statsInterval: nil)
        defer { taken.stop() }
        let cases: [(String, String)] = [
            ("ipc:///tmp/river.sock", "only tcp://"),
            ("tcp://127.0.0.1", "no port"),
            ("tcp://127.0.0.1:http", "port 'http'"),
            ("tcp://127.0.0.1:70000", "port '70000'"),
            (taken.frontendEndpoint, "cannot bind \(taken.frontendEndpoint)"),
        ]
        for (endpoint, reason) in cases {
            do {
                let proxy = try BrokerProxy(
                    frontend: endpoint, backend: "tcp://127.0.0.1:*", statsInterval: nil)
                proxy.stop()
                Issue.record("\(endpoint) was accepted")
            } catch {
                let text = "\(error)"
                #expect(text.contains(endpoint) && text.contains(reason), "\(text)")
            }
        }
    }
}
