import Foundation
import Logging
import RiverCore
import RiverResults
import RiverTestSupport
import Testing

@testable import RiverServe
@testable import RiverSession

/// One session's recording on its own: a results line per frame in the video, and a recording
/// that stops alone (counted) at its size bound or when its files cannot be written.
@Suite struct SessionRecorderTests {
    func directory() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent(
            "river-recorder-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    /// clip-b's units as the engine hands them out: 30 fps, arriving 33 ms apart.
    func units() throws -> [AccessUnitJob] {
        try H264Clips.accessUnits("clip-b").enumerated().map { i, unit in
            AccessUnitJob(
                annexB: unit, outputTimestamp: 1_000 &+ UInt32(i) * 3000,
                arrival: .milliseconds(UInt64(i) * 33),
                receivedAt: 0)
        }
    }

    func message(_ timestamp: UInt32) -> ResultMessage {
        ResultMessage(
            rtpTimestamp: timestamp, receivedAt: 0, width: 64, height: 48, status: .ok, detections: [],
            timings: nil,
            delay: 2000)
    }

    func lines(_ path: String) throws -> [[String: Any]] {
        let text = try String(contentsOfFile: path, encoding: .utf8)
        return try text.split(separator: "\n").map {
            try #require(try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])
        }
    }

    @Test func eachFrameInTheVideoGetsOneLineItsResultOrNull() throws {
        let dir = try directory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let recorder = try SessionRecorder(
            options: RecordingOptions(directory: dir, maxBytes: 1 << 30), sessionID: "s1", started: Date(),
            audio: true, metrics: nil, logger: Logger(label: "test"))
        let jobs = try units()
        for job in jobs {
            recorder.record(.video(job))
            recorder.record(
                .audio(payload: [0xFC, 1, 2], outputTimestamp: job.outputTimestamp, arrival: job.arrival))
        }
        // Results for all but the last two frames, one of them for a frame the video never had.
        for job in jobs.dropLast(2) { recorder.record(.result(message(job.outputTimestamp))) }
        recorder.record(.result(message(7)))
        recorder.close()
        recorder.close()  // idempotent
        #expect(
            recorder.mp4Path.hasSuffix("-s1.mp4") && FileManager.default.fileExists(atPath: recorder.mp4Path))
        let written = try lines(recorder.resultsPath)
        #expect(written.count == jobs.count)
        #expect(written.filter { $0["result"] is NSNull }.count == 2)
        for (line, job) in zip(written.prefix(jobs.count - 2), jobs) {
            #expect(line["rtpTimestamp"] as? Int == Int(job.outputTimestamp))
            let pts = try #require(line["pts"] as? Double)
            #expect(abs(pts - Double(job.outputTimestamp - 1_000) / 90_000) < 1e-9)
        }
    }

    @Test func theSizeBoundStopsTheRecordingAndIsCounted() throws {
        let dir = try directory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let metrics = ServeMetrics()
        let recorder = try SessionRecorder(
            options: RecordingOptions(directory: dir, maxBytes: 20_000), sessionID: "s2", started: Date(),
            audio: false, metrics: metrics, logger: Logger(label: "test"))
        let jobs = try units()
        for job in jobs { recorder.record(.video(job)) }
        recorder.close()
        #expect(metrics.render().contains("river_recordings_stopped_total 1"))
        let size = try #require(
            try FileManager.default.attributesOfItem(atPath: recorder.mp4Path)[.size] as? Int)
        // Stopped just past the bound: the fragment that crossed it, not the whole clip.
        #expect(size > 0 && size < 20_000 + 200_000)
        let lines = try lines(recorder.resultsPath)
        #expect(lines.count < jobs.count)
    }

    @Test func filesThatCannotBeWrittenStopTheRecordingAndAreCounted() throws {
        // The directory is a regular file (no permission trick: CI runs as root).
        let file = FileManager.default.temporaryDirectory.appendingPathComponent(
            "river-not-a-dir-\(UUID().uuidString)")
        try Data().write(to: file)
        defer { try? FileManager.default.removeItem(at: file) }
        // At start-up, serve refuses such a directory, naming it.
        #expect {
            try RecordingOptions.check(directory: file)
        } throws: { error in
            "\(error)".contains(file.path) && "\(error)".contains("is a file")
        }
        // A recording whose files cannot be created stops alone.
        let metrics = ServeMetrics()
        let recorder = try SessionRecorder(
            options: RecordingOptions(directory: file, maxBytes: 1 << 30), sessionID: "s3", started: Date(),
            audio: false, metrics: metrics, logger: Logger(label: "test"))
        for job in try units() { recorder.record(.video(job)) }
        recorder.close()
        #expect(metrics.render().contains("river_recordings_stopped_total 1"))
    }
}
