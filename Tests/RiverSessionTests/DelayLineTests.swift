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

@Test func autoDelayHoldsUntilEnoughSamplesThenSettlesAtP99PlusMargin() {
    var config = AutoDelay.Configuration()
    config.start = .seconds(2)
    config.margin = .milliseconds(100)
    var auto = AutoDelay(config)
    #expect(auto.update(now: .zero) == .seconds(2))
    for i in 0..<29 { auto.record(turnaround: .milliseconds(i)) }
    #expect(auto.update(now: .seconds(1)) == .seconds(2))  // too few samples: unchanged
    for _ in 0..<271 { auto.record(turnaround: .milliseconds(50)) }
    // p99 of the window is 50 ms, target 150 ms; 10 % slew: 100 ms per second.
    #expect(auto.target == .milliseconds(150))
    #expect(auto.update(now: .seconds(2)) == .milliseconds(1900))
    var now = Instant.seconds(2)
    var previous = auto.delay
    while auto.delay > .milliseconds(150) {
        now += .milliseconds(100)
        let d = auto.update(now: now)
        #expect(previous - d <= .milliseconds(10))  // never a step: 10 ms per 100 ms at most
        previous = d
    }
    #expect(auto.delay == .milliseconds(150))
}

@Test func autoDelayGrowsWhenResultsComeLate() {
    var config = AutoDelay.Configuration()
    config.start = .milliseconds(300)
    config.minimumSamples = 1
    var auto = AutoDelay(config)
    auto.update(now: .zero)
    for _ in 0..<100 { auto.record(turnaround: .milliseconds(900)) }
    #expect(auto.update(now: .seconds(1)) == .milliseconds(550))  // 25 % slew up
    #expect(auto.update(now: .seconds(10)) == .milliseconds(1050))  // target reached, not passed
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
