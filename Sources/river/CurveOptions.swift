import ArgumentParser
import Foundation
import RiverBroker

/// `--proxy-key` and `--curve-secret`, shared by `serve` and `onnx`: CURVE to the proxy.
///
/// Both or neither: the proxy's public key authenticates the proxy to this peer, this peer's
/// pair authenticates it to the proxy (whose allow lists must hold its public key).
struct CurveOptions: ParsableArguments {
    @Option(help: "The proxy's public key file (NAME.pub from river keys): connect with CURVE.")
    var proxyKey: String?

    @Option(help: "This peer's secret key file (NAME.key from river keys), with --proxy-key.")
    var curveSecret: String?

    func validate() throws {
        guard (proxyKey == nil) == (curveSecret == nil) else {
            throw ValidationError("give --proxy-key and --curve-secret together")
        }
    }

    /// The keys read from their files; nil without them (the NULL mechanism).
    func peerCurve() throws -> PeerCurve? {
        guard let proxyKey, let curveSecret else { return nil }
        do {
            return PeerCurve(
                proxyKey: try CurveKeyFile.readPublic(proxyKey),
                keyPair: try CurveKeyFile.readPair(curveSecret))
        } catch {
            // One line naming the file, not a usage screen: the options were right, a file is not.
            FileHandle.standardError.write(Data("river: \(error)\n".utf8))
            throw ExitCode.failure
        }
    }

    /// The same options for a child process.
    var arguments: [String] {
        guard let proxyKey, let curveSecret else { return [] }
        return ["--proxy-key", proxyKey, "--curve-secret", curveSecret]
    }
}
