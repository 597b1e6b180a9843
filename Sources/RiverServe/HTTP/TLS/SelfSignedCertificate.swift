import COpenSSL
import Foundation
import RiverDTLS

/// serve's own HTTPS certificate, for when `--host` is not loopback and no `--tls-cert` is given: an
/// ECDSA P-256 key and a self-signed certificate, made with OpenSSL once and kept in the state
/// directory (`tls/cert.pem`, `tls/key.pem`, the key readable by its owner only), so a user trusts
/// it once and it stays trusted across restarts.
///
/// It is a CA certificate for exactly its own names (basicConstraints CA:TRUE, keyCertSign): a
/// browser's trust store accepts a self-signed certificate as an anchor only as a CA, and trusting
/// the anchor then trusts this leaf. Its subjectAltName lists every name the server is reached
/// by (RFC 6125 §6.4.4: browsers ignore the CN). A kept certificate is made again when it no
/// longer covers one of those names (a new interface address) or expires within 30 days; the
/// caller says so, with the new fingerprint, because the user must trust it again.
enum SelfSignedCertificate {
    /// Validity of a new certificate: 397 days, the most browsers accept for a server certificate
    /// (CA/Browser Forum Baseline Requirements §6.3.2; Chromium applies it to local anchors too).
    static let validityDays = 397
    static let renewWithinDays = 30

    struct Files: Equatable {
        var certificate: String
        var key: String
        /// True when this call wrote a new certificate.
        var created: Bool
    }

    /// The kept certificate under `directory/tls`, made (again) when missing, unreadable, expiring
    /// or not covering every one of `names` (IP addresses and DNS names).
    static func ensure(in directory: String, names: [String]) throws -> Files {
        let tls = (directory as NSString).appendingPathComponent("tls")
        let certificate = (tls as NSString).appendingPathComponent("cert.pem")
        let key = (tls as NSString).appendingPathComponent("key.pem")
        if let kept = try? String(contentsOfFile: certificate, encoding: .utf8),
            FileManager.default.isReadableFile(atPath: key), covers(pem: kept, names: names)
        {
            return Files(certificate: certificate, key: key, created: false)
        }
        do {
            try FileManager.default.createDirectory(
                atPath: tls, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        } catch {
            throw TLSSetupError(
                "cannot create the state directory \(tls): \(error.localizedDescription) (--state-dir)")
        }
        let (certificatePEM, keyPEM) = try make(names: names)
        try write(keyPEM, to: key, permissions: 0o600)
        try write(certificatePEM, to: certificate, permissions: 0o644)
        return Files(certificate: certificate, key: key, created: true)
    }

    /// Whether the PEM certificate is valid for more than ``renewWithinDays`` and names each of
    /// `names` in its subjectAltName (OpenSSL's own matchers: `X509_check_ip_asc`,
    /// `X509_check_host`).
    static func covers(pem: String, names: [String]) -> Bool {
        guard let cert = readCertificate(pem) else { return false }
        defer { X509_free(cert) }
        var days: Int32 = 0
        var seconds: Int32 = 0
        guard ASN1_TIME_diff(&days, &seconds, nil, X509_get0_notAfter(cert)) == 1,
            days > renewWithinDays
        else { return false }
        return names.allSatisfy { name in
            isIPAddress(name)
                ? X509_check_ip_asc(cert, name, 0) == 1
                : X509_check_host(cert, name, name.utf8.count, 0, nil) == 1
        }
    }

    /// SHA-256 of a PEM certificate's DER encoding, as `AB:CD:…` (what browsers show as the
    /// certificate's SHA-256 fingerprint).
    static func fingerprint(pem: String) -> String? {
        guard let cert = readCertificate(pem) else { return nil }
        defer { X509_free(cert) }
        return DTLSCertificate.sha256Fingerprint(of: cert)
    }

    static func isIPAddress(_ name: String) -> Bool {
        var v4 = in_addr()
        var v6 = in6_addr()
        return inet_pton(AF_INET, name, &v4) == 1 || inet_pton(AF_INET6, name, &v6) == 1
    }

    /// A new key and certificate, both PEM.
    static func make(names: [String]) throws -> (certificate: String, key: String) {
        ERR_clear_error()
        guard let key = river_EVP_EC_gen("P-256") else { throw openSSLFailure("EVP_EC_gen(P-256)") }
        defer { EVP_PKEY_free(key) }
        guard let cert = X509_new() else { throw openSSLFailure("X509_new") }
        defer { X509_free(cert) }
        var ok = X509_set_version(cert, 2) == 1
        var serial: UInt64 = 0
        withUnsafeMutableBytes(of: &serial) {
            _ = RAND_bytes($0.baseAddress!.assumingMemoryBound(to: UInt8.self), 8)
        }
        ok = ok && ASN1_INTEGER_set_uint64(X509_get_serialNumber(cert), serial >> 1) == 1
        ok = ok && X509_gmtime_adj(river_X509_getm_notBefore(cert), -3_600) != nil
        ok = ok && X509_gmtime_adj(river_X509_getm_notAfter(cert), Int(validityDays) * 86_400) != nil
        ok = ok && X509_set_pubkey(cert, key) == 1
        let subject = X509_get_subject_name(cert)
        ok = ok && X509_NAME_add_entry_by_txt(subject, "O", river_MBSTRING_ASC(), "river", -1, -1, 0) == 1
        ok =
            ok
            && X509_NAME_add_entry_by_txt(subject, "CN", river_MBSTRING_ASC(), "river serve", -1, -1, 0) == 1
        ok = ok && X509_set_issuer_name(cert, subject) == 1
        guard ok else { throw openSSLFailure("certificate fields") }
        let alternativeNames = names.map { isIPAddress($0) ? "IP:\($0)" : "DNS:\($0)" }.joined(separator: ",")
        let extensions: [(Int32, String)] = [
            (NID_basic_constraints, "critical,CA:TRUE,pathlen:0"),
            (NID_key_usage, "critical,digitalSignature,keyCertSign"),
            (NID_ext_key_usage, "serverAuth"),
            (NID_subject_key_identifier, "hash"),
            (NID_subject_alt_name, alternativeNames),
        ]
        var context = X509V3_CTX()
        X509V3_set_ctx(&context, cert, cert, nil, nil, 0)
        for (nid, value) in extensions {
            guard let ext = X509V3_EXT_conf_nid(nil, &context, nid, value) else {
                throw openSSLFailure("extension \(value)")
            }
            defer { X509_EXTENSION_free(ext) }
            guard X509_add_ext(cert, ext, -1) == 1 else { throw openSSLFailure("X509_add_ext") }
        }
        guard X509_sign(cert, key, EVP_sha256()) > 0 else { throw openSSLFailure("X509_sign") }
        let certificatePEM = try pem { PEM_write_bio_X509($0, cert) }
        let keyPEM = try pem { PEM_write_bio_PrivateKey($0, key, nil, nil, 0, nil, nil) }
        return (certificatePEM, keyPEM)
    }

    private static func readCertificate(_ pem: String) -> OpaquePointer? {
        let bytes = Array(pem.utf8)
        return bytes.withUnsafeBytes { raw -> OpaquePointer? in
            guard let bio = BIO_new_mem_buf(raw.baseAddress, Int32(raw.count)) else { return nil }
            defer { BIO_free(bio) }
            return PEM_read_bio_X509(bio, nil, nil, nil)
        }
    }

    private static func pem(_ write: (OpaquePointer) -> Int32) throws -> String {
        guard let bio = BIO_new(BIO_s_mem()) else { throw openSSLFailure("BIO_new") }
        defer { BIO_free(bio) }
        guard write(bio) == 1 else { throw openSSLFailure("PEM_write") }
        var data: UnsafeMutablePointer<CChar>?
        let length = BIO_ctrl(bio, BIO_CTRL_INFO, 0, &data)
        guard let data, length > 0 else { throw openSSLFailure("BIO_get_mem_data") }
        return String(decoding: UnsafeRawBufferPointer(start: data, count: length), as: UTF8.self)
    }

    private static func write(_ text: String, to path: String, permissions: mode_t) throws {
        // Created with its final mode, so the key is never readable by others, even for a moment.
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, permissions)
        guard fd >= 0 else {
            throw TLSSetupError("cannot write \(path): \(String(cString: strerror(errno))) (--state-dir)")
        }
        defer { close(fd) }
        fchmod(fd, permissions)
        let bytes = Array(text.utf8)
        guard bytes.withUnsafeBytes({ Foundation.write(fd, $0.baseAddress, $0.count) }) == bytes.count else {
            throw TLSSetupError("cannot write \(path): \(String(cString: strerror(errno))) (--state-dir)")
        }
    }

    private static func openSSLFailure(_ step: String) -> TLSSetupError {
        let code = ERR_get_error()
        var buffer = [CChar](repeating: 0, count: 256)
        ERR_error_string_n(code, &buffer, buffer.count)
        let text = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return TLSSetupError("self-signed certificate: \(step) failed: \(text)")
    }
}

/// HTTPS could not be set up: which file or step, and why.
public struct TLSSetupError: Error, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}
