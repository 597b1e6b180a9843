import RiverCore
import Testing

@testable import RiverBroker

private func peer(_ name: String) -> PeerID { PeerID(Array(name.utf8)) }

private func request(_ id: UInt64, budgetMs: UInt32 = 1000) -> WireMessage {
    .request(
        RequestHeader(
            requestID: id, streamID: 1, rtpTimestamp: 0, budgetMicros: budgetMs * 1000, width: 1, height: 1,
            format: .rgb24, strides: [3], offsets: [0], byteCount: 3))
}

private func reply(_ ticket: UInt64) -> WireMessage {
    .reply(ReplyHeader(requestID: ticket, status: .ok, timings: ReplyTimings()))
}

/// A proxy core with a scripted clock and helpers that read its outputs.
private struct Harness {
    var core: ProxyCore<Int>
    var now = Instant.seconds(1)

    init(_ configuration: ProxyConfiguration = ProxyConfiguration(heartbeatInterval: .milliseconds(100))) {
        core = ProxyCore(configuration: configuration, now: now)
    }

    mutating func take() -> [ProxyCore<Int>.Output] {
        defer { core.outputs.removeAll() }
        return core.outputs
    }

    /// (worker, ticket, client request id) of each REQUEST sent to a worker.
    mutating func dispatched() -> [(PeerID, UInt64, Int)] {
        take().compactMap {
            if case .toWorker(let worker, .request(let header), .payload(let tag)) = $0 {
                return (worker, header.requestID, tag)
            }
            return nil
        }
    }

    mutating func client(_ id: UInt64, budgetMs: UInt32 = 1000, from client: String = "c") {
        core.clientMessage(from: peer(client), request(id, budgetMs: budgetMs), body: Int(id), now: now)
        #expect(core.invariantHolds)
    }

    mutating func worker(_ name: String, _ message: WireMessage) {
        core.workerMessage(from: peer(name), message, body: nil, now: now)
        #expect(core.invariantHolds)
    }

    mutating func advance(_ duration: Duration) {
        now += duration
        core.tick(now: now)
        #expect(core.invariantHolds)
    }
}

@Suite struct ProxyCoreTests {
    @Test func dispatchesToTheSlotFreeLongest() {
        var h = Harness()
        h.worker("a", .ready(slots: 1, name: "a"))
        h.worker("b", .ready(slots: 1, name: "b"))
        h.client(1)
        h.client(2)
        let first = h.dispatched()
        #expect(first.map(\.0) == [peer("a"), peer("b")])
        // b answers first, then a: b's slot has been free longer, so b gets the next request.
        h.worker("b", reply(first[1].1))
        h.worker("a", reply(first[0].1))
        _ = h.take()
        h.client(3)
        #expect(h.dispatched().map(\.0) == [peer("b")])
    }

    @Test func neverSendsAWorkerMoreThanItsSlotsAndQueuesTheRest() {
        var h = Harness()
        h.worker("a", .ready(slots: 2, name: "a"))
        for id in 1...5 { h.client(UInt64(id)) }
        let sent = h.dispatched()
        #expect(sent.count == 2)
        #expect(h.core.counters.queueDepth == 3)
        #expect(h.core.counters.queued == 3)
        // Each answer frees one slot, which the queue's head takes at once, in order.
        h.worker("a", reply(sent[0].1))
        let next = h.dispatched()
        #expect(next.map(\.2) == [3])
        #expect(h.core.counters.queueDepth == 2)
    }

    @Test func repliesGoBackToTheRightClientWithItsOwnID() {
        var h = Harness()
        h.worker("a", .ready(slots: 2, name: "a"))
        h.client(77, from: "x")
        h.client(77, from: "y")
        let sent = h.dispatched()
        #expect(sent[0].1 != sent[1].1)  // distinct tickets despite equal client ids
        h.worker("a", reply(sent[1].1))
        let out = h.take()
        guard case .toClient(let client, .reply(let header), _) = out.first else {
            Issue.record("expected a reply, got \(out)")
            return
        }
        #expect(client == peer("y"))
        #expect(header.requestID == 77)
        #expect(h.core.counters.answered == 1)
    }

    @Test func queuedRequestsExpireAtTheirDeadlineWithAnError() {
        var h = Harness()
        h.worker("a", .ready(slots: 1, name: "a"))
        h.client(9, budgetMs: 5000)
        let busy = h.dispatched()
        h.client(1, budgetMs: 50)
        h.client(2, budgetMs: 500)
        #expect(h.core.nextWakeup() <= h.now + .milliseconds(50))
        h.advance(.milliseconds(60))
        h.worker("a", .heartbeat)
        let out = h.take()
        let expired = out.compactMap { output -> UInt64? in
            if case .toClient(_, .error(let header), _) = output, header.code == .expired {
                return header.requestID
            }
            return nil
        }
        #expect(expired == [1])
        #expect(h.core.counters.queueDepth == 1)
        // A slot freed later goes only to the request that is still in time.
        h.worker("a", reply(busy[0].1))
        #expect(h.dispatched().map(\.2) == [2])
    }

    /// A worker holding a request past its deadline: the client hears ERROR(expired) at the
    /// deadline, the slot stays taken (a hung worker gets nothing more), and a late answer is dropped
    /// and gives the slot back.
    @Test func inFlightRequestsExpireAtTheirDeadlineAndAHungWorkerKeepsNoSlot() {
        var h = Harness()
        h.worker("a", .ready(slots: 1, name: "a"))
        h.client(1, budgetMs: 80)
        let held = h.dispatched()
        #expect(held.map(\.2) == [1])
        #expect(h.core.nextWakeup() <= h.now + .milliseconds(80))
        h.advance(.milliseconds(90))
        let out = h.take()
        #expect(
            out.contains {
                if case .toClient(_, .error(let e), _) = $0 { return e.code == .expired && e.requestID == 1 }
                return false
            }, "\(out)")
        #expect(h.core.counters.expiredInFlight == 1 && h.core.counters.expired == 1)
        h.client(2, budgetMs: 5000)
        #expect(h.dispatched().isEmpty, "the hung worker's slot is not given out again")
        #expect(h.core.workerStats.first?.busy == 1)
        h.worker("a", reply(held[0].1))
        let after = h.take()
        #expect(!after.contains { if case .toClient(_, .reply, _) = $0 { true } else { false } })
        #expect(
            after.contains { if case .toWorker(_, .request, .payload(2)) = $0 { true } else { false } },
            "the late answer gave the slot back: \(after)")
        #expect(h.core.counters.lateReplies == 1 && h.core.counters.unknownReplies == 0)
    }

    /// A request the shell could not send to its worker: the worker is dropped as unreachable and
    /// the request goes to another; the dropped one is told to register again when it speaks.
    @Test func aFailedSendDropsTheWorkerAndDispatchesAgain() {
        var h = Harness()
        h.worker("a", .ready(slots: 1, name: "a"))
        h.worker("b", .ready(slots: 1, name: "b"))
        h.client(1, budgetMs: 5000)
        let first = h.dispatched()
        #expect(first.map(\.0) == [peer("a")])
        h.core.workerUnreachable(peer("a"), now: h.now)
        #expect(h.dispatched().map { [$0.0 == peer("b"), $0.2 == 1] } == [[true, true]])
        #expect(h.core.counters.workersUnreachable == 1 && h.core.counters.redispatched == 1)
        #expect(h.core.capacity.workers == 1)
        h.worker("a", .heartbeat)
        #expect(h.take().contains { if case .toWorker(_, .disconnect, _) = $0 { true } else { false } })
    }

    @Test func oneClientCannotHoldMoreThanItsShareOfTheQueue() {
        var h = Harness(ProxyConfiguration(queueLimit: 10, clientQueueLimit: 2))
        h.worker("a", .ready(slots: 1, name: "a"))
        h.client(9, from: "greedy")
        _ = h.take()
        for id in 1...3 { h.client(UInt64(id), from: "greedy") }
        let refused = h.take().compactMap { output -> UInt64? in
            if case .toClient(_, .error(let e), _) = output, e.code == .overloaded { return e.requestID }
            return nil
        }
        #expect(refused == [3])
        h.client(4, from: "other")
        #expect(h.take().isEmpty, "another client still finds room")
        #expect(h.core.counters.clientQueueFull == 1 && h.core.counters.queueDepth == 3)
    }

    @Test func slotsWorkersAndBudgetsAreCapped() {
        var h = Harness(
            ProxyConfiguration(
                heartbeatInterval: .milliseconds(100), maxSlotsPerWorker: 8, maxWorkers: 2,
                maxBudget: .seconds(2)))
        h.worker("a", .ready(slots: 65_535, name: "a"))
        h.worker("b", .ready(slots: 1, name: "b"))
        h.worker("c", .ready(slots: 1, name: "c"))
        #expect(h.core.capacity.workers == 2 && h.core.capacity.totalSlots == 9)
        #expect(h.core.counters.slotsCapped == 1 && h.core.counters.workersRefused == 1)
        // A known worker may always register again.
        h.worker("b", .ready(slots: 2, name: "b"))
        #expect(h.core.capacity.totalSlots == 10 && h.core.counters.workersRefused == 1)
        h.client(1, budgetMs: 3_600_000)
        let sent = h.take().compactMap { output -> UInt32? in
            if case .toWorker(_, .request(let header), _) = output { return header.budgetMicros }
            return nil
        }
        #expect(sent.count == 1 && sent[0] <= 2_000_000, "\(sent)")
        #expect(h.core.counters.budgetsCapped == 1)
    }

    @Test func withoutWorkersRequestsAreAnsweredNoWorker() {
        var h = Harness()
        h.client(1)
        #expect(
            h.take().contains {
                if case .toClient(_, .error(let e), _) = $0 { return e.code == .noWorker }
                return false
            })
        // The last worker leaving answers what waits in the queue too.
        h.worker("a", .ready(slots: 1, name: "a"))
        h.client(2)
        h.client(3)
        let held = h.dispatched()
        #expect(held.map(\.2) == [2])
        h.worker("a", .disconnect)
        let codes = h.take().compactMap { output -> ErrorCode? in
            if case .toClient(_, .error(let e), _) = output { return e.code }
            return nil
        }
        #expect(codes.sorted { $0.rawValue < $1.rawValue } == [.workerLost, .noWorker])
        #expect(h.core.counters.noWorker == 2)
    }

    @Test func fullQueueAnswersOverloaded() {
        var h = Harness(ProxyConfiguration(queueLimit: 2))
        h.worker("a", .ready(slots: 1, name: "a"))
        h.client(9)
        _ = h.take()
        for id in 1...3 { h.client(UInt64(id)) }
        let out = h.take()
        #expect(out.count == 1)
        if case .toClient(_, .error(let header), _) = out.first {
            #expect(header.code == .overloaded)
            #expect(header.requestID == 3)
        } else {
            Issue.record("expected ERROR(overloaded), got \(out)")
        }
    }

    @Test func silentWorkerIsExpiredAndItsRequestsRedispatchedOnce() {
        var h = Harness()  // 100 ms heartbeat, liveness 3
        h.worker("a", .ready(slots: 1, name: "a"))
        h.worker("b", .ready(slots: 1, name: "b"))
        h.client(1, budgetMs: 5000)
        h.client(2, budgetMs: 5000)
        let sent = h.dispatched()
        #expect(sent.map(\.0) == [peer("a"), peer("b")])
        // b keeps heartbeating and answers; a goes silent.
        for _ in 0..<4 {
            h.advance(.milliseconds(100))
            h.worker("b", .heartbeat)
        }
        h.worker("b", reply(sent[1].1))
        let out = h.take()
        #expect(h.core.counters.workersExpired == 1)
        #expect(h.core.counters.redispatched == 1)
        #expect(h.core.departures.map(\.reason) == ["expired"])
        #expect(h.core.departures.first?.0.lost == 1)
        // Request 1 went to b as soon as b's slot freed up.
        let again = out.compactMap { output -> Int? in
            if case .toWorker(let worker, .request, .payload(let tag)) = output, worker == peer("b") {
                return tag
            }
            return nil
        }
        #expect(again == [1])
        // b dies too: the request was already re-dispatched once, so it is answered ERROR(workerLost).
        h.advance(.milliseconds(400))
        let lost = h.take().compactMap { output -> UInt64? in
            if case .toClient(_, .error(let header), _) = output, header.code == .workerLost {
                return header.requestID
            }
            return nil
        }
        #expect(lost == [1])
        #expect(h.core.counters.workersAlive == 0)
    }

    @Test func lostRequestPastItsDeadlineIsAnsweredWorkerLost() {
        var h = Harness()
        h.worker("a", .ready(slots: 1, name: "a"))
        h.client(1, budgetMs: 200)
        _ = h.take()
        h.advance(.milliseconds(400))
        let out = h.take()
        #expect(
            out.contains {
                if case .toClient(_, .error(let header), _) = $0 { return header.code == .workerLost }
                return false
            })
    }

    @Test func workerErrorsAreForwardedAndCountedPerWorker() {
        var h = Harness()
        h.worker("a", .ready(slots: 2, name: "a"))
        h.client(1)
        h.client(2)
        let sent = h.dispatched()
        h.worker("a", .error(ErrorHeader(requestID: sent[0].1, code: .expired)))
        h.worker("a", .error(ErrorHeader(requestID: sent[1].1, code: .workerFailed)))
        let forwarded = h.take().compactMap { output -> (UInt64, ErrorCode)? in
            if case .toClient(_, .error(let header), _) = output { return (header.requestID, header.code) }
            return nil
        }
        #expect(forwarded.map(\.0) == [1, 2])
        #expect(forwarded.map(\.1) == [.expired, .workerFailed])
        let stats = h.core.workerStats[0]
        #expect(stats.expired == 1)
        #expect(stats.failed == 1)
        #expect(h.core.counters.freeSlots == 2)
    }

    /// A client's HEARTBEAT is answered with CAPACITY: the slots registered now and those free.
    @Test func clientHeartbeatIsAnsweredWithCapacity() {
        var h = Harness()
        func answer(_ h: inout Harness) -> [ProxyCapacity] {
            h.core.clientMessage(from: peer("c"), .heartbeat, body: nil, now: h.now)
            return h.take().compactMap {
                if case .toClient(_, .capacity(let capacity), _) = $0 { return capacity }
                return nil
            }
        }
        #expect(answer(&h) == [ProxyCapacity(workers: 0, totalSlots: 0, freeSlots: 0)])
        h.worker("a", .ready(slots: 2, name: "a"))
        h.worker("b", .ready(slots: 3, name: "b"))
        h.client(1)
        _ = h.dispatched()
        #expect(answer(&h) == [ProxyCapacity(workers: 2, totalSlots: 5, freeSlots: 4)])
        h.client(2)
        h.client(3)
        h.client(4)
        h.client(5)
        _ = h.dispatched()
        // Requests 2–5 fill the other four slots; the sixth waits in the queue.
        h.client(6)
        _ = h.take()
        #expect(answer(&h) == [ProxyCapacity(workers: 2, totalSlots: 5, freeSlots: 0, queued: 1)])
        h.worker("b", .disconnect)
        _ = h.take()
        let left = answer(&h)
        #expect(left.count == 1)
        #expect(left.first?.workers == 1)
        #expect(left.first?.totalSlots == 2)
    }

    /// CAPACITY's input size: the largest width and the largest height the workers announced, or
    /// none as soon as one worker takes any size; it follows workers as they come and go.
    @Test func capacityCarriesTheLargestAnnouncedInput() {
        var h = Harness()
        func input(_ h: inout Harness) -> FrameSize?? {
            h.core.clientMessage(from: peer("c"), .heartbeat, body: nil, now: h.now)
            return h.take().compactMap {
                if case .toClient(_, .capacity(let capacity), _) = $0 { return capacity.input }
                return nil
            }.first
        }
        #expect(input(&h) == .some(nil))
        h.worker("a", .ready(slots: 1, name: "a", input: FrameSize(width: 256, height: 192)))
        #expect(input(&h) == FrameSize(width: 256, height: 192))
        h.worker("b", .ready(slots: 1, name: "b", input: FrameSize(width: 192, height: 256)))
        #expect(input(&h) == FrameSize(width: 256, height: 256))
        h.worker("c", .ready(slots: 1, name: "c"))
        #expect(input(&h) == .some(nil))
        h.worker("c", .disconnect)
        _ = h.take()
        #expect(input(&h) == FrameSize(width: 256, height: 256))
    }

    @Test func heartbeatsGoToEveryWorkerEachInterval() {
        var h = Harness()
        h.worker("a", .ready(slots: 1, name: "a"))
        h.worker("b", .ready(slots: 1, name: "b"))
        h.advance(.milliseconds(100))
        let beats = h.take().filter {
            if case .toWorker(_, .heartbeat, _) = $0 { return true }
            return false
        }
        #expect(beats.count == 2)
    }

    @Test func unknownWorkerIsAskedToRegisterAgain() {
        var h = Harness()
        h.worker("ghost", .heartbeat)
        h.worker("ghost", reply(99))
        let out = h.take()
        #expect(out.count == 2)
        for output in out {
            guard case .toWorker(let worker, .disconnect, _) = output else {
                Issue.record("expected DISCONNECT, got \(output)")
                continue
            }
            #expect(worker == peer("ghost"))
        }
        #expect(h.core.counters.unknownReplies == 1)
    }

    @Test func gracefulDisconnectRedispatchesAtOnce() {
        var h = Harness()
        h.worker("a", .ready(slots: 1, name: "a"))
        h.client(1)
        _ = h.take()
        h.worker("b", .ready(slots: 1, name: "b"))
        h.worker("a", .disconnect)
        #expect(h.dispatched().map(\.0) == [peer("b")])
    }

    @Test func malformedClientMessagesAreAnsweredAndCounted() {
        var h = Harness()
        h.core.rejectClient(peer("c"), .unsupportedVersion(9), requestID: 0)
        h.core.clientMessage(from: peer("c"), .ready(slots: 1, name: "x"), body: nil, now: h.now)
        let codes = h.take().compactMap { output -> ErrorCode? in
            if case .toClient(_, .error(let header), _) = output { return header.code }
            return nil
        }
        #expect(codes == [.badVersion, .malformed])
        #expect(h.core.counters.malformedFromClients == 2)
        h.core.rejectWorker(peer("w"), .badSignature)
        #expect(h.take().isEmpty)
        #expect(h.core.counters.malformedFromWorkers == 1)
    }

    /// A fast worker and a slow one, closed loop at full capacity: the fast one serves
    /// proportionally more and nothing ever waits in the queue while a slot is free.
    @Test func fastWorkerServesProportionallyMore() {
        var h = Harness(ProxyConfiguration(heartbeatInterval: .seconds(100)))
        h.worker("fast", .ready(slots: 1, name: "fast"))
        h.worker("slow", .ready(slots: 1, name: "slow"))
        var busyUntil: [PeerID: (Instant, UInt64)] = [:]  // worker -> (done at, ticket)
        var id: UInt64 = 0
        func refill(_ h: inout Harness) {
            while h.core.counters.freeSlots > 0 {
                id += 1
                h.client(id)
            }
            for (worker, ticket, _) in h.dispatched() {
                let cost: Duration = worker == peer("fast") ? .milliseconds(10) : .milliseconds(40)
                busyUntil[worker] = (h.now + cost, ticket)
            }
        }
        refill(&h)
        for _ in 0..<400 {
            let (worker, (at, ticket)) = busyUntil.min { $0.value.0 < $1.value.0 }!
            busyUntil[worker] = nil
            h.now = at
            h.worker(String(decoding: worker.bytes, as: UTF8.self), reply(ticket))
            _ = h.take()
            refill(&h)
        }
        let stats = Dictionary(uniqueKeysWithValues: h.core.workerStats.map { ($0.name, $0.answered) })
        #expect(stats["fast"]! > 3 * stats["slow"]!)
        #expect(h.core.counters.queued == 0)
    }
}

@Suite struct LivenessTests {
    @Test func heartbeatsThenReconnectWithCappedBackoff() {
        var l = PeerLiveness(
            interval: .milliseconds(100), liveness: 3, initialBackoff: .milliseconds(50),
            maxBackoff: .milliseconds(200), now: .zero)
        #expect(l.tick(now: .milliseconds(100)) == .sendHeartbeat)
        #expect(l.tick(now: .milliseconds(150)) == .none)
        var delays: [Duration] = []
        var now = Instant.milliseconds(300)
        for _ in 0..<4 {
            guard case .disconnect(let at) = l.tick(now: now) else {
                Issue.record("expected a disconnect")
                return
            }
            delays.append(at - now)
            #expect(l.tick(now: now) == .none)  // waits while disconnected
            l.reconnected(now: at)
            now = at + .milliseconds(300)
        }
        #expect(delays == [.milliseconds(50), .milliseconds(100), .milliseconds(200), .milliseconds(200)])
        l.heard(now: now - .milliseconds(10))
        guard case .disconnect(let at) = l.tick(now: now + .milliseconds(300)) else {
            Issue.record("expected a disconnect")
            return
        }
        #expect(at - (now + .milliseconds(300)) == .milliseconds(50))  // hearing the proxy reset the back-off
    }

    @Test func clientCoreMatchesRepliesAndTimesOut() {
        var core = ClientCore<String>(
            liveness: PeerLiveness(
                interval: .seconds(1), liveness: 3, initialBackoff: .milliseconds(10),
                maxBackoff: .seconds(1), now: .zero),
            grace: .milliseconds(10))
        let a = core.start("a", streamID: 1, rtpTimestamp: 10, budget: .milliseconds(100), now: .zero)
        let b = core.start("b", streamID: 1, rtpTimestamp: 20, budget: .milliseconds(50), now: .zero)
        let done = core.received(reply(a), now: .milliseconds(5))
        #expect(done?.waiter == "a")
        #expect(done?.rtpTimestamp == 10)
        #expect(core.expire(now: .milliseconds(55)).isEmpty)  // grace not over yet
        #expect(core.expire(now: .milliseconds(61)).map(\.waiter) == ["b"])
        #expect(core.received(reply(b), now: .milliseconds(70)) == nil)  // late: dropped and counted
        #expect(core.counters.sent == 2)
        #expect(core.counters.answered == 1)
        #expect(core.counters.timedOut == 1)
        #expect(core.counters.late == 1)
    }
}
