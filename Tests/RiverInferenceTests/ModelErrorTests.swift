import Foundation
import RiverInference
import RiverTestSupport
import Testing

/// Bad models and missing runtimes give typed errors that name the path.
@Suite struct ModelErrorTests {
    @Test func missingModel() throws {
        let path = "/nonexistent/model.onnx"
        #expect(throws: InferenceError.modelNotFound(path: path)) { try InferenceEngine(modelPath: path) }
    }

    @Test func notOnnx() throws {
        let directory = try InferenceFixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("text.onnx").path
        try "this is not a protobuf".write(toFile: path, atomically: true, encoding: .utf8)
        #expect {
            try InferenceEngine(modelPath: path)
        } throws: { error in
            guard case .modelInvalid(let where_, let reason) = error as? InferenceError else { return false }
            return where_ == path && !reason.isEmpty && !(error as! InferenceError).description.contains("\n")
        }
    }

    @Test func unsupportedOutputShape() throws {
        let path = try InferenceFixtures.tinyModel("unsupported_output.onnx")
        #expect {
            try InferenceEngine(modelPath: path)
        } throws: { error in
            guard case .unsupportedModel(let where_, let reason) = error as? InferenceError else {
                return false
            }
            return where_ == path && reason.contains("output0[1,2,1,1,1]")
        }
    }

    @Test func runtimeSearch() throws {
        // An explicit RIVER_ORT_LIB wins, and a missing one is reported as tried.
        #expect(throws: InferenceError.runtimeNotFound(tried: ["RIVER_ORT_LIB=/nope/libonnxruntime.so"])) {
            try PathSearch.onnxRuntimeLibrary(environment: ["RIVER_ORT_LIB": "/nope/libonnxruntime.so"])
        }
        // Without it, the venv is found from the executable's place in the repository.
        let found = try PathSearch.onnxRuntimeLibrary(
            environment: [:],
            roots: PathSearch.roots(executable: "\(InferenceFixtures.repoRoot)/.build/debug/river"))
        #expect(
            found.hasPrefix("\(InferenceFixtures.repoRoot)/.venv/lib") && found.contains("libonnxruntime.so"))
        // Outside any repository nothing is found, and the error lists where it looked.
        let directory = try InferenceFixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        #expect {
            try PathSearch.onnxRuntimeLibrary(environment: [:], roots: [directory.path])
        } throws: { error in
            guard case .runtimeNotFound(let tried) = error as? InferenceError else { return false }
            return tried.count == 1 && tried[0].contains(directory.path)
        }
    }

    @Test func defaultModelIsFoundFromTheExecutablesAncestors() throws {
        let roots = PathSearch.roots(executable: "\(InferenceFixtures.repoRoot)/.build/release/river")
        #expect(
            try PathSearch.defaultModel(roots: roots)
                == "\(InferenceFixtures.repoRoot)/models/centerface.onnx")
        // The search stops at the repository: nothing above it.
        #expect(roots.last == InferenceFixtures.repoRoot)
    }

    /// A `.venv` planted where river is started from, or above the repository, is never loaded.
    @Test func aPlantedVenvOutsideTheRepositoryIsNotSearched() throws {
        let planted = try InferenceFixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: planted) }
        let capi = planted.appendingPathComponent(".venv/lib/python3.11/site-packages/onnxruntime/capi")
        try FileManager.default.createDirectory(at: capi, withIntermediateDirectories: true)
        FileManager.default.createFile(
            atPath: capi.appendingPathComponent("libonnxruntime.so.1").path, contents: Data())
        let binary = planted.appendingPathComponent("bin/river").path
        // An executable outside any repository searches only its own directory.
        #expect(PathSearch.roots(executable: binary) == [planted.appendingPathComponent("bin").path])
        #expect(throws: InferenceError.self) {
            try PathSearch.onnxRuntimeLibrary(environment: [:], roots: PathSearch.roots(executable: binary))
        }
    }
}
