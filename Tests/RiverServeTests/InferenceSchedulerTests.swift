import Testing

@testable import RiverServe

private func describe(_ actions: [InferenceScheduler<String>.Action]) -> [String] {
    actions.map {
        switch $0 {
        case .send(let id, let frame, _): "send \(id) \(frame)"
        case .drop(let id, let why): "drop \(id) \(why.rawValue)"
        }
    }
}

@Test func sendsWhileSlotsAreFreeThenKeepsOnlyTheNewestFrame() {
    var s = InferenceScheduler<String>(maxInFlight: 2)
    #expect(describe(s.submit(id: 1, frame: "a", deadline: 100, now: 0)) == ["send 1 a"])
    #expect(describe(s.submit(id: 2, frame: "b", deadline: 100, now: 0)) == ["send 2 b"])
    #expect(describe(s.submit(id: 3, frame: "c", deadline: 100, now: 0)) == [])
    #expect(describe(s.submit(id: 4, frame: "d", deadline: 100, now: 0)) == ["drop 3 saturated"])
    let (onTime, next) = s.finish(id: 1, now: 10)
    #expect(onTime)
    #expect(describe(next) == ["send 4 d"])
    #expect(s.inFlightCount == 2 && !s.hasWaitingFrame)
}

@Test func lateResultsAndStaleWaitingFramesExpire() {
    var s = InferenceScheduler<String>(maxInFlight: 1)
    _ = s.submit(id: 1, frame: "a", deadline: 50, now: 0)
    _ = s.submit(id: 2, frame: "b", deadline: 60, now: 0)
    #expect(describe(s.tick(now: 59)) == [])
    #expect(describe(s.tick(now: 60)) == ["drop 2 expired"])
    let (onTime, next) = s.finish(id: 1, now: 51)
    #expect(!onTime && next.isEmpty)
    #expect(describe(s.submit(id: 3, frame: "c", deadline: 70, now: 70)) == ["drop 3 expired"])
}

@Test func everyFrameEndsInExactlyOneOutcome() {
    var s = InferenceScheduler<Int>(maxInFlight: 3)
    var outcomes: [UInt64: Int] = [:]
    var out: [UInt64] = []
    func record(_ actions: [InferenceScheduler<Int>.Action]) {
        for a in actions {
            switch a {
            case .send(let id, _, _): out.append(id)
            case .drop(let id, _): outcomes[id, default: 0] += 1
            }
        }
    }
    var rng = SystemRandomNumberGenerator()
    for i in 1...2_000 {
        let now = UInt64(i) * 33
        record(s.submit(id: UInt64(i), frame: i, deadline: now + 500, now: now))
        if !out.isEmpty, Int.random(in: 0..<3, using: &rng) > 0 {
            let id = out.removeFirst()
            let (onTime, next) = s.finish(id: id, now: now)
            outcomes[id, default: 0] += 1
            _ = onTime
            record(next)
        }
        if i % 7 == 0 { record(s.tick(now: now)) }
        if Int.random(in: 0..<50, using: &rng) == 0 { s.maxInFlight = Int.random(in: 0...4, using: &rng) }
    }
    for id in out {
        outcomes[id, default: 0] += 1
        record(s.finish(id: id, now: .max).next)
    }
    record(s.tick(now: .max))
    #expect(outcomes.count == 2_000)
    #expect(outcomes.values.allSatisfy { $0 == 1 })
}
