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

@Test func aLateElementIsPlacedAmongThoseHeldByItsDueTime() {
    var line = DelayLine<Int>(delay: .nanoseconds(1_000))
    line.push(1, arrival: ns(0))
    line.push(3, arrival: ns(20))
    line.push(4, arrival: ns(30))
    // 2 came late; its neighbour 1 leaves at 1000, and so does it, before 3.
    #expect(line.insert(2, due: ns(1_000)) == ns(1_000))
    var order: [Int] = []
    while let element = line.popDue(now: ns(2_000)) { order.append(element) }
    #expect(order == [1, 2, 3, 4])
    // Due before everything held: it leaves first.
    line.push(6, arrival: ns(2_000))
    line.insert(5, due: ns(1_500))
    #expect(line.popDue(now: ns(1_500)) == 5)
    #expect(line.popDue(now: ns(1_500)) == nil)
}

@Test func aLateElementBeyondTheSearchGoesToTheTailAndTheByteLimitHolds() {
    var line = DelayLine<Int>(delay: .nanoseconds(1_000), byteLimit: 10_000)
    for i in 0..<(DelayLine<Int>.maxInsertScan + 10) { line.push(i, arrival: ns(UInt64(i) * 10), size: 1) }
    let tail = line.nextDue! + .nanoseconds(Int64(DelayLine<Int>.maxInsertScan + 9) * 10)
    // Its place is more than maxInsertScan elements back: it leaves after the newest instead.
    #expect(line.insert(-1, due: ns(1_005), size: 1) == tail)
    #expect(line.insert(-2, due: ns(0), size: 20_000) == nil)
    #expect(line.refused == 1)
    var last: Int?
    while let element = line.popDue(now: ns(100_000)) { last = element }
    #expect(last == -1)
}
