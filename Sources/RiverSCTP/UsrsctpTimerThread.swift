import Dispatch
import Foundation
import RiverCore
import Synchronization

/// The thread that drives usrsctp's clock for ``UsrsctpRuntime``: it calls `tick` with the
/// milliseconds that have passed, which the runtime hands to `usrsctp_handle_timers`.
///
/// **Why it parks.** With `usrsctp_init_nothreads` usrsctp has no clock of its own; it only
/// learns that time passed from these ticks, and all its timers (retransmission, heartbeat,
/// delayed SACK, shutdown) belong to associations. Ticking every 10 ms while none exists would
/// wake an idle serve 100 times a second for nothing. So while no association is registered the
/// thread blocks on a semaphore with no timeout, and ``associationOpened()`` wakes it.
/// While associations exist it ticks every `interval` and passes the milliseconds that really
/// elapsed, not `interval`: a late wake-up (a busy machine) still moves usrsctp's clock by the
/// true amount, and the sub-millisecond rest is carried to the next tick.
///
/// Two details keep usrsctp's view of time right across a park:
/// - It keeps ticking for `linger` after the last association closes: closing a socket can leave
///   work on usrsctp's clock, the retried frees of an association or endpoint that is still
///   referenced (`SCTP_ASOC_KILL_TIMEOUT` 10 ms, `SCTP_INP_KILL_TIMEOUT` 20 ms), which would
///   otherwise wait for the next association.
/// - The parked time is never handed to usrsctp: its clock stands still while nothing needs it
///   and resumes where it stopped, so a timer armed just after waking runs its full length
///   instead of firing at once on a tick that covers the whole idle spell.
final class UsrsctpTimerThread: Sendable {
    private struct State {
        var associations = 0
        /// Set when the last association closes: ticking goes on until then.
        var lingerUntil: Instant?
        var parked = false
    }

    private let state = Mutex(State())
    /// Signalled once per park, by the ``associationOpened()`` that ends it. A semaphore keeps
    /// the signal even when it comes between the thread's decision to park and its wait.
    private let wakeup = DispatchSemaphore(value: 0)
    private let ticks = Atomic<Int>(0)
    private let interval: Duration
    private let linger: Duration
    private let tick: @Sendable (UInt32) -> Void

    /// Starts the thread, parked until the first ``associationOpened()``.
    init(
        name: String, interval: Duration = .milliseconds(10), linger: Duration = .seconds(1),
        tick: @escaping @Sendable (UInt32) -> Void
    ) {
        self.interval = interval
        self.linger = linger
        self.tick = tick
        let thread = Thread { [self] in run() }
        thread.name = name
        thread.start()
    }

    func associationOpened() {
        let wasParked = state.withLock { state in
            state.associations += 1
            state.lingerUntil = nil
            defer { state.parked = false }
            return state.parked
        }
        if wasParked { wakeup.signal() }
    }

    func associationClosed() {
        state.withLock { state in
            state.associations -= 1
            if state.associations == 0 { state.lingerUntil = .now + linger }
        }
    }

    /// How many times `tick` has been called (for tests: it stays put while the thread is parked).
    var tickCount: Int { ticks.load(ordering: .relaxed) }

    /// Whether the thread is blocked waiting for an association.
    var isParked: Bool { state.withLock { $0.parked } }

    private func run() {
        let seconds = Double(interval.components.seconds) + Double(interval.components.attoseconds) * 1e-18
        var last = Instant.now
        var carried: Duration = .zero
        while true {
            let park = state.withLock { state in
                guard state.associations == 0, state.lingerUntil.map({ Instant.now >= $0 }) ?? true else {
                    return false
                }
                state.lingerUntil = nil
                state.parked = true
                return true
            }
            if park {
                wakeup.wait()
                last = .now
                carried = .zero
            }

            Thread.sleep(forTimeInterval: seconds)
            let now = Instant.now
            carried += now - last
            last = now
            let ms =
                carried.components.seconds * 1000 + carried.components.attoseconds / 1_000_000_000_000_000
            guard ms > 0 else { continue }
            carried -= .milliseconds(ms)
            tick(UInt32(clamping: ms))
            ticks.add(1, ordering: .relaxed)
        }
    }
}
