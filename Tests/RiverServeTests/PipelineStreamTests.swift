import Foundation
import Logging
import NIOCore
import NIOPosix
import RiverBroker
import RiverCore
import RiverInference
import RiverRTP
import RiverTestSupport
import Synchronization
import Testing

@testable import RiverServe

/// The whole per-session path in one process with real parts: our packetizer's RTP packets of the
/// fixture clip, paced at 30 fps into a ``PipelineStream`` on a NIO event loop, libavcodec decoding,
/// a real `BrokerProxy` and `BrokerWorker` over ZeroMQ TCP on 127.0.0.1, the delay line's timer.
/// The worker's handler answers a result whose box encodes the frame's RTP timestamp, so a result
/// delivered for the wrong frame is caught.
@Suite(.serialized) struct PipelineStreamTests {
    static let heartbeat = Duration.milliseconds(100)

    /// A detection whose box x encodes `timestamp`, so results can be checked against their frame.
    static func marker(_ timestamp: UInt32) -> Double { Double(timestamp % 1000) / 1000 }

    static func handler(delay: Duration = .zero) -> WorkHandler {
        { request in
            if delay > .zero { Thread.sleep(forTimeInterval: delay / .seconds(1)) }
            let header = request.header
            let result = InferenceResult(
                model: "marker", family: .centerface,
                frame: Size(width: Int(header.width), height: Int(header.height)),
                input: Size(width: Int(header.width), height: Int(header.height)),
                rtpTimestamp: header.rtpTimestamp,
                timings: Timings(preprocessMs: 0, inferenceMs: 0, postprocessMs: 0),
                detections: [
                    Detection(
                        label: "face", classIndex: 0, score: 0.9,
                        box: Box(x: Float(marker(header.rtpTimestamp)), y: 0.25, w: 0.1, h: 0.1),
                        landmarks: [Point(x: 0.5, y: 0.5)])
                ])
            return WorkResult(document: Array(try InferenceResult.encoder.encode(result)))
        }
    }

    final class Collector: ResultSink, @unchecked Sendable {
        // Mutex-protected; @unchecked only because Mutex is ~Copyable inside a class.
        let messages = Mutex<[(ResultMessage, UInt64)]>([])
        func deliver(_ message: ResultMessage) {
            messages.withLock { $0.append((message, PipelineClock.now())) }
        }
        var all: [(ResultMessage, UInt64)] { messages.withLock { $0 } }
    }

    /// Proxy + worker + client on free 127.0.0.1 ports, heartbeats fast so a lost worker is noticed.
    struct Broker: Sendable {
        let proxy: BrokerProxy
        let client: BrokerClient
        init() throws {
            proxy = try BrokerProxy(
                frontend: "tcp://127.0.0.1:*", backend: "tcp://127.0.0.1:*",
                configuration: ProxyConfiguration(heartbeatInterval: PipelineStreamTests.heartbeat),
                statsInterval: nil)
            client = BrokerClient(
                connect: proxy.frontendEndpoint,
                configuration: ClientConfiguration(heartbeatInterval: PipelineStreamTests.heartbeat))
        }
        func worker(_ handler: @escaping WorkHandler) -> BrokerWorker {
            BrokerWorker(
                connect: proxy.backendEndpoint,
                configuration: WorkerConfiguration(heartbeatInterval: PipelineStreamTests.heartbeat),
                handler: handler)
        }
        func stop() {
            client.close()
            proxy.stop()
        }
        /// Waits until the proxy has `count` workers registered.
        func waitForWorkers(_ count: Int) async throws {
            for _ in 0..<200 where proxy.counters.workersAlive != count {
                try await Task.sleep(for: .milliseconds(25))
            }
            #expect(proxy.counters.workersAlive == count)
        }
    }

    /// The fixture clip's access units, repeated `loops` times, as RTP packets grouped per frame
    /// with 90 kHz timestamps 3000 apart (30 fps).
    /// With `padding`, each frame is followed by a padding-only packet of its timestamp, as Chromium
    /// sends when it probes bandwidth without RTX.
    static func frames(loops: Int = 1, firstTimestamp: UInt32 = 4_294_000_000, padding: Bool = false) throws
        -> [[RTPPacket]]
    {
        let units = try H264Clips.accessUnits("clip-b")
        var packetizer = H264Packetizer(payloadType: 102, ssrc: 0x5EED, initialSequenceNumber: 65_000)
        var frames: [[RTPPacket]] = []
        for i in 0..<(units.count * loops) {
            let timestamp = firstTimestamp &+ UInt32(i) * 3000
            var frame = try packetizer.packetize(annexB: units[i % units.count], timestamp: timestamp)
            if padding {
                frame.append(
                    RTPPacket(
                        payloadType: 102, sequenceNumber: packetizer.sequenceNumber, timestamp: timestamp,
                        ssrc: 0x5EED, payload: [], paddingSize: 255))
                packetizer.sequenceNumber &+= 1
            }
            frames.append(frame)
        }
        return frames
    }

    /// A stream on a fresh event loop, the packets it sent with when, and the input arrivals.
    final class Harness: @unchecked Sendable {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let sink = Collector()
        let sent = Mutex<[(RTPPacket, UInt64)]>([])
        let rtcp = Mutex<[RTCPPacket]>([])
        let arrivals = Mutex<[UInt16: UInt64]>([:])
        var stream: PipelineStream!

        convenience init(delay: Duration, backend: any InferenceBackend) throws {
            try self.init(delay: PipelineDelay.fixed(delay), backend: backend)
        }

        init(delay: PipelineDelay, backend: any InferenceBackend) throws {
            let loop = group.next()
            let sink = sink
            stream = try loop.submit { [self] in
                let stream = try PipelineStream(
                    eventLoop: loop, payloadType: 102, outgoingSSRC: 0xABCD, rembBitrate: 1_000_000,
                    delay: delay, streamID: 1, backend: backend, sink: sink, configuration: .init(),
                    metrics: ServeMetrics(), logger: Logger(label: "test")
                ) { output in
                    switch output {
                    case .rtp(let packet):
                        self.sent.withLock { $0.append((packet, PipelineClock.now())) }
                    case .rtcp(let compound):
                        self.rtcp.withLock { $0 += RTCPPacket.parsePrefix(compound).packets }
                    }
                }
                stream.start()
                return stream
            }.wait()
        }

        /// Sends the frames at 30 fps (each frame's packets back to back, as a browser does).
        func play(_ frames: [[RTPPacket]], during: (Int) async throws -> Void = { _ in }) async throws {
            let start = ContinuousClock.now
            for (i, frame) in frames.enumerated() {
                try await Task.sleep(until: start + .milliseconds(33 * i), clock: .continuous)
                try await during(i)
                let stream = stream!
                try await stream.eventLoop.submit { [self] in
                    for packet in frame {
                        self.arrivals.withLock { $0[packet.sequenceNumber] = PipelineClock.now() }
                        stream.receive(rtp: packet)
                    }
                }.get()
            }
        }

        /// Waits until every frame has its message and every packet has left.
        func drain(frames: Int, packets: Int) async throws {
            for _ in 0..<600 {
                if sink.all.count >= frames && sent.withLock({ $0.count }) >= packets { break }
                try await Task.sleep(for: .milliseconds(25))
            }
            try await Task.sleep(for: .milliseconds(100))  // a duplicate would show up now
        }

        func stop() {
            try? stream.eventLoop.submit { self.stream.stop() }.wait()
            try? group.syncShutdownGracefully()
        }
    }

    @Test func everyFrameGetsOneResultWithItsOutputTimestampAndPacketsLeaveDelayedInOrder() async throws {
        let broker = try Broker()
        defer { broker.stop() }
        let worker = broker.worker(Self.handler())
        defer { worker.stop() }
        try await broker.waitForWorkers(1)
        let delay = Duration.milliseconds(1200)
        let harness = try Harness(delay: delay, backend: broker.client)
        defer { harness.stop() }
        let frames = try Self.frames(padding: true)
        let packetCount = frames.reduce(0) { $0 + $1.count }
        try await harness.play(frames)
        try await harness.drain(frames: frames.count, packets: packetCount)

        // Output: every packet once, in input order, timestamps offset by delay × 90 kHz, never early.
        let offset: UInt32 = 108_000
        let input = frames.flatMap { $0 }
        let sent = harness.sent.withLock { $0 }
        let arrivals = harness.arrivals.withLock { $0 }
        try #require(sent.count == input.count)
        for (i, (packet, at)) in sent.enumerated() {
            #expect(packet.ssrc == 0xABCD)
            #expect(packet.sequenceNumber == sent[0].0.sequenceNumber &+ UInt16(truncatingIfNeeded: i))
            #expect(packet.timestamp == input[i].timestamp &+ offset)
            #expect(packet.payload == input[i].payload)
            #expect(at >= arrivals[input[i].sequenceNumber]! + 1_200_000_000)
        }

        // Results: exactly one message per frame, keyed by the output timestamp, for the right frame.
        let expected = Set(frames.map { $0[0].timestamp &+ offset })
        let messages = harness.sink.all.map(\.0)
        #expect(messages.count == frames.count)
        #expect(Set(messages.map(\.rtpTimestamp)) == expected)
        let ok = messages.filter { $0.status == .ok }
        for message in ok {
            #expect(message.detections?.first?.box.x == Double(Float(Self.marker(message.rtpTimestamp))))
            #expect(message.width == 320 && message.height == 240)
            #expect(message.delay == 1200)
            #expect((message.timings?.total ?? -1) >= 0)
        }
        for message in messages where message.status != .ok {
            #expect(message.status == .saturated)  // a fast worker: nothing else may happen
        }
        #expect(ok.count >= frames.count / 2, "only \(ok.count) of \(frames.count) frames inferred")
        // Each result arrived before its frame left the delay line.
        let lastSent = Dictionary(sent.map { ($0.0.timestamp, $0.1) }, uniquingKeysWith: max)
        for (message, at) in harness.sink.all where message.status == .ok {
            #expect(at < lastSent[message.rtpTimestamp]!)
        }
    }

    @Test func autoDelayShrinksSmoothlyAndKeepsPacketsInOrderAndTimestampsFixed() async throws {
        let broker = try Broker()
        defer { broker.stop() }
        let worker = broker.worker(Self.handler())
        defer { worker.stop() }
        try await broker.waitForWorkers(1)
        let harness = try Harness(delay: .auto(start: .seconds(1)), backend: broker.client)
        defer { harness.stop() }
        let frames = try Self.frames(loops: 2)  // 4 s
        try await harness.play(frames)
        try await harness.drain(frames: frames.count, packets: frames.reduce(0) { $0 + $1.count })
        let messages = harness.sink.all.map(\.0)
        #expect(messages.count == frames.count)
        // A fast worker: the delay leaves its 1 s start once enough turnarounds are known...
        let delays = messages.map(\.delay)
        #expect(delays.first == 1000)
        #expect(delays.last! < 950, "delay still \(delays.last!) ms")
        // ...at most 10 % of elapsed time per step (no visible jump), never growing here.
        for (a, b) in zip(delays, delays.dropFirst()) { #expect(b <= a && a - b <= 100) }
        // Output order and the timestamp offset (fixed at the starting delay) hold throughout.
        let input = frames.flatMap { $0 }
        let sent = harness.sent.withLock { $0 }
        try #require(sent.count == input.count)
        for (i, (packet, _)) in sent.enumerated() {
            #expect(packet.timestamp == input[i].timestamp &+ 90_000)
            #expect(packet.sequenceNumber == sent[0].0.sequenceNumber &+ UInt16(truncatingIfNeeded: i))
        }
        let times = sent.map(\.1)
        #expect(zip(times, times.dropFirst()).allSatisfy { $0 <= $1 })
    }

    /// Fails every request at once (no proxy behind it).
    struct NoProxy: InferenceBackend {
        func infer(frame: VideoFrame, streamID: UInt64, deadline: ContinuousClock.Instant)
            async throws(BrokerError)
            -> BrokerReply
        {
            throw .notConnected(endpoint: "nowhere")
        }
    }

    @Test func feedbackLossUpstreamIsNACKedReceiverNACKsAreServedAndPLIsForwarded() async throws {
        let harness = try Harness(delay: .milliseconds(100), backend: NoProxy())
        defer { harness.stop() }
        var frames = Array(try Self.frames().prefix(20))
        let lost = frames[5].removeLast()  // never arrives: the builder asks for it
        try await harness.play(frames)
        try await harness.drain(frames: 0, packets: frames.reduce(0) { $0 + $1.count })
        let upstream = harness.rtcp.withLock { $0 }
        let nacked = upstream.flatMap { packet -> [UInt16] in
            if case .nack(let nack) = packet, nack.mediaSSRC == 0x5EED, nack.senderSSRC == 0xABCD {
                return nack.lostSequenceNumbers
            }
            return []
        }
        #expect(nacked.contains(lost.sequenceNumber))
        // Every frame still says why it has no result: no worker is reachable.
        #expect(harness.sink.all.contains { $0.0.status == .noWorker })
        #expect(harness.sink.all.allSatisfy { $0.0.status == .noWorker })

        // The receiver of our stream asks for two packets again, then for a keyframe.
        let sent = harness.sent.withLock { $0 }
        let wanted = [sent[3].0.sequenceNumber, sent[10].0.sequenceNumber]
        func plisUpstream() -> Int {
            harness.rtcp.withLock { $0 }.filter {
                if case .pictureLossIndication(let pli) = $0 { return pli.mediaSSRC == 0x5EED }
                return false
            }.count
        }
        let stream = harness.stream!
        try await stream.eventLoop.submit {
            stream.receive(
                rtcp: RTCPPacket.serializeCompound([
                    .receiverReport(RTCPReceiverReport(ssrc: 0x1111)),
                    .nack(
                        RTCPGenericNACK(senderSSRC: 0x1111, mediaSSRC: 0xABCD, lostSequenceNumbers: wanted)),
                ]))
        }.get()
        // Counted inside one event-loop turn, so the builder's own keyframe requests cannot interleave.
        let (plisBefore, plisAfter) = try await stream.eventLoop.submit {
            let before = plisUpstream()
            stream.receive(
                rtcp: RTCPPacket.serializeCompound([
                    .receiverReport(RTCPReceiverReport(ssrc: 0x1111)),
                    .pictureLossIndication(.init(senderSSRC: 0x1111, mediaSSRC: 0xABCD)),
                ]))
            return (before, plisUpstream())
        }.get()
        let resent = harness.sent.withLock { Array($0.dropFirst(sent.count)) }.map(\.0)
        #expect(resent.map(\.sequenceNumber) == wanted)
        #expect(resent.map(\.payload) == [sent[3].0.payload, sent[10].0.payload])
        #expect(plisAfter == plisBefore + 1)
    }

    @Test func lostWorkerFramesSayWhyAndResultsResumeWithANewWorker() async throws {
        let broker = try Broker()
        defer { broker.stop() }
        let first = broker.worker(Self.handler(delay: .milliseconds(10)))
        defer { first.stop() }
        try await broker.waitForWorkers(1)
        let harness = try Harness(delay: .milliseconds(600), backend: broker.client)
        defer { harness.stop() }
        let frames = try Self.frames(loops: 3)  // 6 s
        let second = Mutex<BrokerWorker?>(nil)
        let restartedAt = Mutex<UInt64>(.max)
        defer { second.withLock { $0?.stop() } }
        try await harness.play(frames) { i in
            if i == 45 { first.stop() }  // mid-stream, with a request usually in flight
            if i == 105 {
                second.withLock { $0 = broker.worker(Self.handler()) }
                restartedAt.withLock { $0 = PipelineClock.now() }
            }
        }
        try await harness.drain(frames: frames.count, packets: frames.reduce(0) { $0 + $1.count })
        let all = harness.sink.all
        #expect(all.count == frames.count)
        #expect(Set(all.map(\.0.rtpTimestamp)).count == frames.count)
        let statuses = all.map(\.0.status)
        #expect(statuses.contains(.noWorker))
        #expect(statuses.allSatisfy { [.ok, .saturated, .noWorker, .workerLost, .expired].contains($0) })
        let restart = restartedAt.withLock { $0 }
        let resumed = all.filter { $0.1 > restart && $0.0.status == .ok }
        #expect(resumed.count >= 10, "results after the new worker: \(resumed.count)")
        let between = all.filter { $0.0.status == .noWorker || $0.0.status == .workerLost }
        #expect(between.count >= 30, "frames told no worker / worker lost: \(between.count)")
        // Video kept flowing the whole time.
        #expect(harness.sent.withLock { $0.count } == frames.reduce(0) { $0 + $1.count })
    }

    @Test func lateResultsAreDroppedAsExpired() async throws {
        let broker = try Broker()
        defer { broker.stop() }
        let worker = broker.worker(Self.handler(delay: .milliseconds(400)))
        defer { worker.stop() }
        try await broker.waitForWorkers(1)
        // Deadline = arrival + 250 ms − 50 ms margin: a 400 ms worker is always late.
        let harness = try Harness(delay: .milliseconds(250), backend: broker.client)
        defer { harness.stop() }
        let frames = Array(try Self.frames().prefix(30))
        try await harness.play(frames)
        try await harness.drain(frames: frames.count, packets: frames.reduce(0) { $0 + $1.count })
        let messages = harness.sink.all.map(\.0)
        #expect(messages.count == frames.count)
        #expect(!messages.contains { $0.status == .ok })
        #expect(messages.filter { $0.status == .expired }.count >= 3)
        #expect(messages.allSatisfy { $0.status == .expired || $0.status == .saturated })
    }
}
