import Foundation
import RiverCore
import RiverInference
import RiverMedia
import Testing

/// Paths and generated models shared by the RiverInference tests.
enum Fixtures {
    /// The repository root, from this file's location.
    static let repoRoot: String = {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }
        return url.path
    }()

    static let astronaut = "\(repoRoot)/models/astronaut.png"
    static let centerFace = "\(repoRoot)/models/centerface.onnx"

    /// The tiny models of `scripts/make_test_models.py`, generated once per test process into the
    /// git-ignored `fixtures/` folder (the script writes atomically, so parallel runs are safe).
    static let tinyModels: Result<String, GenerationError> = {
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

    struct GenerationError: Error { let message: String }

    static func tinyModel(_ name: String) throws -> String {
        "\(try tinyModels.get())/\(name)"
    }

    /// A 128×64 RGB frame: with a 64×64 model the letterbox scale is 0.5 and rows 16..<48 hold it.
    static func wideFrame() -> VideoFrame {
        VideoFrame(packedWidth: 128, height: 64, format: .rgb24)
    }

    /// A temporary directory removed by the caller.
    static func temporaryDirectory() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent(
            "river-inference-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }
}
