import Dispatch
import Foundation
import Logging
import RiverCore
import RiverMedia
import RiverSession
import RiverWebRTC
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// A pipeline session's off-loop work (DESIGN.md, data path steps 3–4 after the frame builder):
/// access units are decoded on the session's own thread (libavcodec contexts stay on one thread,
/// and decoding never runs on the event loop), and frames the engine's scheduler sends go to the
/// ``InferenceBackend``. Both answer the engine through its ``SessionInputs``.
///
/// The decode thread sleeps until a unit arrives or the session closes; it has no timer.
final class MediaWorker: SessionOffload {
    private let streamID: UInt64
    private let backend: any InferenceBackend
    private let inputs: SessionInputs
    private let metrics: ServeMetrics?
    private let decoder: DecodeThread

    /// Decode threads running in this process (tests watch it return to zero).
    static var liveThreads: Int { DecodeThread.live.load(ordering: .relaxed) }

    init(
        streamID: UInt64, backend: any InferenceBackend, inputs: SessionInputs, metrics: ServeMetrics?,
        logger: Logger
    ) {
        self.streamID = streamID
        self.backend = backend
        self.inputs = inputs
        self.metrics = metrics
        decoder = DecodeThread(name: "decode-\(streamID)", inputs: inputs, metrics: metrics, logger: logger)
    }

    func decode(_ job: AccessUnitJob) {
        metrics?.framesReceived.increment()
        decoder.submit(job)
    }

    func infer(_ job: InferenceJob) {
        let (inputs, id) = (inputs, job.id)
        backend.infer(job.frame, streamID: streamID, deadline: job.deadline) { outcome in
            inputs.send(.inferred(id: id, outcome))
        }
    }

    func close() {
        decoder.close()
    }
}

/// One stream's decoder on its own thread, fed by a queue. The decoder is a local of the thread's
/// body, so it never leaves the thread.
private final class DecodeThread: Sendable {
    static let live = Atomic<Int>(0)

    private struct Queue {
        var jobs: [AccessUnitJob] = []
        var closed = false
    }

    private let queue = Mutex(Queue())
    private let wakeup = DispatchSemaphore(value: 0)
    private let finished = DispatchSemaphore(value: 0)
    private let inputs: SessionInputs
    private let metrics: ServeMetrics?
    private let logger: Logger

    init(name: String, inputs: SessionInputs, metrics: ServeMetrics?, logger: Logger) {
        self.inputs = inputs
        self.metrics = metrics
        self.logger = logger
        let thread = Thread { [self] in run(name: name) }
        thread.name = name
        thread.start()
    }

    func submit(_ job: AccessUnitJob) {
        let accepted = queue.withLock { queue in
            guard !queue.closed else { return false }
            queue.jobs.append(job)
            return true
        }
        if accepted { wakeup.signal() }
    }

    /// Stops the thread (waits for it) and drops what is queued. Idempotent.
    func close() {
        let first = queue.withLock { queue in
            defer { queue.closed = true }
            return !queue.closed
        }
        guard first else { return }
        wakeup.signal()
        finished.wait()
    }

    private func run(name: String) {
        // The kernel's thread name (`top -H`, /proc/PID/task), which Foundation's `Thread.name`
        // does not set on Linux; at most 15 bytes.
        if let comm = fopen("/proc/thread-self/comm", "w") {
            fputs(String(name.prefix(15)), comm)
            fclose(comm)
        }
        Self.live.add(1, ordering: .relaxed)
        defer {
            Self.live.subtract(1, ordering: .relaxed)
            finished.signal()
        }
        var decoder: H264Decoder?
        do {
            decoder = try H264Decoder()
        } catch {
            logger.error("no H264 decoder: \(error); every frame of this session is answered decodeError")
        }
        while true {
            wakeup.wait()
            let (jobs, closed) = queue.withLock { queue in
                defer { queue.jobs.removeAll(keepingCapacity: true) }
                return (queue.jobs, queue.closed)
            }
            if closed { break }
            for job in jobs {
                // A backlog must not hold up close(), which the event loop waits on.
                if queue.withLock({ $0.closed }) { break }
                decode(job, with: decoder)
            }
        }
    }

    private func decode(_ job: AccessUnitJob, with decoder: H264Decoder?) {
        let start = Instant.now
        guard let decoder, let frames = try? decoder.decode(job.annexB, rtpTimestamp: job.outputTimestamp)
        else {
            inputs.send(.decodeFailed(job))
            return
        }
        for _ in frames { metrics?.framesDecoded.increment() }
        inputs.send(.decoded(job, frames: frames, decodeTime: Instant.now - start))
    }
}
