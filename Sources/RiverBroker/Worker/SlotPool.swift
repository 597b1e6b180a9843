import Dispatch
import Synchronization

/// The worker's slots as threads: `slots` long-lived threads, started once, each taking the next
/// job from one shared queue, running the handler on it synchronously and handing the completion
/// back. The socket thread only ever enqueues as many jobs as there are idle threads (`WorkerCore`
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
        var receivedAt: Nanoseconds
    }

    /// What a slot thread hands back.
    struct Completion: Sendable {
        var ticket: UInt64
        var requestID: UInt64
        var result: Result<WorkResult, any Error>
        var queuedMicros: UInt32
        var computeMicros: UInt32
    }

    private let queue = JobQueue<Job>()

    /// Starts `slots` threads named `name` that run `handler` and give each result to `deliver`
    /// (called on the slot thread).
    init(
        slots: Int, name: String, handler: @escaping WorkHandler,
        deliver: @escaping @Sendable (Completion) -> Void
    ) {
        for _ in 0..<slots {
            startDetachedThread(name: name) { [queue] in
                while let job = queue.take() {
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
        let startedAt = MonotonicClock.now()
        let result = Result { try handler(job.request) }
        let endedAt = MonotonicClock.now()
        return Completion(
            ticket: job.ticket, requestID: job.request.header.requestID, result: result,
            queuedMicros: UInt32(clamping: (startedAt - min(startedAt, job.receivedAt)) / 1000),
            computeMicros: UInt32(clamping: (endedAt - startedAt) / 1000))
    }
}

/// A closable queue that blocks its takers: a locked FIFO and a semaphore counting what it holds.
private final class JobQueue<Element: Sendable>: Sendable {
    private struct State {
        var items = FIFO<Element>()
        var closed = false
        var takers = 0
    }

    private let state = Mutex(State())
    private let available = DispatchSemaphore(value: 0)

    func put(_ element: Element) {
        let queued = state.withLock { state in
            guard !state.closed else { return false }
            state.items.append(element)
            return true
        }
        if queued { available.signal() }
    }

    /// The next element, waiting for one; nil once the queue is closed.
    func take() -> Element? {
        // Checked and counted under one lock, so `close` either sees this taker or is seen by it.
        let open = state.withLock { state in
            guard !state.closed else { return false }
            state.takers += 1
            return true
        }
        guard open else { return nil }
        available.wait()
        return state.withLock { state in
            state.takers -= 1
            return state.closed ? nil : state.items.popFirst()
        }
    }

    /// Wakes every taker with nil and drops what is queued. Idempotent.
    func close() {
        let takers = state.withLock { state -> Int in
            guard !state.closed else { return 0 }
            state.closed = true
            state.items = FIFO()
            return state.takers
        }
        for _ in 0..<takers { available.signal() }
    }
}
