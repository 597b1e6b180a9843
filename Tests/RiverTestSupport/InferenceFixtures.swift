import Foundation
import RiverCore
import RiverInference
import RiverMedia
import Testing

/// Paths and generated models shared by the RiverInference tests and the `river infer` tests.
public enum InferenceFixtures {
    /// The repository root, from this file's location.
    public static let repoRoot: String = {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }
        return url.path
    }()

    public static let astronaut = "\(repoRoot)/models/astronaut.png"
    public static let centerFace = "\(repoRoot)/models/centerface.onnx"

    /// The tiny models of `scripts/make_test_models.py`, generated once per test process into the
    /// git-ignored `fixtures/` folder (the script writes atomically, so parallel runs are safe).
    public static let tinyModels: Result<String, GenerationError> = {
        let directory = "\(repoRoot)/fixtures/inference-models"
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "\(repoRoot)/.venv/bin/python")
        process.arguments = ["\(repoRoot)/scripts/make_test_models.py", directory]
        let errors = Pipe()
        process.standardError = errors
        process.standardOutput = FileHandle.nullDevice
        do { try process.run() } catch {
            return .failure(GenerationError(message: "cannot start python: \(error)"))
        }
        let stderr = errors.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            return .failure(GenerationError(message: String(decoding: stderr, as: UTF8.self)))
        }
        return .success(directory)
    }()

    public struct GenerationError: Error { public let message: String }

    /// The astronaut photo as a JPEG made by the ffmpeg command line (quality 2), written into
    /// `directory`; returns its path.
    public static func astronautJPEG(in directory: URL) throws -> String {
        let jpeg = directory.appendingPathComponent("astronaut.jpg").path
        let ffmpeg = Process()
        ffmpeg.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        ffmpeg.arguments = ["ffmpeg", "-loglevel", "error", "-y", "-i", astronaut, "-q:v", "2", jpeg]
        try ffmpeg.run()
        ffmpeg.waitUntilExit()
        try #require(ffmpeg.terminationStatus == 0, "ffmpeg could not write \(jpeg)")
        return jpeg
    }

    public static func tinyModel(_ name: String) throws -> String {
        "\(try tinyModels.get())/\(name)"
    }

    /// A 128×64 RGB frame: with a 64×64 model the letterbox scale is 0.5 and rows 16..<48 hold it.
    public static func wideFrame() -> VideoFrame {
        VideoFrame(packedWidth: 128, height: 64, format: .rgb24)
    }

    /// A temporary directory removed by the caller.
    public static func temporaryDirectory() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent(
            "river-inference-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    /// Face centre in astronaut.png, annotated by hand in pixels (midway between eyes and mouth).
    public static let faceCentre = (x: Float(224), y: Float(122))

    /// The default model found the astronaut's face where it is, with its five landmarks.
    public static func checkFace(_ result: InferenceResult, width: Int, height: Int) throws {
        #expect(result.family == .centerface)
        let face = try #require(result.detections.max { $0.score < $1.score })
        #expect(face.label == "face")
        #expect(face.score > 0.5)
        let cx = (face.box.x + face.box.w / 2) * Float(width)
        let cy = (face.box.y + face.box.h / 2) * Float(height)
        #expect(abs(cx - faceCentre.x) < 0.05 * Float(width))
        #expect(abs(cy - faceCentre.y) < 0.05 * Float(height))
        let landmarks = try #require(face.landmarks)
        #expect(landmarks.count == 5)
        // Eyes above the nose, nose above the mouth corners, all inside the box.
        #expect(landmarks[0].y < landmarks[2].y && landmarks[2].y < landmarks[3].y)
        for point in landmarks {
            #expect(point.x >= face.box.x && point.x <= face.box.x + face.box.w)
            #expect(point.y >= face.box.y && point.y <= face.box.y + face.box.h)
        }
    }
}
