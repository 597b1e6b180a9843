import Foundation
import NIOSSL
import Synchronization

/// The certificate chain and key serve's HTTPS presents, loaded through swift-nio-ssl, and
/// reloaded in place on SIGHUP (``reload()``): connections accepted afterwards get the new
/// certificate, open ones keep theirs.
public final class TLSIdentity: Sendable {
    /// Where the certificate comes from.
    public enum Source: Sendable, Equatable {
        /// `--tls-cert`/`--tls-key`: PEM files; the certificate file may hold a chain, leaf first.
        case files(certificate: String, key: String)
        /// serve's own self-signed certificate, kept under `stateDirectory` and covering `names`
        /// (``SelfSignedCertificate``).
        case selfSigned(stateDirectory: String, names: [String])
    }

    /// One loaded certificate.
    public struct Loaded: Sendable {
        let context: NIOSSLContext
        /// SHA-256 of the leaf certificate, `AB:CD:…`.
        public let fingerprint: String
        public let certificatePath: String
        /// True when a self-signed certificate was made by this load (the user must trust it).
        public let created: Bool
    }

    public let source: Source
    private let current: Mutex<Loaded>

    public init(_ source: Source) throws {
        self.source = source
        current = Mutex(try Self.load(source))
    }

    public var loaded: Loaded { current.withLock { $0 } }
    var context: NIOSSLContext { current.withLock { $0.context } }

    /// Loads the certificate again. On failure the one in use stays, and the error says why.
    @discardableResult
    public func reload() throws -> Loaded {
        let fresh = try Self.load(source)
        current.withLock { $0 = fresh }
        return fresh
    }

    static func load(_ source: Source) throws -> Loaded {
        let certificatePath: String
        let keyPath: String
        var created = false
        switch source {
        case .files(let certificate, let key):
            (certificatePath, keyPath) = (certificate, key)
        case .selfSigned(let directory, let names):
            let files = try SelfSignedCertificate.ensure(in: directory, names: names)
            (certificatePath, keyPath, created) = (files.certificate, files.key, files.created)
        }
        try Self.checkReadable(certificatePath, what: "certificate", option: "--tls-cert")
        try Self.checkReadable(keyPath, what: "key", option: "--tls-key")
        guard let pem = try? String(contentsOfFile: certificatePath, encoding: .utf8) else {
            throw TLSSetupError("the certificate \(certificatePath) is not text (PEM) (--tls-cert)")
        }
        let chain: [NIOSSLCertificate]
        do {
            chain = try NIOSSLCertificate.fromPEMBytes(Array(pem.utf8))
        } catch {
            throw TLSSetupError("the certificate \(certificatePath) is not PEM: \(error) (--tls-cert)")
        }
        guard !chain.isEmpty, let fingerprint = SelfSignedCertificate.fingerprint(pem: pem) else {
            throw TLSSetupError("the certificate \(certificatePath) holds no PEM certificate (--tls-cert)")
        }
        let key: NIOSSLPrivateKey
        do {
            key = try NIOSSLPrivateKey(file: keyPath, format: .pem)
        } catch {
            throw TLSSetupError("the key \(keyPath) is not a PEM private key: \(error) (--tls-key)")
        }
        var configuration = TLSConfiguration.makeServerConfiguration(
            certificateChain: chain.map { .certificate($0) }, privateKey: .privateKey(key))
        configuration.minimumTLSVersion = .tlsv12
        do {
            let context = try NIOSSLContext(configuration: configuration)
            return Loaded(
                context: context, fingerprint: fingerprint, certificatePath: certificatePath, created: created
            )
        } catch {
            throw TLSSetupError(
                "the key \(keyPath) does not fit the certificate \(certificatePath): \(error) (--tls-key)")
        }
    }

    private static func checkReadable(_ path: String, what: String, option: String) throws {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw TLSSetupError("cannot read the \(what) \(path): no such file (\(option))")
        }
        guard !isDirectory.boolValue, FileManager.default.isReadableFile(atPath: path) else {
            throw TLSSetupError("cannot read the \(what) \(path): not a readable file (\(option))")
        }
    }
}
