import Logging
import RiverBroker
import RiverCore
import RiverTestSupport
import Synchronization
import Testing

@testable import RiverServe

/// The per-session window of `river serve` follows the worker slots the proxy reports.
@Suite(.serialized) struct MaxInFlightTests {
    @Test func fairShareDividesTotalSlotsAmongSessionsRoundingUp() {
        typealias C = FramePipeline.Configuration
        #expect(C.fairShare(totalSlots: nil, sessions: 1) == 1)
        #expect(C.fairShare(totalSlots: 0, sessions: 1) == 1)
        #expect(C.fairShare(totalSlots: 5, sessions: 0) == 5)
        #expect(C.fairShare(totalSlots: 5, sessions: 1) == 5)
        #expect(C.fairShare(totalSlots: 5, sessions: 2) == 3)
        #expect(C.fairShare(totalSlots: 5, sessions: 5) == 1)
        #expect(C.fairShare(totalSlots: 5, sessions: 9) == 1)
    }

    /// Counts requests a worker holds at once, across workers.
    final class Concurrency: Sendable {
        let now = Atomic<Int>(0)
        let peak = Atomic<Int>(0)
        let total = Atomic<Int>(0)

        func handler(delay: Duration) -> WorkHandler {
            let base = PipelineStreamTests.handler(delay: delay)
            return { [self] request in
                let (_, current) = now.add(1, ordering: .relaxed)
                total.add(1, ordering: .relaxed)
                var seen = peak.load(ordering: .relaxed)
                while current > seen {
                    let (exchanged, original) = peak.compareExchange(
                        expected: seen, desired: current, ordering: .relaxed)
                    if exchanged { break }
                    seen = original
                }
                defer { now.subtract(1, ordering: .relaxed) }
                return try base(request)
            }
        }
    }

    /// Feeds the clip's access units at 30 fps to a pipeline whose window follows `client`.
    func run(
        _ broker: PipelineStreamTests.Broker, sessions: Int, units: [[UInt8]]
    ) async throws -> FramePipeline.Counters {
        let sink = PipelineStreamTests.Collector()
        var configuration = FramePipeline.Configuration()
        let client = broker.client
        configuration.maxInFlight = FramePipeline.Configuration.followingProxySlots(
            totalSlots: { client.capacity?.totalSlots }, sessions: { sessions })
        let pipeline = FramePipeline(
            streamID: 1, delay: 3_000_000_000, backend: client, sink: sink, configuration: configuration,
            logger: Logger(label: "test"))
        defer { pipeline.close() }
        let start = ContinuousClock.now
        for (i, unit) in units.enumerated() {
            try await Task.sleep(until: start + .milliseconds(33 * i), clock: .continuous)
            pipeline.submit(
                .init(
                    annexB: unit, outputTimestamp: UInt32(i * 3000), arrival: PipelineClock.now(),
                    receivedAt: 0))
        }
        for _ in 0..<800 where sink.all.count < units.count {
            try await Task.sleep(for: .milliseconds(25))
        }
        #expect(sink.all.count == units.count)
        return pipeline.counters
    }

    /// Workers with 2 + 3 slots and slow answers: one session keeps 5 requests out at once (the
    /// proxy's slot count), two sessions' share is 3 each; never more than the share.
    @Test func windowFollowsTheProxysReportedSlots() async throws {
        let units = Array(try H264Clips.accessUnits("clip-b").prefix(60))  // 2 s at 30 fps
        let broker = try PipelineStreamTests.Broker()
        defer { broker.stop() }
        let seen = Concurrency()
        var workers: [BrokerWorker] = []
        defer { for worker in workers { worker.stop() } }
        for slots in [2, 3] {
            workers.append(
                BrokerWorker(
                    connect: broker.proxy.backendEndpoint,
                    configuration: WorkerConfiguration(
                        slots: slots, name: "w\(slots)", heartbeatInterval: PipelineStreamTests.heartbeat),
                    handler: seen.handler(delay: .milliseconds(400))))
        }
        try await broker.waitForWorkers(2)
        for _ in 0..<400 where broker.client.capacity?.totalSlots != 5 {
            try await Task.sleep(for: .milliseconds(25))
        }
        #expect(broker.client.capacity?.totalSlots == 5)

        let one = try await run(broker, sessions: 1, units: units)
        #expect(one.requestsSent > 5)
        #expect(seen.peak.load(ordering: .relaxed) == 5)
        #expect(broker.proxy.counters.queued == 0)

        // Let the last answers come back before measuring again.
        for _ in 0..<200 where seen.now.load(ordering: .relaxed) > 0 {
            try await Task.sleep(for: .milliseconds(25))
        }
        seen.peak.store(0, ordering: .relaxed)
        let shared = try await run(broker, sessions: 2, units: units)
        #expect(shared.requestsSent > 3)
        #expect(seen.peak.load(ordering: .relaxed) == 3)
    }
}
