import ArgumentParser
import RiverServe

/// `--tls-cert`, `--tls-key` and `--state-dir`, shared by `serve` and `up`.
///
/// HTTPS is on with a certificate given, and on by default for any `--host` other than loopback,
/// because a browser gives the page the camera only in a secure context. Then serve makes its
/// own self-signed certificate once and keeps it in the state directory.
struct HTTPSOptions: ParsableArguments {
    @Option(help: "HTTPS certificate, PEM (a chain, leaf first). Default off loopback: a self-signed one.")
    var tlsCert: String?

    @Option(help: "Private key of --tls-cert, PEM.")
    var tlsKey: String?

    @Option(
        help:
            "Where serve keeps what it makes for itself (its self-signed certificate). Default: $XDG_STATE_HOME/river or ~/.local/state/river."
    )
    var stateDir: String?

    func validate() throws {
        guard (tlsCert == nil) == (tlsKey == nil) else {
            throw ValidationError("give --tls-cert and --tls-key together")
        }
        // Loaded once here, so `up` fails before it starts any child, naming the file.
        if let tlsCert, let tlsKey {
            do {
                _ = try TLSIdentity(.files(certificate: tlsCert, key: tlsKey))
            } catch {
                throw ValidationError("\(error)")
            }
        }
    }

    /// nil for plain HTTP: on loopback without a certificate.
    func mode(host: String) -> ServeOptions.HTTPS? {
        if let tlsCert, let tlsKey { return .certificate(chain: tlsCert, key: tlsKey) }
        guard ServeOptions.HTTPS.required(host: host) else { return nil }
        return .selfSigned(stateDirectory: stateDir ?? ServeOptions.HTTPS.defaultStateDirectory)
    }

    /// The same options for a `serve` child.
    var arguments: [String] {
        var arguments: [String] = []
        if let tlsCert { arguments += ["--tls-cert", tlsCert] }
        if let tlsKey { arguments += ["--tls-key", tlsKey] }
        if let stateDir { arguments += ["--state-dir", stateDir] }
        return arguments
    }
}
