import RiverBroker
import Testing

@testable import RiverServe

@Test func metricsRenderInPrometheusTextFormat() {
    let metrics = ServeMetrics()
    metrics.sessions.record(2)
    metrics.framesReceived.increment(by: 30)
    metrics.frameDropped(reason: "saturated")
    metrics.frameDropped(reason: "saturated")
    metrics.inferenceLatency.recordMilliseconds(42)
    let text = metrics.render()
    #expect(text.contains("river_sessions 2"))
    #expect(text.contains("river_frames_received_total 30"))
    #expect(text.contains(#"river_frames_dropped_total{reason="saturated"} 2"#))
    #expect(text.contains(#"river_inference_latency_seconds_bucket{le="0.05"} 1"#))
    #expect(text.contains(#"river_inference_latency_seconds_bucket{le="0.035"} 0"#))
}

@Test func twoInstancesDoNotShareCounts() {
    let a = ServeMetrics()
    let b = ServeMetrics()
    a.framesDecoded.increment()
    #expect(a.render().contains("river_frames_decoded_total 1"))
    #expect(!b.render().contains("river_frames_decoded_total 1"))
}

@Test func proxyCapacityFillsWorkersAndQueueDepth() {
    let metrics = ServeMetrics()
    metrics.record(
        capacity: BrokerCapacity(workers: 3, totalSlots: 5, freeSlots: 0, queued: 7, learnedAt: .now))
    #expect(metrics.render().contains("river_workers_alive 3"))
    #expect(metrics.render().contains("river_proxy_queue_depth 7"))
    metrics.record(capacity: nil)
    #expect(metrics.render().contains("river_workers_alive 0"))
    #expect(metrics.render().contains("river_proxy_queue_depth 0"))
}

@Test func datagramDropsAreCountedByReasonFromRunningTotals() {
    let metrics = ServeMetrics()
    metrics.record(datagramsDropped: ["unrouted": 3, "session": 0])
    metrics.record(datagramsDropped: ["unrouted": 5, "session": 2])
    metrics.record(datagramsDropped: ["unrouted": 5, "session": 2])  // nothing new
    let text = metrics.render()
    #expect(text.contains(#"river_datagrams_dropped_total{reason="unrouted"} 5"#))
    #expect(text.contains(#"river_datagrams_dropped_total{reason="session"} 2"#))
}

@Suite struct DecodeQueueTests {
    @Test func aFullQueueEvictsItsOldestAndCountsIt() {
        var queue = DecodeQueue<Int>(capacity: 3)
        #expect((1...3).compactMap { queue.push($0) } == [])
        #expect(queue.push(4) == 1)
        #expect(queue.push(5) == 2)
        #expect(queue.jobs == [3, 4, 5] && queue.dropped == 2)
        #expect(queue.takeAll() == [3, 4, 5])
        #expect(queue.push(6) == nil && queue.jobs == [6] && queue.dropped == 2)
    }

    @Test func theDefaultBoundIsAFewFrames() {
        #expect(MediaWorker.maxQueuedUnits == 4)
    }
}
