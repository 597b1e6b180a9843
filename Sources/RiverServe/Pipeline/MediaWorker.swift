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
/// and decoding never runs on the event loop), scaled down there to the models' input size when the
/// backend knows it (``InferenceBackend/frameBox``), and frames the engine's scheduler sends go to
/// the ``InferenceBackend``. Both answer the engine through its ``SessionInputs``.
///
/// The decode thread sleeps until a unit arrives or the session closes; it has no timer. Its queue
/// holds at most ``maxQueuedUnits``: a peer that sends units faster than they decode (or pictures
/// that decode slowly) would otherwise grow it without end. When full, the oldest unit is dropped
/// (the newest is the one still worth showing a result for), answered `decodeError` like any unit
/// that was not decoded, which also makes the engine ask the browser for a key frame (the units
/// after a dropped one refer to it), and counted (`river_decode_queue_dropped_total`).
final class MediaWorker: SessionOffload {
    /// A few frames: at 30 fps, 133 ms of backlog, well inside any delay the page shows.
    static let maxQueuedUnits = 4

    private let streamID: UInt64
    private let backend: any InferenceBackend
    private let inputs: SessionInputs
    private let metrics: ServeMetrics?
    private let decoder: DecodeThread
    private let recorder: SessionRecorder?

    /// Decode threads running in this process (tests watch it return to zero).
    static var liveThreads: Int { DecodeThread.live.load(ordering: .relaxed) }

    /// - Parameter maxPixels: the decoder's bound on a picture (`--max-pixels`).
    init(
        streamID: UInt64, backend: any InferenceBackend, inputs: SessionInputs, metrics: ServeMetrics?,
        maxPixels: Int = H264Decoder.defaultMaxPixels, maxQueuedUnits: Int = MediaWorker.maxQueuedUnits,
        recorder: SessionRecorder? = nil, logger: Logger
    ) {
        self.recorder = recorder
        self.streamID = streamID
        self.backend = backend
        self.inputs = inputs
        self.metrics = metrics
        decoder = DecodeThread(
            name: "decode-\(streamID)", backend: backend, inputs: inputs, metrics: metrics,
            maxPixels: maxPixels,
            maxQueued: maxQueuedUnits, logger: logger)
    }

    /// Units dropped because the decode queue was full.
    var unitsDropped: Int { decoder.dropped }

    func decode(_ job: AccessUnitJob) {
        metrics?.framesReceived.increment()
        decoder.submit(job)
    }

    func infer(_ job: InferenceJob) {
        metrics?.inferenceRequests.increment()
        metrics?.inferenceRequestBytes.increment(by: job.frame.data.count)
        let (inputs, id) = (inputs, job.id)
        backend.infer(job.frame, streamID: streamID, deadline: job.deadline) { outcome in
            inputs.send(.inferred(id: id, outcome))
        }
    }

    func record(_ item: RecordedItem) {
        recorder?.record(item)
    }

    func close() {
        decoder.close()
        recorder?.close()
    }
}

/// One stream's decoder on its own thread, fed by a queue. The decoder is a local of the thread's
/// body, so it never leaves the thread.
private final class DecodeThread: Sendable {
    static let live = Atomic<Int>(0)

    private let queue: Mutex<DecodeQueue<AccessUnitJob>>
    private let maxPixels: Int
    private let backend: any InferenceBackend
    private let wakeup = DispatchSemaphore(value: 0)
    private let finished = DispatchSemaphore(value: 0)
    private let inputs: SessionInputs
    private let metrics: ServeMetrics?
    private let logger: Logger

    init(
        name: String, backend: any InferenceBackend, inputs: SessionInputs, metrics: ServeMetrics?,
        maxPixels: Int, maxQueued: Int, logger: Logger
    ) {
        self.maxPixels = maxPixels
        self.backend = backend
        queue = Mutex(DecodeQueue(capacity: maxQueued))
        self.inputs = inputs
        self.metrics = metrics
        self.logger = logger
        let thread = Thread { [self] in run(name: name) }
        thread.name = name
        thread.start()
    }

    var dropped: Int { queue.withLock { $0.dropped } }

    /// Queues a unit; past the queue's capacity the oldest queued one is dropped and answered as not
    /// decoded (see `MediaWorker`).
    func submit(_ job: AccessUnitJob) {
        let (accepted, evicted) = queue.withLock { queue in
            guard !queue.closed else { return (false, AccessUnitJob?.none) }
            return (true, queue.push(job))
        }
        if let evicted {
            metrics?.decodeQueueDropped.increment()
            inputs.send(.decodeFailed(evicted))
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
            decoder = try H264Decoder(maxPixels: maxPixels)
        } catch {
            logger.error("no H264 decoder: \(error); every frame of this session is answered decodeError")
        }
        while true {
            wakeup.wait()
            let (jobs, closed) = queue.withLock { queue in (queue.takeAll(), queue.closed) }
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
        guard let decoder,
            let frames = try? decoder.decode(
                job.annexB, rtpTimestamp: job.outputTimestamp, fittingInto: backend.frameBox)
        else {
            inputs.send(.decodeFailed(job))
            return
        }
        for _ in frames { metrics?.framesDecoded.increment() }
        inputs.send(.decoded(job, frames: frames, decodeTime: Instant.now - start))
    }
}

/// A decode thread's queue: at most `capacity` units wait; pushing onto a full queue evicts the
/// oldest, which the caller answers (see ``MediaWorker``).
struct DecodeQueue<Job> {
    let capacity: Int
    private(set) var jobs: [Job] = []
    var closed = false
    /// Jobs evicted so far.
    private(set) var dropped = 0

    init(capacity: Int) {
        self.capacity = max(1, capacity)
    }

    /// Queues `job`; returns the job it evicted, if the queue was full.
    mutating func push(_ job: Job) -> Job? {
        var evicted: Job?
        if jobs.count >= capacity {
            evicted = jobs.removeFirst()
            dropped += 1
        }
        jobs.append(job)
        return evicted
    }

    mutating func takeAll() -> [Job] {
        defer { jobs.removeAll(keepingCapacity: true) }
        return jobs
    }
}
