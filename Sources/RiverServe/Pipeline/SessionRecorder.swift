import Dispatch
import Foundation
import Logging
import RiverCore
import RiverMedia
import RiverResults
import RiverSession
import Synchronization

/// Where and how much `--record` keeps.
public struct RecordingOptions: Sendable {
    /// The directory the files go to (it exists and is writable: checked at start-up).
    public var directory: URL
    /// The most bytes one session's files may take together; the recording stops there.
    public var maxBytes: Int64

    public init(directory: URL, maxBytes: Int64) {
        self.directory = directory
        self.maxBytes = maxBytes
    }

    /// Fails naming the directory and why when it cannot take recordings.
    public static func check(directory: URL) throws -> URL {
        let fm = FileManager.default
        var isDirectory: ObjCBool = false
        if !fm.fileExists(atPath: directory.path, isDirectory: &isDirectory) {
            do {
                try fm.createDirectory(at: directory, withIntermediateDirectories: true)
            } catch {
                throw RecordingError("cannot create the recording directory \(directory.path): \(error)")
            }
        } else if !isDirectory.boolValue {
            throw RecordingError("the recording directory \(directory.path) is a file")
        }
        guard fm.isWritableFile(atPath: directory.path) else {
            throw RecordingError("the recording directory \(directory.path) is not writable")
        }
        return directory
    }
}

public struct RecordingError: Error, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}

/// One session's recording (`--record DIR`): the browser's H.264 and Opus remuxed into a fragmented
/// MP4 (``FragmentedMP4Writer``), and beside it a results file of JSON lines, one per frame in the
/// video, keyed by the frame's presentation time in the MP4 (`pts`, seconds) and its RTP timestamp
/// (the `rtpTimestamp` of the page's messages), with the frame's result message (docs/results.md,
/// *Recordings*).
///
/// Files are named by the session's start (UTC) and id: `20261202T161500Z-ID.mp4` and `.jsonl`.
/// The writing happens on the recorder's own queue, never on the media loop. The queue holds at
/// most ``maxPending`` items: past it (a disk slower than the stream) items are dropped and
/// counted. A write error (disk full) or the size bound stops the recording, not the session: the
/// files are closed, the reason logged and counted (`river_recordings_stopped_total`).
///
/// Timing: the MP4 starts at the first keyframe. Video presentation times are the frames' RTP
/// timestamps from that keyframe's; the audio starts at its first packet's arrival after the
/// keyframe's (both arrivals as the engine saw them), then follows its own RTP timestamps.
final class SessionRecorder: Sendable {
    static let maxPending = 512
    /// Frames kept waiting for their result message: seconds of video at any delay river shows.
    static let framesAwaitingLine = 512

    let mp4Path: String
    let resultsPath: String
    private let state: Mutex<State>
    private let pending = Atomic<Int>(0)
    /// Items refused because ``maxPending`` were waiting.
    private let droppedPending = Atomic<Int>(0)
    private let queue: DispatchQueue
    private let metrics: ServeMetrics?
    private let logger: Logger

    private struct State: ~Copyable {
        var writer: FragmentedMP4Writer?
        var results: FileHandle?
        var resultBytes: Int64 = 0
        let maxBytes: Int64
        /// The first keyframe's output RTP timestamp and arrival.
        var origin: (timestamp: UInt32, arrival: Instant)?
        var lastVideo: (timestamp: UInt32, pts: Int64)?
        var lastAudio: (timestamp: UInt32, pts: Int64)?
        var lastArrival: Instant?
        /// Presentation times (90 kHz) of the frames written that have no line yet, by output RTP
        /// timestamp, and their order.
        var awaitingLine: [UInt32: Int64] = [:]
        var writtenOrder: [UInt32] = []
        var resultLines = 0
        var stopped: String?
    }

    init(
        options: RecordingOptions, sessionID: String, started: Date, audio: Bool, metrics: ServeMetrics?,
        logger: Logger
    ) throws {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "yyyyMMdd'T'HHmmss'Z'"
        let stem = options.directory.appendingPathComponent("\(formatter.string(from: started))-\(sessionID)")
        mp4Path = stem.path + ".mp4"
        resultsPath = stem.path + ".jsonl"
        state = Mutex(
            State(writer: try FragmentedMP4Writer(path: mp4Path, audio: audio), maxBytes: options.maxBytes))
        queue = DispatchQueue(label: "river.record.\(sessionID)")
        self.metrics = metrics
        self.logger = logger
    }

    /// Called on the session's event loop; returns at once.
    func record(_ item: RecordedItem) {
        guard pending.add(1, ordering: .relaxed).newValue <= Self.maxPending else {
            pending.subtract(1, ordering: .relaxed)
            // Not under the state's lock, which the writing holds: the loop must not wait on the disk.
            droppedPending.add(1, ordering: .relaxed)
            return
        }
        queue.async { [self] in
            state.withLock { write(item, into: &$0) }
            pending.subtract(1, ordering: .relaxed)
        }
    }

    /// Writes what is queued and closes both files (session end, SIGTERM). Idempotent.
    func close() {
        queue.sync {
            state.withLock { state in
                guard state.stopped == nil else { return }
                finish(&state, reason: nil)
            }
        }
    }

    private func write(_ item: RecordedItem, into state: inout State) {
        guard state.stopped == nil, let writer = state.writer else { return }
        do {
            switch item {
            case .video(let job):
                let pts: Int64
                if let last = state.lastVideo {
                    pts = last.pts + Int64(Int32(bitPattern: job.outputTimestamp &- last.timestamp))
                } else {
                    pts = 0
                }
                try writer.writeVideo(annexB: job.annexB, pts: pts)
                guard writer.started else { return }
                if state.origin == nil {
                    state.origin = (job.outputTimestamp, job.arrival)
                    state.results = try Self.create(resultsPath)
                    logger.info("recording to \(mp4Path)")
                }
                state.lastVideo = (job.outputTimestamp, pts)
                state.lastArrival = job.arrival
                state.awaitingLine[job.outputTimestamp] = pts
                state.writtenOrder.append(job.outputTimestamp)
                // A frame whose message never came (far behind by now) still gets its line.
                while state.writtenOrder.count > Self.framesAwaitingLine {
                    try writeLine(state.writtenOrder.removeFirst(), result: nil, into: &state)
                }
            case .audio(let payload, let timestamp, let arrival):
                guard let origin = state.origin else { return }
                let pts: Int64
                if let last = state.lastAudio {
                    pts = last.pts + Int64(Int32(bitPattern: timestamp &- last.timestamp))
                } else {
                    pts = (arrival - origin.arrival).nanosecondsClamped * 48 / 1_000_000
                }
                try writer.writeAudio(opus: payload, pts: pts)
                state.lastAudio = (timestamp, pts)
            case .result(let message):
                try writeLine(message.rtpTimestamp, result: message, into: &state)
            }
        } catch {
            metrics?.recordingsStopped.increment()
            finish(&state, reason: "\(error)")
            return
        }
        if writer.bytesWritten + state.resultBytes > state.maxBytes {
            metrics?.recordingsStopped.increment()
            finish(&state, reason: "the size limit of \(state.maxBytes) bytes was reached")
        }
    }

    /// The results line of a frame in the video, once: its message, or null when the session ended
    /// (or the frame fell far behind) before one came. Nothing for a frame not in the video.
    private func writeLine(_ timestamp: UInt32, result: ResultMessage?, into state: inout State) throws {
        guard let pts = state.awaitingLine.removeValue(forKey: timestamp), let results = state.results else {
            return
        }
        state.writtenOrder.removeAll { $0 == timestamp }
        let json = result?.json() ?? "null"
        let bytes = Data(
            "{\"pts\":\(Double(pts) / 90_000),\"rtpTimestamp\":\(timestamp),\"result\":\(json)}\n".utf8)
        try results.write(contentsOf: bytes)
        state.resultBytes += Int64(bytes.count)
        state.resultLines += 1
    }

    private func finish(_ state: inout State, reason: String?) {
        state.stopped = reason ?? "closed"
        var problems: [String] = []
        if reason == nil {
            do {
                for timestamp in state.writtenOrder { try writeLine(timestamp, result: nil, into: &state) }
            } catch {
                problems.append("\(error)")
            }
        }
        if let writer = state.writer {
            do { try writer.close() } catch { problems.append("\(error)") }
            var summary =
                "\(writer.videoFramesWritten) frames, \(writer.audioPacketsWritten) audio packets, "
                + "\(state.resultLines) result lines, \(writer.dropped + droppedPending.load(ordering: .relaxed)) dropped"
            if let origin = state.origin, let last = state.lastArrival, let video = state.lastVideo {
                let span = Double((last - origin.arrival).nanosecondsClamped) / 1e9
                summary += "; video \(Double(video.pts) / 90_000) s by RTP time, \(span) s by arrival"
            }
            if let reason {
                logger.error("recording stopped, the session goes on: \(reason); \(summary) in \(mp4Path)")
            } else if writer.started {
                logger.info("recording closed: \(summary) in \(mp4Path)")
            }
        }
        do { try state.results?.close() } catch { problems.append("\(error)") }
        state.writer = nil
        state.results = nil
        if !problems.isEmpty { logger.error("recording \(mp4Path): closing failed: \(problems)") }
    }

    private static func create(_ path: String) throws -> FileHandle {
        guard FileManager.default.createFile(atPath: path, contents: nil) else {
            throw RecordingError("cannot create \(path)")
        }
        return try FileHandle(forWritingTo: URL(fileURLWithPath: path))
    }
}
