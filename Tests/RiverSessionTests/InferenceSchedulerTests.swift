import RiverCore
import Testing

@testable import RiverSession

private func ns(_ n: UInt64) -> Instant { .nanoseconds(n) }

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
    #expect(describe(s.submit(id: 1, frame: "a", deadline: ns(100), now: ns(0))) == ["send 1 a"])
    #expect(describe(s.submit(id: 2, frame: "b", deadline: ns(100), now: ns(0))) == ["send 2 b"])
    #expect(describe(s.submit(id: 3, frame: "c", deadline: ns(100), now: ns(0))) == [])
    #expect(describe(s.submit(id: 4, frame: "d", deadline: ns(100), now: ns(0))) == ["drop 3 saturated"])
    let (onTime, next) = s.finish(id: 1, now: ns(10))
    #expect(onTime)
    #expect(describe(next) == ["send 4 d"])
    #expect(s.inFlightCount == 2 && !s.hasWaitingFrame)
}

@Test func lateResultsAndStaleWaitingFramesExpire() {
    var s = InferenceScheduler<String>(maxInFlight: 1)
    _ = s.submit(id: 1, frame: "a", deadline: ns(50), now: ns(0))
    _ = s.submit(id: 2, frame: "b", deadline: ns(60), now: ns(0))
    #expect(describe(s.tick(now: ns(59))) == [])
    #expect(describe(s.tick(now: ns(60))) == ["drop 2 expired"])
    let (onTime, next) = s.finish(id: 1, now: ns(51))
    #expect(!onTime && next.isEmpty)
    #expect(describe(s.submit(id: 3, frame: "c", deadline: ns(70), now: ns(70))) == ["drop 3 expired"])
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
        let now = ns(UInt64(i) * 33)
        record(s.submit(id: UInt64(i), frame: i, deadline: now + .nanoseconds(500), now: now))
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
        record(s.finish(id: id, now: ns(.max)).next)
    }
    record(s.tick(now: ns(.max)))
    #expect(outcomes.count == 2_000)
    #expect(outcomes.values.allSatisfy { $0 == 1 })
}

@Test func fairShareDividesTotalSlotsAmongSessionsRoundingUp() {
    typealias C = SessionConfiguration.Inference
    #expect(C.fairShare(totalSlots: nil, sessions: 1) == 1)
    #expect(C.fairShare(totalSlots: 0, sessions: 1) == 1)
    #expect(C.fairShare(totalSlots: 5, sessions: 0) == 5)
    #expect(C.fairShare(totalSlots: 5, sessions: 1) == 5)
    #expect(C.fairShare(totalSlots: 5, sessions: 2) == 3)
    #expect(C.fairShare(totalSlots: 5, sessions: 5) == 1)
    #expect(C.fairShare(totalSlots: 5, sessions: 9) == 1)
}
