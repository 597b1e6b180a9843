import CZMQ
import Foundation

/// A CURVE key (RFC 26, CurveZMQ): 32 bytes, written as 40 characters of Z85 (RFC 32).
///
/// Keys are kept binary: that is what libzmq hands the ZAP handler as a peer's credentials, so an
/// allowed-key lookup compares bytes, not text.
public struct CurveKey: Hashable, Sendable, CustomStringConvertible {
    public let bytes: [UInt8]

    /// A key from its Z85 text; nil unless it is 40 valid Z85 characters.
    public init?(z85 text: String) {
        let characters = Array(text.utf8CString)  // NUL-terminated, as zmq_z85_decode reads it
        guard text.utf8.count == 40 else { return nil }
        var decoded = [UInt8](repeating: 0, count: 32)
        let ok = characters.withUnsafeBufferPointer { zmq_z85_decode(&decoded, $0.baseAddress) != nil }
        guard ok else { return nil }
        bytes = decoded
    }

    /// A key from its 32 bytes; nil for any other length.
    public init?(bytes: [UInt8]) {
        guard bytes.count == 32 else { return nil }
        self.bytes = bytes
    }

    /// The Z85 text (40 characters).
    public var z85: String {
        var text = [CChar](repeating: 0, count: 41)
        _ = zmq_z85_encode(&text, bytes, 32)
        return String(decoding: text.prefix(40).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    public var description: String { z85 }
}

/// A CURVE key pair: a peer's long-term identity.
public struct CurveKeyPair: Sendable, Equatable {
    public let publicKey: CurveKey
    public let secretKey: CurveKey

    public init(publicKey: CurveKey, secretKey: CurveKey) {
        self.publicKey = publicKey
        self.secretKey = secretKey
    }

    /// A fresh pair from libzmq's generator (libsodium's random source underneath).
    public static func generate() throws(CurveKeyError) -> CurveKeyPair {
        var publicText = [CChar](repeating: 0, count: 41)
        var secretText = [CChar](repeating: 0, count: 41)
        guard zmq_curve_keypair(&publicText, &secretText) == 0 else { throw .unavailable }
        func key(_ text: [CChar]) -> CurveKey {
            CurveKey(z85: String(decoding: text.prefix(40).map { UInt8(bitPattern: $0) }, as: UTF8.self))!
        }
        return CurveKeyPair(publicKey: key(publicText), secretKey: key(secretText))
    }
}

/// Why a key file could not be used: which file, and what is wrong with it.
public enum CurveKeyError: Error, Sendable, CustomStringConvertible {
    /// libzmq was built without CURVE.
    case unavailable
    case unreadable(path: String, reason: String)
    case missing(path: String, field: String)
    case badKey(path: String, field: String)
    case noPublicKeys(path: String)
    case exists(path: String)

    public var description: String {
        switch self {
        case .unavailable: "this libzmq has no CURVE support (zmq_has(\"curve\") is 0)"
        case .unreadable(let path, let reason): "cannot read key file \(path): \(reason)"
        case .missing(let path, let field): "key file \(path) has no \(field)"
        case .badKey(let path, let field): "key file \(path): \(field) is not 40 characters of Z85"
        case .noPublicKeys(let path): "no public keys in \(path) (a .pub file, or a directory of them)"
        case .exists(let path): "\(path) exists; not overwriting it"
        }
    }
}

/// river's key files: ZeroMQ's certificate text layout (zcert, itself ZPL, RFC 4), a `curve`
/// section with quoted Z85 keys, so the files are readable and interchangeable with zcert tools.
///
/// `NAME.pub` holds `public-key`; `NAME.key` holds `public-key` and `secret-key` and is written
/// mode 0600. Lines starting with `#` are comments; other sections are ignored.
public enum CurveKeyFile {
    /// The text of a public key file.
    public static func publicText(_ pair: CurveKeyPair) -> String {
        """
        #   river CURVE public key. Safe to share: give it to the proxy (--allow-clients,
        #   --allow-workers) or, for the proxy's own key, to its peers (--proxy-key).
        curve
            public-key = "\(pair.publicKey.z85)"

        """
    }

    /// The text of a secret key file (both keys).
    public static func secretText(_ pair: CurveKeyPair) -> String {
        """
        #   river CURVE secret key. Keep it private: whoever holds it is this peer.
        curve
            public-key = "\(pair.publicKey.z85)"
            secret-key = "\(pair.secretKey.z85)"

        """
    }

    /// Writes `BASE.key` (mode 0600) and `BASE.pub`; refuses to replace an existing file unless
    /// `overwrite`. Returns the two paths.
    @discardableResult
    public static func write(_ pair: CurveKeyPair, base: String, overwrite: Bool = false)
        throws(CurveKeyError)
        -> (secret: String, public: String)
    {
        let secretPath = base + ".key"
        let publicPath = base + ".pub"
        let manager = FileManager.default
        if !overwrite {
            for path in [secretPath, publicPath] where manager.fileExists(atPath: path) {
                throw .exists(path: path)
            }
        }
        let directory = (secretPath as NSString).deletingLastPathComponent
        do {
            if !directory.isEmpty {
                try manager.createDirectory(atPath: directory, withIntermediateDirectories: true)
            }
            // Created 0600 before a byte is written, so the secret is never readable by others.
            try? manager.removeItem(atPath: secretPath)
            guard
                manager.createFile(atPath: secretPath, contents: nil, attributes: [.posixPermissions: 0o600])
            else { throw CurveKeyError.unreadable(path: secretPath, reason: "cannot create it") }
            let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: secretPath))
            try handle.write(contentsOf: Data(secretText(pair).utf8))
            try handle.close()
            try Data(publicText(pair).utf8).write(to: URL(fileURLWithPath: publicPath))
        } catch let error as CurveKeyError {
            throw error
        } catch {
            throw .unreadable(path: secretPath, reason: "\(error)")
        }
        return (secretPath, publicPath)
    }

    /// Reads a key pair from a secret key file.
    public static func readPair(_ path: String) throws(CurveKeyError) -> CurveKeyPair {
        let fields = try read(path)
        return CurveKeyPair(
            publicKey: try key("public-key", in: fields, path: path),
            secretKey: try key("secret-key", in: fields, path: path))
    }

    /// Reads the public key from a public (or secret) key file.
    public static func readPublic(_ path: String) throws(CurveKeyError) -> CurveKey {
        try key("public-key", in: try read(path), path: path)
    }

    /// The public keys at `path`: that one file, or every `*.pub` file of that directory.
    public static func readPublicKeys(_ path: String) throws(CurveKeyError) -> Set<CurveKey> {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw .unreadable(path: path, reason: "no such file or directory")
        }
        guard isDirectory.boolValue else { return [try readPublic(path)] }
        let names: [String]
        do {
            names = try FileManager.default.contentsOfDirectory(atPath: path)
        } catch {
            throw .unreadable(path: path, reason: "\(error)")
        }
        var keys = Set<CurveKey>()
        for name in names.sorted() where name.hasSuffix(".pub") {
            keys.insert(try readPublic((path as NSString).appendingPathComponent(name)))
        }
        guard !keys.isEmpty else { throw .noPublicKeys(path: path) }
        return keys
    }

    /// `name = "value"` lines of the `curve` section.
    static func parse(_ text: String) -> [String: String] {
        var fields: [String: String] = [:]
        var section = ""
        for rawLine in text.split(whereSeparator: \.isNewline) {
            let line = rawLine.trimmingCharacters(in: .whitespaces)
            if line.isEmpty || line.hasPrefix("#") { continue }
            // ZPL: a section name starts in the first column, its fields are indented.
            if rawLine.first != " " && rawLine.first != "\t" {
                section = line
                continue
            }
            guard section == "curve", let equals = line.firstIndex(of: "=") else { continue }
            let name = line[..<equals].trimmingCharacters(in: .whitespaces)
            var value = line[line.index(after: equals)...].trimmingCharacters(in: .whitespaces)
            if value.count >= 2, value.hasPrefix("\""), value.hasSuffix("\"") {
                value = String(value.dropFirst().dropLast())
            }
            fields[name] = value
        }
        return fields
    }

    private static func read(_ path: String) throws(CurveKeyError) -> [String: String] {
        do {
            return parse(try String(contentsOfFile: path, encoding: .utf8))
        } catch {
            throw .unreadable(path: path, reason: "\(error.localizedDescription)")
        }
    }

    private static func key(_ field: String, in fields: [String: String], path: String) throws(CurveKeyError)
        -> CurveKey
    {
        guard let text = fields[field] else { throw .missing(path: path, field: field) }
        guard let key = CurveKey(z85: text) else { throw .badKey(path: path, field: field) }
        return key
    }
}
