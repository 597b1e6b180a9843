import ArgumentParser
import Foundation
import RiverBroker

/// `river keys`: makes a CURVE key pair (RFC 26) for the proxy, a serve instance or a worker.
///
/// The files use ZeroMQ's certificate text layout (see ``CurveKeyFile``): `NAME.pub` holds the
/// public key, `NAME.key` both keys and is readable by its owner only.
struct KeysCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "keys",
        abstract: "Make a CURVE key pair for the proxy, serve or a worker.",
        discussion: """
            river keys --out keys/proxy writes keys/proxy.key (secret, mode 0600) and keys/proxy.pub. \
            Give the proxy its .key with --curve-secret and the .pub files of its peers with \
            --allow-clients / --allow-workers; give each peer its own .key and the proxy's .pub \
            (--curve-secret, --proxy-key). Without --out both files' text is printed.
            """)

    @Option(help: "Write OUT.key and OUT.pub (directories are made as needed).")
    var out: String?

    @Flag(help: "Replace existing files.")
    var force = false

    func run() throws {
        do {
            let pair = try CurveKeyPair.generate()
            guard let out else {
                print(CurveKeyFile.secretText(pair), terminator: "")
                return
            }
            let paths = try CurveKeyFile.write(pair, base: out, overwrite: force)
            print("river keys: secret=\(paths.secret) public=\(paths.public) key=\(pair.publicKey.z85)")
        } catch {
            throw ValidationError(error.description)
        }
    }
}
