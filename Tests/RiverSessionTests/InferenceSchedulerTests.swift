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

@Test func sendsWhileSlotsAreFreeThenQueuesABoundedFewOldestFirst() {
    var s = InferenceScheduler<String>(maxInFlight: 2, maxWaiting: 2)
    #expect(describe(s.submit(id: 1, frame: "a", deadline: ns(100), now: ns(0))) == ["send 1 a"])
    #expect(describe(s.submit(id: 2, frame: "b", deadline: ns(100), now: ns(0))) == ["send 2 b"])
    #expect(describe(s.submit(id: 3, frame: "c", deadline: ns(100), now: ns(0))) == [])
    #expect(describe(s.submit(id: 4, frame: "d", deadline: ns(100), now: ns(0))) == [])
    #expect(describe(s.submit(id: 5, frame: "e", deadline: ns(100), now: ns(0))) == ["drop 3 saturated"])
    let (onTime, next) = s.finish(id: 1, now: ns(10))
    #expect(onTime)
    #expect(describe(next) == ["send 4 d"], "the oldest waiting frame goes first")
    #expect(describe(s.finish(id: 2, now: ns(11)).next) == ["send 5 e"])
    #expect(s.inFlightCount == 2 && s.waitingCount == 0)
}

/// A worker that stalls for a few frame intervals loses no frame: they wait and go out in order.
@Test func aStallShorterThanTheQueueLosesNoFrame() {
    var s = InferenceScheduler<String>(maxInFlight: 1, maxWaiting: 3)
    var sent: [String] = []
    sent += describe(s.submit(id: 1, frame: "1", deadline: ns(1000), now: ns(0)))
    for id in UInt64(2)...4 {
        sent += describe(s.submit(id: id, frame: "\(id)", deadline: ns(1000), now: ns(id)))
    }
    for id in UInt64(1)...4 { sent += describe(s.finish(id: id, now: ns(100 + id)).next) }
    #expect(sent == ["send 1 1", "send 2 2", "send 3 3", "send 4 4"])
    #expect(s.inFlightCount == 0 && s.waitingCount == 0 && s.nextDeadline == nil)
}

@Test func lateResultsAndStaleWaitingFramesExpire() {
    var s = InferenceScheduler<String>(maxInFlight: 1, maxWaiting: 3)
    _ = s.submit(id: 1, frame: "a", deadline: ns(50), now: ns(0))
    _ = s.submit(id: 2, frame: "b", deadline: ns(80), now: ns(0))
    _ = s.submit(id: 4, frame: "d", deadline: ns(60), now: ns(0))
    #expect(s.nextDeadline == ns(60), "the earliest deadline among the waiting, not the oldest's")
    #expect(describe(s.tick(now: ns(59))) == [])
    #expect(describe(s.tick(now: ns(60))) == ["drop 4 expired"])
    #expect(describe(s.tick(now: ns(80))) == ["drop 2 expired"])
    let (onTime, next) = s.finish(id: 1, now: ns(51))
    #expect(!onTime && next.isEmpty)
    #expect(describe(s.submit(id: 3, frame: "c", deadline: ns(70), now: ns(70))) == ["drop 3 expired"])
}

@Test func everyFrameEndsInExactlyOneOutcome() {
    var s = InferenceScheduler<Int>(maxInFlight: 3, maxWaiting: 3)
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
