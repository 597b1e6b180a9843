import RiverCore
import Testing

@testable import RiverBroker

private func request(_ id: UInt64, budgetMs: UInt32 = 1000) -> WireMessage {
    .request(
        RequestHeader(
            requestID: id, streamID: 1, rtpTimestamp: 0, budgetMicros: budgetMs * 1000, width: 1, height: 1,
            format: .rgb24, strides: [3], offsets: [0], byteCount: 3))
}

/// A worker core on a scripted clock (100 ms heartbeat, liveness 3, back-off 250 ms to 1 s).
/// Jobs are the request ids, answers the tickets; the helpers read what the core asked for.
private struct Harness {
    typealias Core = WorkerCore<UInt64, UInt64>
    var core: Core
    var now = Instant.seconds(1)

    init(slots: Int = 2, input: FrameSize? = nil) {
        core = Core(
            configuration: WorkerConfiguration(
                slots: slots, name: "w", heartbeatInterval: .milliseconds(100), liveness: 3,
                initialBackoff: .milliseconds(250), maxBackoff: .seconds(1), input: input),
            now: now)
    }

    mutating func take() -> [Core.Output] {
        defer { core.outputs.removeAll() }
        return core.outputs
    }

    /// The messages of `.send` outputs only.
    mutating func sent() -> [WireMessage] {
        take().compactMap {
            if case .send(let message) = $0 { return message }
            return nil
        }
    }

    /// (request id, ticket) of each `.run`.
    mutating func runs() -> [(UInt64, UInt64)] {
        take().compactMap {
            if case .run(let id, let ticket) = $0 { return (id, ticket) }
            return nil
        }
    }

    mutating func receive(_ message: WireMessage) {
        var job: UInt64?
        if case .request(let header) = message { job = header.requestID }
        core.received(message, job: job, now: now)
        checkSlots()
    }

    mutating func finish(_ ticket: UInt64, failed: Bool = false) {
        core.finished(ticket: ticket, answer: ticket, failed: failed, now: now)
        checkSlots()
    }

    mutating func advance(_ duration: Duration) {
        now += duration
        core.tick(now: now)
        checkSlots()
    }

    /// Moves the clock to the core's next wake-up and ticks there.
    mutating func advanceToWakeup() {
        now = max(now, core.nextWakeup)
        core.tick(now: now)
        checkSlots()
    }

    func checkSlots() {
        #expect(core.busySlots >= 0 && core.busySlots <= core.configuration.slots)
        #expect(core.waitingCount == 0 || core.busySlots == core.configuration.slots)
    }
}

@Suite struct WorkerCoreTests {
    @Test func opensASocketAndRegistersWithItsSlotsOnEachConnection() {
        var h = Harness(slots: 3)
        guard case .open(let generation) = h.take().first else {
            Issue.record("the core must open a socket first")
            return
        }
        #expect(generation == 0)
        h.core.connected(now: h.now)
        #expect(h.sent() == [.ready(slots: 3, name: "w")])
        // libzmq reconnected by itself (the proxy restarted on the same address): register again.
        h.now += .milliseconds(5)
        h.core.connected(now: h.now)
        #expect(h.sent() == [.ready(slots: 3, name: "w")])
        #expect(h.core.counters.reregistrations == 0)
    }

    @Test func readyAnnouncesTheModelInputSize() {
        var h = Harness(slots: 1, input: FrameSize(width: 256, height: 192))
        _ = h.take()
        h.core.connected(now: h.now)
        #expect(h.sent() == [.ready(slots: 1, name: "w", input: FrameSize(width: 256, height: 192))])
    }

    @Test func heartbeatsEveryIntervalAndNotBefore() {
        var h = Harness()
        h.core.connected(now: h.now)
        _ = h.take()
        h.advance(.milliseconds(99))
        #expect(h.sent().isEmpty)
        h.advance(.milliseconds(1))
        #expect(h.sent() == [.heartbeat])
        // Hearing from the proxy keeps the connection, not the heartbeat schedule.
        h.advance(.milliseconds(50))
        h.receive(.heartbeat)
        #expect(h.sent().isEmpty)
        h.advance(.milliseconds(50))
        #expect(h.sent() == [.heartbeat])
        #expect(h.core.nextWakeup == h.now + .milliseconds(100))
    }

    @Test func silentProxyIsDroppedAndReconnectedWithCappedBackoff() {
        var h = Harness()
        _ = h.take()
        var waits: [Duration] = []
        for _ in 0..<5 {
            // Nothing heard for liveness (3) intervals since the socket was opened.
            let openedAt = h.now
            var closedAt: Instant?
            while closedAt == nil {
                h.advanceToWakeup()
                for output in h.take() {
                    if case .close(let reconnectAt) = output {
                        closedAt = h.now
                        #expect(reconnectAt != nil)
                    }
                }
            }
            #expect(closedAt! - openedAt == .milliseconds(300))
            #expect(!h.core.isOpen)
            h.advanceToWakeup()
            let out = h.take()
            guard case .open(let generation) = out.first else {
                Issue.record("expected a new socket, got \(out)")
                return
            }
            #expect(generation == h.core.generation)
            waits.append(h.now - closedAt!)
        }
        #expect(
            waits == [
                .milliseconds(250), .milliseconds(500), .milliseconds(1000), .milliseconds(1000),
                .milliseconds(1000),
            ])
        #expect(h.core.counters.reconnects == 5)
        #expect(h.core.generation == 5)

        // Once the proxy answers, the next failure waits the shortest back-off again.
        h.core.connected(now: h.now)
        h.receive(.heartbeat)
        _ = h.take()
        h.advance(.milliseconds(300))
        #expect(
            h.take().contains {
                if case .close(let at) = $0 { return at == h.now + .milliseconds(250) }
                return false
            })
    }

    @Test func reregistersWhenTheProxyDoesNotKnowUsAtMostOncePerQuarterInterval() {
        var h = Harness()
        h.core.connected(now: h.now)
        _ = h.take()
        // The READY just sent answers the DISCONNECTs drawn by replies from before a restart.
        h.advance(.milliseconds(10))
        h.receive(.disconnect)
        #expect(h.sent().isEmpty)
        h.now += .milliseconds(20)
        h.receive(.disconnect)
        #expect(h.sent() == [.ready(slots: 2, name: "w")])
        for _ in 0..<5 {
            h.now += .milliseconds(1)
            h.receive(.disconnect)
        }
        #expect(h.sent().isEmpty)
        h.now += .milliseconds(25)
        h.receive(.disconnect)
        #expect(h.sent() == [.ready(slots: 2, name: "w")])
        #expect(h.core.counters.reregistrations == 2)
    }

    @Test func runsAtMostSlotsAtOnceAndTheRestInArrivalOrder() {
        var h = Harness(slots: 2)
        _ = h.take()
        for id in 1...5 { h.receive(request(UInt64(id))) }
        let first = h.runs()
        #expect(first.map(\.0) == [1, 2])
        #expect(h.core.busySlots == 2)
        #expect(h.core.waitingCount == 3)
        h.finish(first[1].1)
        let out = h.take()
        guard out.count == 2, case .answer(first[1].1) = out[0], case .run(3, _) = out[1] else {
            Issue.record("expected the answer, then the next job: \(out)")
            return
        }
        // A ticket reported twice, or one never issued, frees nothing.
        h.finish(first[1].1)
        h.finish(999)
        #expect(h.take().isEmpty)
        #expect(h.core.busySlots == 2)
        #expect(h.core.waitingCount == 2)
        h.finish(first[0].1, failed: true)
        #expect(h.runs().map(\.0) == [4])
        #expect(h.core.counters.answered == 1)
        #expect(h.core.counters.failed == 1)
        #expect(h.core.counters.received == 5)
    }

    @Test func aRequestWhoseDeadlinePassedWhileWaitingIsAnsweredExpiredWithoutASlot() {
        var h = Harness(slots: 1)
        _ = h.take()
        h.receive(request(1, budgetMs: 5000))
        h.receive(request(2, budgetMs: 50))
        h.receive(request(3, budgetMs: 5000))
        let busy = h.runs()
        h.now += .milliseconds(60)
        h.finish(busy[0].1)
        let out = h.take()
        guard out.count == 3, case .answer = out[0], case .expire(requestID: 2) = out[1],
            case .run(3, _) = out[2]
        else {
            Issue.record("expected answer, expire(2), run(3): \(out)")
            return
        }
        #expect(h.core.counters.expired == 1)
    }

    @Test func aCompletionFromBeforeAReconnectIsDroppedAndCounted() {
        var h = Harness(slots: 2)
        h.core.connected(now: h.now)
        _ = h.take()
        h.receive(request(1))
        h.receive(request(2))
        h.receive(request(3))
        let old = h.runs()
        #expect(old.count == 2)
        // The proxy goes silent: the socket is dropped with two jobs running and one waiting.
        h.advance(.milliseconds(300))
        #expect(!h.core.isOpen)
        #expect(h.core.counters.discarded == 1)
        #expect(h.core.waitingCount == 0)
        // One finishes while no socket is open, one after the next socket is open.
        h.finish(old[0].1)
        h.advanceToWakeup()
        #expect(h.core.isOpen)
        h.core.connected(now: h.now)
        _ = h.take()
        // The new proxy sends a full set while the old job still holds a slot thread.
        h.receive(request(10))
        h.receive(request(11))
        #expect(h.runs().map(\.0) == [10])
        h.finish(old[1].1)
        let out = h.take()
        guard out.count == 1, case .run(11, _) = out[0] else {
            Issue.record("the stale answer must not be sent, its slot must be: \(out)")
            return
        }
        #expect(h.core.counters.stale == 2)
        #expect(h.core.counters.answered == 0)
        #expect(h.core.busySlots == 2)
    }

    @Test func stopSaysDisconnectAndCloses() {
        var h = Harness()
        h.core.connected(now: h.now)
        _ = h.take()
        h.core.stop()
        let out = h.take()
        guard out.count == 2, case .send(.disconnect) = out[0], case .close(reconnectAt: nil) = out[1] else {
            Issue.record("expected DISCONNECT then close: \(out)")
            return
        }
        h.core.stop()
        #expect(h.take().isEmpty)
    }

    @Test func messagesAWorkerNeverGetsAreCountedAsMalformedAndStillProveTheProxyAlive() {
        var h = Harness()
        _ = h.take()
        h.advance(.milliseconds(250))
        h.receive(.ready(slots: 1, name: "x"))
        h.core.malformed(now: h.now)
        #expect(h.core.counters.malformed == 2)
        // Heard at 250 ms: the socket lives until 550 ms.
        h.advance(.milliseconds(299))
        #expect(h.core.isOpen)
        h.advance(.milliseconds(1))
        #expect(!h.core.isOpen)
    }
}
