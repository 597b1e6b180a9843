import Synchronization
import Testing

@testable import RiverSCTP

/// The usrsctp timer thread parks while no association exists, so an idle serve is not woken 100
/// times a second, and while one exists ticks with the milliseconds that really passed.
@Suite(.timeLimit(.minutes(1))) struct UsrsctpTimerThreadTests {
    /// Every tick's milliseconds, in order.
    final class Ticks: Sendable {
        let values = Mutex<[UInt32]>([])
        var all: [UInt32] { values.withLock { $0 } }
    }

    @Test func parksWithoutAnAssociationAndTicksElapsedTimeWhileOneExists() async throws {
        let ticks = Ticks()
        let timers = UsrsctpTimerThread(name: "test.usrsctp.timers", linger: .milliseconds(100)) { ms in
            ticks.values.withLock { $0.append(ms) }
        }
        // Born parked: no association yet.
        #expect(await eventually { timers.isParked })
        try await Task.sleep(for: .milliseconds(300))
        #expect(timers.tickCount == 0)

        let opened = ContinuousClock.now
        timers.associationOpened()
        try await Task.sleep(for: .milliseconds(300))
        let (ticking, passed) = (ticks.all, ContinuousClock.now - opened)
        #expect(!timers.isParked)
        #expect(ticking.count >= 5, "\(ticking)")
        // The ticks add up to the time that passed, however late each wake-up was.
        let passedMs = Int(
            passed.components.seconds * 1000 + passed.components.attoseconds / 1_000_000_000_000_000)
        let total = ticking.reduce(0) { $0 + Int($1) }
        #expect(total <= passedMs && total >= passedMs - 100, "ticks \(total) ms in \(passedMs) ms")

        // After the last association and the linger it parks again; the count stands still.
        timers.associationClosed()
        #expect(await eventually { timers.isParked })
        let parkedAt = timers.tickCount
        try await Task.sleep(for: .milliseconds(300))
        #expect(timers.tickCount == parkedAt)

        // A new association resumes ticking, and the parked time is not handed to usrsctp.
        let before = ticks.all.count
        timers.associationOpened()
        #expect(await eventually { timers.tickCount >= parkedAt + 3 })
        let resumed = ticks.all.dropFirst(before)
        #expect(resumed.allSatisfy { $0 < 100 }, "\(Array(resumed))")
        timers.associationClosed()
    }
}

extension LiveAssociationTests {
    /// The process-wide thread itself, with real associations (serialized with the other live
    /// tests, so no other association exists meanwhile).
    @Suite struct TimerThread {
        @Test func theUsrsctpTimerThreadParksWhileNoAssociationExists() async throws {
            let timers = UsrsctpRuntime.shared.timers
            try #require(await eventually { SCTPAssociation.liveCount == 0 })
            #expect(await eventually { timers.isParked })
            let idle = timers.tickCount
            try await Task.sleep(for: .milliseconds(300))
            #expect(timers.tickCount == idle, "ticks while no association exists")

            let pair = try LoopbackPair()
            #expect(await eventually { !timers.isParked })
            #expect(try await pair.connect())
            let connected = timers.tickCount
            #expect(await eventually { timers.tickCount >= connected + 5 })
            try await pair.shutdown()
            #expect(SCTPAssociation.liveCount == 0)
            #expect(await eventually { timers.isParked })
        }
    }
}

/// Polls `condition` every 10 ms until it holds or `timeout` passes.
func eventually(_ timeout: Duration = .seconds(5), _ condition: () -> Bool) async -> Bool {
    let end = ContinuousClock.now + timeout
    while ContinuousClock.now < end {
        if condition() { return true }
        try? await Task.sleep(for: .milliseconds(10))
    }
    return condition()
}
