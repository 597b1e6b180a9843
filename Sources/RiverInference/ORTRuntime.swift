import CONNXRuntime
import Foundation

/// The loaded ONNX Runtime library: its API table and the one process-wide `OrtEnv`.
///
/// `@unchecked Sendable`: the table is immutable after loading, and ORT documents `OrtEnv` as safe
/// to share between threads; river never mutates either after creation.
public final class ORTRuntime: @unchecked Sendable {
    /// Path the library was loaded from.
    public let libraryPath: String
    /// ORT's version string, e.g. "1.32.0".
    public let version: String
    let api: UnsafePointer<RiverOrtApi>
    let env: OpaquePointer

    private static let lock = NSLock()
    /// Guarded by `lock`; written once.
    nonisolated(unsafe) private static var loaded: ORTRuntime?

    private init(libraryPath: String, version: String, api: UnsafePointer<RiverOrtApi>, env: OpaquePointer) {
        self.libraryPath = libraryPath
        self.version = version
        self.api = api
        self.env = env
    }

    /// The runtime, loading it on first use from `libraryPath` or, when nil, from
    /// `PathSearch.onnxRuntimeLibrary()`. A process holds one runtime: later paths are ignored.
    public static func shared(libraryPath: String? = nil) throws(InferenceError) -> ORTRuntime {
        lock.lock()
        defer { lock.unlock() }
        if let loaded { return loaded }
        let path: String
        if let libraryPath { path = libraryPath } else { path = try PathSearch.onnxRuntimeLibrary() }
        var message = [CChar](repeating: 0, count: 512)
        guard let api = river_ort_load(path, &message, message.count) else {
            throw .runtimeUnloadable(
                path: path,
                reason: String(
                    decoding: message.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))
        }
        var env: OpaquePointer?
        if let status = api.pointee.CreateEnv(Int32(RIVER_ORT_LOGGING_LEVEL_ERROR), "river", &env) {
            let reason = String(cString: api.pointee.GetErrorMessage(status)!)
            api.pointee.ReleaseStatus(status)
            throw .runtimeUnloadable(path: path, reason: reason)
        }
        let version = river_ort_version().map { String(cString: $0) } ?? "unknown"
        let runtime = ORTRuntime(libraryPath: path, version: version, api: api, env: env!)
        loaded = runtime
        return runtime
    }

    /// Throws the message of a non-nil `OrtStatus` (and releases it).
    @inline(__always)
    func check(_ status: OpaquePointer?, _ operation: @autoclosure () -> String) throws(InferenceError) {
        guard let status else { return }
        let message = String(cString: api.pointee.GetErrorMessage(status)!)
        api.pointee.ReleaseStatus(status)
        throw .runtime(operation: operation(), message: message)
    }
}
