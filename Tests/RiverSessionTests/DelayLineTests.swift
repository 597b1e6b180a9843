import RiverCore
import Testing

@testable import RiverSession

private func ns(_ n: UInt64) -> Instant { .nanoseconds(n) }

@Test func elementsLeaveAtArrivalPlusDelayInOrder() {
    var line = DelayLine<Int>(delay: .nanoseconds(1_000))
    #expect(line.push(1, arrival: ns(10)) == ns(1_010))
    #expect(line.push(2, arrival: ns(40)) == ns(1_040))
    #expect(line.popDue(now: ns(1_009)) == nil)
    #expect(line.popDue(now: ns(1_010)) == 1)
    #expect(line.popDue(now: ns(1_039)) == nil)
    #expect(line.nextDue == ns(1_040))
    #expect(line.popDue(now: ns(5_000)) == 2)
    #expect(line.count == 0 && line.nextDue == nil)
}

@Test func aShrinkingDelayNeverReordersOrBunchesAheadOfEarlierPackets() {
    var line = DelayLine<Int>(delay: .nanoseconds(1_000))
    line.push(1, arrival: ns(0))
    line.delay = .nanoseconds(500)
    // Due at 500 by the new delay, but packet 1 is due at 1000: it waits behind it.
    #expect(line.push(2, arrival: ns(0)) == ns(1_000))
    #expect(line.popDue(now: ns(1_000)) == 1)
    #expect(line.popDue(now: ns(1_000)) == 2)
}

@Test func storageIsReclaimedWhileStreaming() {
    var line = DelayLine<Int>(delay: .nanoseconds(100))
    var out: [Int] = []
    for i in 0..<5_000 {
        line.push(i, arrival: ns(UInt64(i) * 10))
        while let e = line.popDue(now: ns(UInt64(i) * 10)) { out.append(e) }
    }
    while let e = line.popDue(now: ns(.max)) { out.append(e) }
    #expect(out == Array(0..<5_000))
    #expect(line.count == 0)
}

@Test func delayParsing() throws {
    #expect(try PipelineDelay(parsing: "3s") == .fixed(.seconds(3)))
    #expect(try PipelineDelay(parsing: "800ms") == .fixed(.milliseconds(800)))
    #expect(try PipelineDelay(parsing: "0") == .fixed(.zero))
    #expect(try PipelineDelay(parsing: "auto") == .auto(start: PipelineDelay.autoStart))
    #expect(throws: PipelineDelay.ParseError.self) { try PipelineDelay(parsing: "foo") }
    #expect(throws: PipelineDelay.ParseError.self) { try PipelineDelay(parsing: "-1s") }
    #expect(try PipelineDelay(parsing: "1.5s").description == "1500ms")
    #expect(try PipelineDelay(parsing: "auto").description == "auto:2000ms")
}
