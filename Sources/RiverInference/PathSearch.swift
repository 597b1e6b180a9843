import Foundation

/// Finds files that live in the repository (the venv's ONNX Runtime, the default model) when the
/// caller gave no explicit path.
///
/// Searched: the running executable's directory and its ancestors up to the repository root (the
/// first that holds `Package.swift`), so `.build/release/river` finds them from wherever it is
/// started. Never the current directory, nor anything above the repository: a `.venv` or
/// `models/` planted in a directory a user happens to run river from, or in a shared parent like
/// `/tmp`, would otherwise be loaded into the worker. Outside a repository only the executable's
/// own directory is searched; give `--model` and `RIVER_ORT_LIB` there.
public enum PathSearch {
    /// Directories to search, nearest first.
    public static func roots(executable: String? = PathSearch.executablePath()) -> [String] {
        guard let executable else { return [] }
        let start = URL(fileURLWithPath: executable).deletingLastPathComponent().standardizedFileURL
        var roots: [String] = []
        var url = start
        while true {
            roots.append(url.path)
            if FileManager.default.fileExists(atPath: url.appendingPathComponent("Package.swift").path) {
                return roots
            }
            let parent = url.deletingLastPathComponent().standardizedFileURL
            if parent.path == url.path { break }
            url = parent
        }
        return [start.path]
    }

    /// The path of the running program (Linux: `/proc/self/exe`).
    public static func executablePath() -> String? {
        if let link = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") {
            return link
        }
        return CommandLine.arguments.first.map { URL(fileURLWithPath: $0).path }
    }

    /// The first `root/relative` that exists, or nil; `tried` receives every candidate looked at.
    public static func find(_ relative: String, in roots: [String], tried: inout [String]) -> String? {
        for root in roots {
            let candidate = (root as NSString).appendingPathComponent(relative)
            tried.append(candidate)
            if FileManager.default.fileExists(atPath: candidate) { return candidate }
        }
        return nil
    }

    /// The default model, `models/centerface.onnx`, searched from `roots`.
    public static func defaultModel(roots: [String] = PathSearch.roots()) throws(InferenceError) -> String {
        var tried: [String] = []
        guard let path = find("models/centerface.onnx", in: roots, tried: &tried) else {
            throw .modelNotFound(path: "models/centerface.onnx (tried \(tried.joined(separator: ", ")))")
        }
        return path
    }

    /// `libonnxruntime.so*` inside a `.venv` (any Python version), searched from `roots`.
    /// `RIVER_ORT_LIB`, when set, wins and is used as given.
    public static func onnxRuntimeLibrary(
        environment: [String: String] = ProcessInfo.processInfo.environment,
        roots: [String] = PathSearch.roots()
    ) throws(InferenceError) -> String {
        if let explicit = environment["RIVER_ORT_LIB"], !explicit.isEmpty {
            guard FileManager.default.fileExists(atPath: explicit) else {
                throw .runtimeNotFound(tried: ["RIVER_ORT_LIB=\(explicit)"])
            }
            return explicit
        }
        let fm = FileManager.default
        var tried: [String] = []
        for root in roots {
            let venv = (root as NSString).appendingPathComponent(".venv")
            guard fm.fileExists(atPath: venv) else {
                tried.append("\(venv)/lib/python*/site-packages/onnxruntime/capi/libonnxruntime.so*")
                continue
            }
            for lib in ["lib", "lib64"] {
                let libDir = (venv as NSString).appendingPathComponent(lib)
                let pythons = (try? fm.contentsOfDirectory(atPath: libDir))?.filter { $0.hasPrefix("python") }
                for python in (pythons ?? []).sorted() {
                    let capi = "\(libDir)/\(python)/site-packages/onnxruntime/capi"
                    tried.append("\(capi)/libonnxruntime.so*")
                    let names = (try? fm.contentsOfDirectory(atPath: capi)) ?? []
                    // Prefer the fully versioned file: the unversioned name is not always shipped.
                    if let name = names.filter({ $0.hasPrefix("libonnxruntime.so") }).sorted().last {
                        return "\(capi)/\(name)"
                    }
                }
            }
        }
        throw .runtimeNotFound(tried: tried)
    }
}
