import Synchronization

/// The one place other threads meet the worker's socket thread: slot threads leave completions
/// here (then wake the socket thread through its eventfd), and the socket thread leaves a copy
/// of its counters for readers anywhere.
final class WorkerMailbox: Sendable {
    private struct State {
        var completions: [SlotPool.Completion] = []
        var counters = WorkerCounters()
    }

    private let state = Mutex(State())

    /// Called by a slot thread.
    func deliver(_ completion: SlotPool.Completion) {
        state.withLock { $0.completions.append(completion) }
    }

    /// Everything delivered since the last call, oldest first.
    func takeCompletions() -> [SlotPool.Completion] {
        state.withLock { state in
            defer { state.completions.removeAll(keepingCapacity: true) }
            return state.completions
        }
    }

    var counters: WorkerCounters { state.withLock { $0.counters } }

    func publish(_ counters: WorkerCounters) {
        state.withLock { $0.counters = counters }
    }
}
