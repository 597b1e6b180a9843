import COpenSSL

/// A self-signed ECDSA P-256 certificate and its key, as WebRTC uses them: the certificate
/// authenticates nothing by itself; its SHA-256 fingerprint travels in the SDP (`a=fingerprint`,
/// RFC 8122 §5) and the peer checks the DTLS certificate against it.
///
/// `@unchecked Sendable`: the `X509` and `EVP_PKEY` handles are created once in `init`, never
/// mutated afterwards, and OpenSSL reference-counts them atomically, so sharing them read-only
/// between `SSL_CTX`s on different threads is safe.
public final class DTLSCertificate: @unchecked Sendable {
    let x509: OpaquePointer
    let privateKey: OpaquePointer
    /// `sha-256` fingerprint, upper-case hex pairs separated by colons (RFC 8122 §5).
    public let fingerprint: String

    /// The certificate this process presents to every peer (generated on first use).
    public static let shared: DTLSCertificate = {
        do { return try DTLSCertificate(commonName: "river") } catch {
            fatalError("cannot generate the process certificate: \(error)")
        }
    }()

    /// Generates a fresh P-256 key and a self-signed certificate valid from yesterday for 30 days.
    public init(commonName: String = "river") throws(DTLSError) {
        ERR_clear_error()
        guard let key = river_EVP_EC_gen("P-256") else {
            throw .openSSL("EVP_EC_gen(P-256)", lastOpenSSLError())
        }
        guard let cert = X509_new() else {
            EVP_PKEY_free(key)
            throw .openSSL("X509_new", lastOpenSSLError())
        }
        var ok = X509_set_version(cert, 2) == 1
        var serial: UInt64 = 0
        withUnsafeMutableBytes(of: &serial) {
            _ = RAND_bytes($0.baseAddress!.assumingMemoryBound(to: UInt8.self), 8)
        }
        ok = ok && ASN1_INTEGER_set_uint64(X509_get_serialNumber(cert), serial >> 1) == 1
        ok = ok && X509_gmtime_adj(river_X509_getm_notBefore(cert), -86_400) != nil
        ok = ok && X509_gmtime_adj(river_X509_getm_notAfter(cert), 30 * 86_400) != nil
        ok = ok && X509_set_pubkey(cert, key) == 1
        let name = X509_get_subject_name(cert)
        ok = ok && X509_NAME_add_entry_by_txt(name, "CN", river_MBSTRING_ASC(), commonName, -1, -1, 0) == 1
        ok = ok && X509_set_issuer_name(cert, name) == 1
        ok = ok && X509_sign(cert, key, EVP_sha256()) > 0
        guard ok, let digest = Self.sha256Fingerprint(of: cert) else {
            X509_free(cert)
            EVP_PKEY_free(key)
            throw .openSSL("self-signed certificate", lastOpenSSLError())
        }
        x509 = cert
        privateKey = key
        fingerprint = digest
    }

    deinit {
        X509_free(x509)
        EVP_PKEY_free(privateKey)
    }

    /// SHA-256 over an `X509`'s DER encoding, formatted like SDP's `a=fingerprint:sha-256 AB:CD:…`
    /// (and as browsers show a certificate's fingerprint).
    public static func sha256Fingerprint(of cert: OpaquePointer) -> String? {
        var md = [UInt8](repeating: 0, count: Int(EVP_MAX_MD_SIZE))
        var length: UInt32 = 0
        guard X509_digest(cert, EVP_sha256(), &md, &length) == 1 else { return nil }
        return md[0..<Int(length)].map { byte in
            let hex = String(byte, radix: 16, uppercase: true)
            return byte < 16 ? "0" + hex : hex
        }.joined(separator: ":")
    }
}

/// The first queued OpenSSL error as text, or "no OpenSSL error queued".
func lastOpenSSLError() -> String {
    let code = ERR_get_error()
    guard code != 0 else { return "no OpenSSL error queued" }
    var buffer = [CChar](repeating: 0, count: 256)
    ERR_error_string_n(code, &buffer, buffer.count)
    return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
}
