import Foundation

/// Finds files that live in the repository (the venv's ONNX Runtime, the default model) when the
/// caller gave no explicit path.
///
/// Searched: the current directory and its ancestors, then the running executable's directory and
/// its ancestors, so `.build/release/river` works when run from anywhere inside the repository.
public enum PathSearch {
    /// Directories to search, nearest first, without duplicates.
    public static func roots(
        currentDirectory: String = FileManager.default.currentDirectoryPath,
        executable: String? = PathSearch.executablePath()
    ) -> [String] {
        var roots: [String] = []
        func addAncestors(of start: String) {
            var url = URL(fileURLWithPath: start).standardizedFileURL
            while true {
                let path = url.path
                if !roots.contains(path) { roots.append(path) }
                let parent = url.deletingLastPathComponent().standardizedFileURL
                if parent.path == path || path == "/" { break }
                url = parent
            }
        }
        addAncestors(of: currentDirectory)
        if let executable {
            addAncestors(of: URL(fileURLWithPath: executable).deletingLastPathComponent().path)
        }
        return roots
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
