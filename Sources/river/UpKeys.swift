import Foundation
import RiverBroker
import RiverServe

/// The CURVE keys `river up` makes for its own children, so that even on one host a process that
/// connects to the proxy without an allowed key gets no frames.
///
/// With a loopback backend they are ephemeral: a private temporary directory, removed when `up`
/// ends. With a backend other hosts can reach they are kept in the state directory
/// (`STATE/broker`), so the proxy's public key stays the same across restarts and the public keys
/// of remote workers can be put in `STATE/broker/workers`.
struct UpKeys {
    let directory: String
    let isKept: Bool

    var proxySecret: String { path("proxy.key") }
    var proxyPublic: String { path("proxy.pub") }
    var workersDirectory: String { path("workers") }

    static func make(backend: String, stateDirectory: String?) throws -> UpKeys {
        let keys: UpKeys
        if Self.isLoopback(backend) {
            var template = Array(
                (NSTemporaryDirectory() as NSString).appendingPathComponent("river-up-XXXXXX").utf8CString)
            guard let made = mkdtemp(&template) else {
                throw CurveKeyError.unreadable(path: "mkdtemp", reason: "errno \(errno)")
            }
            keys = UpKeys(directory: String(cString: made), isKept: false)
        } else {
            let state = stateDirectory ?? ServeOptions.HTTPS.defaultStateDirectory
            keys = UpKeys(directory: (state as NSString).appendingPathComponent("broker"), isKept: true)
        }
        try keys.makeMissing()
        return keys
    }

    /// Kept keys are made once and reused; the local worker's public key is among the allowed.
    private func makeMissing() throws {
        try FileManager.default.createDirectory(
            atPath: workersDirectory, withIntermediateDirectories: true,
            attributes: [.posixPermissions: 0o700])
        for name in ["proxy", "serve", "onnx"]
        where !FileManager.default.fileExists(atPath: path("\(name).key")) {
            try CurveKeyFile.write(try CurveKeyPair.generate(), base: path(name), overwrite: true)
        }
        let allowed = (workersDirectory as NSString).appendingPathComponent("onnx.pub")
        try? FileManager.default.removeItem(atPath: allowed)
        try FileManager.default.copyItem(atPath: path("onnx.pub"), toPath: allowed)
    }

    var proxyArguments: [String] {
        [
            "--curve-secret", proxySecret, "--allow-clients", path("serve.pub"), "--allow-workers",
            workersDirectory,
        ]
    }
    var workerArguments: [String] { ["--proxy-key", proxyPublic, "--curve-secret", path("onnx.key")] }
    var serveArguments: [String] { ["--proxy-key", proxyPublic, "--curve-secret", path("serve.key")] }

    func removeEphemeral() {
        guard !isKept else { return }
        try? FileManager.default.removeItem(atPath: directory)
    }

    private func path(_ name: String) -> String { (directory as NSString).appendingPathComponent(name) }

    /// `tcp://127.x.x.x:…`, `tcp://localhost:…` or `tcp://[::1]:…`.
    private static func isLoopback(_ endpoint: String) -> Bool {
        let host =
            endpoint.dropFirst("tcp://".count).split(separator: ":", omittingEmptySubsequences: false).first
            ?? ""
        return host.hasPrefix("127.") || host == "localhost" || endpoint.hasPrefix("tcp://[::1]")
    }
}
