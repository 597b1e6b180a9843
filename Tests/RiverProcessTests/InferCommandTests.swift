import Foundation
import RiverInference
import RiverMedia
import RiverTestSupport
import Testing

/// `river infer` end to end: the built binary, real files, exit codes and one-line errors.
@Suite struct InferCommandTests {
    struct Run {
        let status: Int32
        let reason: Process.TerminationReason
        let stdout: String
        let stderr: String
    }

    /// The `river` binary next to this test bundle (`swift build --build-tests` builds it too).
    static func riverBinary() throws -> String {
        let candidates = [
            Bundle.main.executableURL?.deletingLastPathComponent().appendingPathComponent("river").path,
            "\(InferenceFixtures.repoRoot)/.build/debug/river",
        ].compactMap { $0 }
        guard let found = candidates.first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
            Issue.record("river binary not built; looked at \(candidates)")
            throw CancellationError()
        }
        return found
    }

    static func river(_ arguments: [String], environment: [String: String] = [:], in directory: String? = nil)
        throws -> Run
    {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: try riverBinary())
        process.arguments = ["infer"] + arguments
        process.currentDirectoryURL = URL(fileURLWithPath: directory ?? InferenceFixtures.repoRoot)
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        let out = Pipe()
        let err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        // A hung child must not hang the suite: kill exactly this process after a generous limit.
        let pid = process.processIdentifier
        let watchdog = DispatchWorkItem { kill(pid, SIGKILL) }
        DispatchQueue.global().asyncAfter(deadline: .now() + 300, execute: watchdog)
        defer { watchdog.cancel() }
        // Read both pipes to the end before waiting, so a chatty child cannot block on a full pipe.
        nonisolated(unsafe) var errData = Data()
        let group = DispatchGroup()
        DispatchQueue.global().async(group: group) {
            errData = err.fileHandleForReading.readDataToEndOfFile()
        }
        let outData = out.fileHandleForReading.readDataToEndOfFile()
        group.wait()
        process.waitUntilExit()
        return Run(
            status: process.terminationStatus, reason: process.terminationReason,
            stdout: String(decoding: outData, as: UTF8.self), stderr: String(decoding: errData, as: UTF8.self)
        )
    }

    /// Non-zero exit (not a signal), exactly one stderr line, naming `path` and containing `words`.
    static func expectOneLineFailure(_ run: Run, naming path: String, _ words: String) {
        #expect(run.reason == .exit)
        #expect(run.status != 0)
        let lines = run.stderr.split(separator: "\n")
        #expect(lines.count == 1, "stderr: \(run.stderr)")
        #expect(run.stderr.contains(path), "stderr: \(run.stderr)")
        #expect(run.stderr.contains(words), "stderr: \(run.stderr)")
    }

    @Test func findsTheAstronautsFaceWithTheDefaultModelAndAnnotates() throws {
        let directory = try InferenceFixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let annotated = directory.appendingPathComponent("out.png").path
        // Run from a subdirectory: the default model and ORT are found by searching upwards.
        let run = try Self.river(
            [InferenceFixtures.astronaut, "--annotate", annotated],
            in: "\(InferenceFixtures.repoRoot)/Sources")
        #expect(run.status == 0, "stderr: \(run.stderr)")
        let lines = run.stdout.split(separator: "\n")
        #expect(lines.count == 1)
        let result = try JSONDecoder().decode(InferenceResult.self, from: Data(lines[0].utf8))
        #expect(result.model == "centerface.onnx")
        try InferenceFixtures.checkFace(result, width: 512, height: 512)
        #expect(lines[0].contains("\"image\":\"\(InferenceFixtures.astronaut)\""))

        let picture = try ImageFile.load(annotated)
        #expect(picture.width == 512 && picture.height == 512)
        // The box's top-left corner is painted green.
        let face = result.detections[0]
        let x = Int(face.box.x * 512) + 1
        let y = Int(face.box.y * 512) + 1
        let i = y * picture.strides[0] + x * 3
        #expect(Array(picture.data[i..<i + 3]) == [0, 255, 0])
    }

    @Test func missingRuntimeLibrary() throws {
        let run = try Self.river(
            [InferenceFixtures.astronaut], environment: ["RIVER_ORT_LIB": "/nonexistent/libonnxruntime.so"])
        Self.expectOneLineFailure(
            run, naming: "/nonexistent/libonnxruntime.so", "ONNX Runtime library not found")
    }

    @Test func runtimeLibraryThatIsNotOne() throws {
        let run = try Self.river(
            [InferenceFixtures.astronaut], environment: ["RIVER_ORT_LIB": InferenceFixtures.astronaut])
        Self.expectOneLineFailure(
            run, naming: InferenceFixtures.astronaut, "cannot load ONNX Runtime library")
    }

    @Test func missingModel() throws {
        let run = try Self.river(["--model", "/nonexistent/model.onnx", InferenceFixtures.astronaut])
        Self.expectOneLineFailure(run, naming: "/nonexistent/model.onnx", "model not found")
    }

    @Test func fileThatIsNotOnnx() throws {
        let directory = try InferenceFixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let model = directory.appendingPathComponent("fake.onnx").path
        try "definitely not onnx".write(toFile: model, atomically: true, encoding: .utf8)
        let run = try Self.river(["--model", model, InferenceFixtures.astronaut])
        Self.expectOneLineFailure(run, naming: model, "not a loadable ONNX model")
    }

    @Test func unsupportedOutputShape() throws {
        let model = try InferenceFixtures.tinyModel("unsupported_output.onnx")
        let run = try Self.river(["--model", model, InferenceFixtures.astronaut])
        Self.expectOneLineFailure(run, naming: model, "unsupported model")
    }

    @Test func unreadableImages() throws {
        let directory = try InferenceFixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let garbage = directory.appendingPathComponent("garbage.png").path
        try Data((0..<4096).map { UInt8(truncatingIfNeeded: $0 &* 7919) }).write(
            to: URL(fileURLWithPath: garbage))
        let missing = directory.appendingPathComponent("missing.jpg").path

        Self.expectOneLineFailure(try Self.river([missing]), naming: missing, "cannot read image")
        Self.expectOneLineFailure(try Self.river([garbage]), naming: garbage, "cannot read image")
        // A bad image among good ones: the good one still gets its result, the exit status reports the failure.
        let mixed = try Self.river([garbage, InferenceFixtures.astronaut])
        Self.expectOneLineFailure(mixed, naming: garbage, "cannot read image")
        #expect(mixed.stdout.split(separator: "\n").count == 1)
    }

    @Test func yoloModelFromTheCommandLine() throws {
        let run = try Self.river([
            "--model", try InferenceFixtures.tinyModel("yolov8_tiny.onnx"), InferenceFixtures.astronaut,
        ])
        #expect(run.status == 0, "stderr: \(run.stderr)")
        let result = try JSONDecoder().decode(InferenceResult.self, from: Data(run.stdout.utf8))
        #expect(result.family == .yolov8)
        #expect(result.detections.map(\.label) == ["dog", "car", "person", "car"])
    }
}
