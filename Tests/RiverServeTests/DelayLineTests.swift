import Testing

@testable import RiverServe

@Test func elementsLeaveAtArrivalPlusDelayInOrder() {
    var line = DelayLine<Int>(delay: 1_000)
    #expect(line.push(1, arrival: 10) == 1_010)
    #expect(line.push(2, arrival: 40) == 1_040)
    #expect(line.popDue(now: 1_009) == nil)
    #expect(line.popDue(now: 1_010) == 1)
    #expect(line.popDue(now: 1_039) == nil)
    #expect(line.nextDue == 1_040)
    #expect(line.popDue(now: 5_000) == 2)
    #expect(line.count == 0 && line.nextDue == nil)
}

@Test func aShrinkingDelayNeverReordersOrBunchesAheadOfEarlierPackets() {
    var line = DelayLine<Int>(delay: 1_000)
    line.push(1, arrival: 0)
    line.delay = 500
    // Due at 500 by the new delay, but packet 1 is due at 1000: it waits behind it.
    #expect(line.push(2, arrival: 0) == 1_000)
    #expect(line.popDue(now: 1_000) == 1)
    #expect(line.popDue(now: 1_000) == 2)
}

@Test func storageIsReclaimedWhileStreaming() {
    var line = DelayLine<Int>(delay: 100)
    var out: [Int] = []
    for i in 0..<5_000 {
        line.push(i, arrival: UInt64(i) * 10)
        while let e = line.popDue(now: UInt64(i) * 10) { out.append(e) }
    }
    while let e = line.popDue(now: .max) { out.append(e) }
    #expect(out == Array(0..<5_000))
    #expect(line.count == 0)
}

@Test func autoDelayHoldsUntilEnoughSamplesThenSettlesAtP99PlusMargin() {
    var config = AutoDelay.Configuration()
    config.start = 2_000_000_000
    config.margin = 100_000_000
    var auto = AutoDelay(config)
    #expect(auto.update(now: 0) == 2_000_000_000)
    for i in 0..<29 { auto.record(turnaround: UInt64(i) * 1_000_000) }
    #expect(auto.update(now: 1_000_000_000) == 2_000_000_000)  // too few samples: unchanged
    for _ in 0..<271 { auto.record(turnaround: 50_000_000) }
    // p99 of the window is 50 ms, target 150 ms; 10 % slew: 100 ms per second.
    #expect(auto.target == 150_000_000)
    #expect(auto.update(now: 2_000_000_000) == 1_900_000_000)
    var now: UInt64 = 2_000_000_000
    var previous = auto.delay
    while auto.delay > 150_000_000 {
        now += 100_000_000
        let d = auto.update(now: now)
        #expect(previous - d <= 10_000_000)  // never a step: 10 ms per 100 ms at most
        previous = d
    }
    #expect(auto.delay == 150_000_000)
}

@Test func autoDelayGrowsWhenResultsComeLate() {
    var config = AutoDelay.Configuration()
    config.start = 300_000_000
    config.minimumSamples = 1
    var auto = AutoDelay(config)
    auto.update(now: 0)
    for _ in 0..<100 { auto.record(turnaround: 900_000_000) }
    let grown = auto.update(now: 1_000_000_000)
    #expect(grown == 550_000_000)  // 25 % slew up
    #expect(auto.update(now: 10_000_000_000) == 1_050_000_000)  // target reached, not passed
}
