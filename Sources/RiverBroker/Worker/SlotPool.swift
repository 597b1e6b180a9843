import Dispatch
import RiverCore
import Synchronization

/// The worker's slots as threads: `slots` long-lived threads, started once, each taking the next
/// job from one queue, running the handler on it synchronously and handing the completion back. The socket thread only ever enqueues as many jobs as there are idle threads (`WorkerCore`
/// counts them), so a job never waits here behind a running one.
///
/// A thread per slot rather than a task or a thread per request: the model is synchronous (ONNX
/// Runtime's `Run` blocks), so on Swift's cooperative pool it would stall every other task for as
/// long as it runs, and a fresh thread per request pays for a thread's creation and stack each time.
final class SlotPool: Sendable {
    /// One request for a slot thread.
    struct Job: Sendable {
        var request: WorkRequest
        /// `WorkerCore`'s ticket, echoed in the completion.
        var ticket: UInt64
        /// When the socket thread received it, to measure the time it waited in the worker.
        var receivedAt: Instant
    }

    /// What a slot thread hands back.
    struct Completion: Sendable {
        var ticket: UInt64
        var requestID: UInt64
        var result: Result<WorkResult, any Error>
        var queuedMicros: UInt32
        var computeMicros: UInt32
    }

    private let queue: SlotQueue<Job>

    /// Starts `slots` threads named `name` that run `handler` and give each result to `deliver`
    /// (called on the slot thread).
    init(
        slots: Int, name: String, handler: @escaping WorkHandler,
        deliver: @escaping @Sendable (Completion) -> Void
    ) {
        let queue = SlotQueue<Job>(slots: slots)
        self.queue = queue
        for slot in 0..<slots {
            startDetachedThread(name: name) {
                while let job = queue.take(slot: slot) {
                    deliver(Self.run(job, handler))
                }
            }
        }
    }

    /// Queues `job` for the next idle thread.
    func submit(_ job: Job) { queue.put(job) }

    /// Ends the threads: each exits once its current handler returns; queued jobs are dropped.
    /// Does not wait, so stopping a worker never waits for a slow model.
    func close() { queue.close() }

    private static func run(_ job: Job, _ handler: WorkHandler) -> Completion {
        let startedAt = Instant.now
        let result = Result { try handler(job.request) }
        let endedAt = Instant.now
        return Completion(
            ticket: job.ticket, requestID: job.request.header.requestID, result: result,
            queuedMicros: (startedAt - job.receivedAt).wireMicros,
            computeMicros: (endedAt - startedAt).wireMicros)
    }
}

/// Hands each job to the slot thread that went idle last, or queues it while none is idle.
///
/// Last idle, first woken (a LIFO of sleepers, each on a semaphore of its own): under light load
/// the same one or two threads take every job and keep their caches and stacks warm, where one
/// shared semaphore would wake the sleepers in turn and run each job on the coldest thread.
private final class SlotQueue<Job: Sendable>: Sendable {
    private enum Next {
        case run(Job)
        case sleep
        case exit
    }

    private struct State {
        var pending = FIFO<Job>()
        /// Sleeping slots, the most recently idle last.
        var idle: [Int] = []
        /// The job `put` gave a sleeping slot, collected when it wakes.
        var handedOver: [Job?]
        var closed = false
    }

    private let state: Mutex<State>
    private let wakeups: [DispatchSemaphore]

    init(slots: Int) {
        state = Mutex(State(handedOver: Array(repeating: nil, count: slots)))
        wakeups = (0..<slots).map { _ in DispatchSemaphore(value: 0) }
    }

    func put(_ job: Job) {
        let woken = state.withLock { state -> Int? in
            guard !state.closed else { return nil }
            guard let slot = state.idle.popLast() else {
                state.pending.append(job)
                return nil
            }
            state.handedOver[slot] = job
            return slot
        }
        if let woken { wakeups[woken].signal() }
    }

    /// The next job for `slot`, sleeping until there is one; nil once the queue is closed.
    func take(slot: Int) -> Job? {
        let next = state.withLock { state -> Next in
            if state.closed { return .exit }
            if let job = state.pending.popFirst() { return .run(job) }
            state.idle.append(slot)
            return .sleep
        }
        switch next {
        case .run(let job): return job
        case .exit: return nil
        case .sleep: break
        }
        // Exactly one signal comes: from the `put` that took this slot off `idle`, or from
        // `close`, which empties `idle`.
        wakeups[slot].wait()
        return state.withLock { state in
            defer { state.handedOver[slot] = nil }
            return state.closed ? nil : state.handedOver[slot]
        }
    }

    /// Wakes every sleeping slot with nil and drops what is queued. Idempotent.
    func close() {
        let sleeping = state.withLock { state -> [Int] in
            guard !state.closed else { return [] }
            state.closed = true
            state.pending = FIFO()
            defer { state.idle.removeAll() }
            return state.idle
        }
        for slot in sleeping { wakeups[slot].signal() }
    }
}
