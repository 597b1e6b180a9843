import Foundation
import Testing

/// `river up --record DIR` (issue 15): a Chromium session with camera and microphone leaves a
/// fragmented MP4 of its own H264 and Opus and a results file of one JSON line per frame, which
/// scripts/e2e/recording_check.py reads back with ffprobe and ffmpeg against the clip's face path.
@Suite(.serialized) struct RecordingEndToEndTests {
    func temporaryDirectory() throws -> URL {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "river-rec-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        return directory
    }

    static func files(in directory: URL, ending suffix: String) -> [URL] {
        ((try? FileManager.default.contentsOfDirectory(at: directory, includingPropertiesForKeys: nil)) ?? [])
            .filter { $0.lastPathComponent.hasSuffix(suffix) }
    }

    /// recording_check.py's summary of one recording (and of what `river annotate` made of it).
    func check(mp4: URL, results: URL, annotated: URL? = nil) async throws -> [String: Any] {
        let script = repositoryRoot.appendingPathComponent("scripts/e2e/recording_check.py").path
        let clip = repositoryRoot.appendingPathComponent("fixtures/pan-flash.json").path
        let checker = try ChildProcess(
            URL(fileURLWithPath: "/usr/bin/env"),
            ["python3", script, "--mp4", mp4.path, "--results", results.path, "--clip-json", clip]
                + (annotated.map { ["--annotated", $0.path] } ?? []))
        defer { checker.stop() }
        let status = await checker.waitForExit(timeout: .seconds(120))
        try #require(status == 0, "recording_check.py failed:\n\(checker.output)")
        let line = try #require(checker.output.split(separator: "\n").last { $0.hasPrefix("{") })
        return try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
    }

    @Test func aSessionLeavesAnMP4OfItsOwnMediaAndAResultLinePerFrame() async throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let up = try await UpProcess(["--delay", "2s", "--record", directory.path])
        defer { up.stop() }
        let result = try await runSessionCheck(baseURL: up.baseURL, seconds: 15, audio: true)
        #expect(result["state"] as? String == "live", "\(result["error"] ?? "")")
        let view = try #require(try views(result).first)
        let closed = try await eventually(timeout: .seconds(10)) {
            up.child.output.contains("recording closed: ")
        }
        try #require(closed, "no recording closed:\n\(up.child.output)")
        let logLine = try #require(
            up.child.output.split(separator: "\n").last { $0.contains("recording closed: ") })
        let mp4 = Self.files(in: directory, ending: ".mp4")
        let results = Self.files(in: directory, ending: ".jsonl")
        try #require(mp4.count == 1 && results.count == 1, "\(mp4) \(results)")
        // `river annotate` burns the boxes into a copy, from the results file beside the MP4.
        let annotated = directory.appendingPathComponent("annotated.mp4")
        let annotate = try ChildProcess(try riverBinary(), ["annotate", mp4[0].path, "-o", annotated.path])
        defer { annotate.stop() }
        let annotateStatus = await annotate.waitForExit(timeout: .seconds(120))
        try #require(annotateStatus == 0, "river annotate failed:\n\(annotate.output)")
        let summary = try await check(mp4: mp4[0], results: results[0], annotated: annotated)
        print(
            "river e2e recording: \(summary); serve: \(logLine.split(separator: ": ", maxSplits: 1).last ?? ""); "
                + annotate.output.trimmingCharacters(in: .whitespacesAndNewlines))

        #expect(summary["streams"] as? [String] == ["h264", "opus"])
        // The file lasts as long as serve received the session's video: by serve's clock, from the
        // first keyframe to the last frame (and that frame's own duration). From the page's side,
        // its span of displayed frames and the 2 s the delay held back at the end; the page keeps
        // sending while it closes, so that side is looser.
        let duration = summary["videoDuration"] as? Double ?? 0
        let times = view.timeline.map(\.at)
        let pageSpan = ((times.last ?? 0) - (times.first ?? 0)) / 1000 + 2
        let arrivalSpan = Double(
            logLine.components(separatedBy: "RTP time, ").last?.split(separator: " ").first ?? "")
        #expect(abs(duration - pageSpan) <= 0.5, "video \(duration) s, page \(pageSpan) s")
        #expect(
            abs(duration - (arrivalSpan ?? 0)) <= 0.2,
            "video \(duration) s, by arrival \(arrivalSpan ?? -1) s")
        // One line per frame in the file, and the frames decode.
        let frames = summary["videoFrames"] as? Int ?? 0
        #expect(frames > 12 * panClipFPS)
        #expect(summary["lines"] as? Int == frames)
        #expect(summary["decodedPictures"] as? Int == frames)
        // Each line is its own frame's result: the face box where the clip put the face.
        let paired = summary["paired"] as? Int ?? 0
        let withBox = summary["withBox"] as? Int ?? 0
        #expect(paired == frames)
        #expect(withBox * 10 >= paired * 8, "\(summary)")
        #expect(summary["accuracy"] as? Double ?? 0 >= 0.9, "\(summary)")

        // The annotated copy: every frame, the audio copied, and on the sampled pictures the
        // outline drawn where the clip put the face, which the recording itself does not show.
        let copy = try #require(summary["annotated"] as? [String: Any])
        #expect(copy["streams"] as? [String] == ["h264", "opus"])
        #expect(copy["frames"] as? Int == frames)
        let sampled = copy["sampled"] as? Int ?? 0
        let outlined = copy["outlined"] as? Int ?? 0
        #expect(sampled >= 15 && outlined * 10 >= sampled * 8, "\(copy)")
        #expect((copy["placed"] as? Int ?? 0) * 10 >= outlined * 9, "\(copy)")
        #expect((copy["outlinedInRecording"] as? Int ?? sampled) * 10 <= sampled, "\(copy)")
    }

    /// serve killed mid-session with SIGKILL writes no trailer and closes nothing: what it wrote
    /// until then still reads.
    @Test func aKilledServeLeavesARecordingThatReads() async throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let up = try await UpProcess(["--delay", "2s", "--record", directory.path])
        defer { up.stop() }
        let serve = try #require(up.pids["serve"])
        let killed: Bool
        do {
            let (_, sent) = try await runSessionCheck(baseURL: up.baseURL, seconds: 20, audio: true) {
                let recording = try await eventually(timeout: .seconds(60)) {
                    let mp4 = Self.files(in: directory, ending: ".mp4").first
                    return (mp4.flatMap { try? $0.resourceValues(forKeys: [.fileSizeKey]).fileSize } ?? 0)
                        > 200_000
                }
                guard recording else { return false }
                try await Task.sleep(for: .seconds(3))
                return kill(serve, SIGKILL) == 0
            }
            killed = sent
        } catch {
            // The page's session died with serve; what matters is the file.
            killed = !processAlive(serve)
        }
        try #require(killed, "serve was not killed mid-recording:\n\(up.child.output)")
        let mp4 = try #require(
            Self.files(in: directory, ending: ".mp4").first, "no recording in \(directory.path)")
        let results = try #require(Self.files(in: directory, ending: ".jsonl").first)
        let summary = try await check(mp4: mp4, results: results)
        print("river e2e recording after SIGKILL: \(summary)")
        #expect((summary["streams"] as? [String])?.first == "h264")
        #expect(summary["videoFrames"] as? Int ?? 0 > 3 * panClipFPS, "\(summary)")
        #expect(summary["decodedPictures"] as? Int == summary["videoFrames"] as? Int)
    }
}
