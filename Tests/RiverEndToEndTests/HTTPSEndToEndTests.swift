import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// `river serve` over HTTPS as a user runs it: its own certificate off loopback, a certificate
/// from files, reloaded on SIGHUP, and a bad file named at start. The TLS client is `curl` and
/// `openssl s_client`, so nothing of river's checks river.
@Suite struct HTTPSEndToEndTests {
    /// Runs a command; its stdout, and whether it exited 0.
    @discardableResult
    static func run(_ arguments: [String], stdin: String? = nil) throws -> (ok: Bool, output: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = arguments
        let out = Pipe()
        process.standardOutput = out
        process.standardError = FileHandle.nullDevice
        let input = Pipe()
        process.standardInput = input
        try process.run()
        input.fileHandleForWriting.write(Data((stdin ?? "").utf8))
        try input.fileHandleForWriting.close()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus == 0, String(decoding: data, as: UTF8.self))
    }

    static func temporaryDirectory() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent(
            "river-https-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    /// `openssl x509 -fingerprint -sha256` of a PEM file, as `AB:CD:…`.
    static func fingerprint(ofFile path: String) throws -> String {
        let out = try run(["openssl", "x509", "-in", path, "-noout", "-fingerprint", "-sha256"]).output
        return String(out.split(separator: "=").last ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// The fingerprint of the certificate a fresh TLS connection to 127.0.0.1:port is given.
    static func servedFingerprint(port: Int) throws -> String {
        let chain = try run(["openssl", "s_client", "-connect", "127.0.0.1:\(port)"], stdin: "").output
        let file = try temporaryDirectory().appendingPathComponent("served.pem")
        defer { try? FileManager.default.removeItem(at: file.deletingLastPathComponent()) }
        try chain.write(to: file, atomically: true, encoding: .utf8)
        return try fingerprint(ofFile: file.path)
    }

    @Test func offLoopbackServeMakesItsCertificateOnceAndKeepsIt() async throws {
        let state = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: state) }
        let certificate = state.appendingPathComponent("tls/cert.pem").path

        let first = try await ServeProcess(host: "0.0.0.0", extraArguments: ["--state-dir", state.path])
        let shown = try #require(first.field("sha256"), "\(first.readyLine)")
        #expect(shown == (try Self.fingerprint(ofFile: certificate)))
        let urls = (first.field("urls") ?? "").split(separator: ",").map(String.init)
        #expect(urls.last == "http://127.0.0.1:\(first.httpPort)/", "\(urls)")
        #expect(urls.dropLast().allSatisfy { $0.hasPrefix("https://") }, "\(urls)")
        #expect(!urls.contains { $0.contains("127.0.0.1") && $0.hasPrefix("https") })
        let key = state.appendingPathComponent("tls/key.pem").path
        #expect((try FileManager.default.attributesOfItem(atPath: key)[.posixPermissions] as? Int) == 0o600)

        // A client that trusts the certificate gets the page over TLS; loopback also in plain.
        let secure = try Self.run([
            "curl", "-sS", "--cacert", certificate, "-o", "/dev/null", "-w", "%{http_code}",
            "https://127.0.0.1:\(first.httpPort)/",
        ])
        #expect(secure.ok && secure.output == "200", "\(secure)")
        let untrusted = try Self.run([
            "curl", "-sS", "-o", "/dev/null", "https://127.0.0.1:\(first.httpPort)/",
        ])
        #expect(!untrusted.ok, "a client without the certificate must not get the page")
        let plain = try Self.run([
            "curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}", "\(first.baseURL)/",
        ])
        #expect(plain.output == "200", "\(plain)")
        first.stop()

        // The next start keeps it: a user trusts it once.
        let second = try await ServeProcess(host: "0.0.0.0", extraArguments: ["--state-dir", state.path])
        defer { second.stop() }
        #expect(second.field("sha256") == shown)
        #expect(!second.child.output.contains("made a self-signed certificate"))
    }

    @Test func sighupReloadsTheCertificateFromItsFiles() async throws {
        let dir = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let cert = dir.appendingPathComponent("cert.pem").path
        let key = dir.appendingPathComponent("key.pem").path
        func makeCertificate() throws {
            let made = try Self.run([
                "openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                "-keyout", key, "-out", cert, "-days", "2", "-subj", "/CN=river-test",
                "-addext", "subjectAltName=IP:127.0.0.1",
            ])
            try #require(made.ok, "openssl req failed")
        }
        try makeCertificate()
        let before = try Self.fingerprint(ofFile: cert)
        let serve = try await ServeProcess(extraArguments: ["--tls-cert", cert, "--tls-key", key])
        defer { serve.stop() }
        #expect(serve.field("sha256") == before)
        #expect(try Self.servedFingerprint(port: serve.httpPort) == before)

        try makeCertificate()
        let after = try Self.fingerprint(ofFile: cert)
        #expect(after != before)
        kill(serve.child.process.processIdentifier, SIGHUP)
        let reloaded = try await eventually(timeout: .seconds(10)) {
            (try? Self.servedFingerprint(port: serve.httpPort)) == after
        }
        #expect(
            reloaded, "still serving \(String(describing: try? Self.servedFingerprint(port: serve.httpPort)))"
        )
        #expect(serve.child.process.isRunning, "SIGHUP must not stop serve:\n\(serve.child.output)")
        #expect(serve.child.output.contains("reloaded the certificate"))
    }

    @Test func aCertificateThatCannotBeReadStopsTheStartNamingIt() async throws {
        let child = try ChildProcess(
            try riverBinary(),
            [
                "serve", "--reflect", "--http-port", "0", "--udp-port", "0", "--tls-cert", "no/such/cert.pem",
                "--tls-key", "no/such/key.pem",
            ])
        defer { child.stop() }
        let status = await child.waitForExit(timeout: .seconds(30))
        #expect(status != nil && status != 0)
        #expect(
            child.output.contains("no/such/cert.pem") && child.output.contains("--tls-cert"),
            "\(child.output)")
        #expect(!child.output.contains("river serve: http="))
    }

    /// `river up` checks its certificate before it starts any child.
    @Test func upRefusesABadCertificateBeforeStartingAnything() async throws {
        let child = try ChildProcess(
            try riverBinary(),
            [
                "up", "--http-port", "0", "--udp-port", "0", "--tls-cert", "no/such/cert.pem", "--tls-key",
                "no/such/key.pem",
            ])
        defer { child.stop() }
        let status = await child.waitForExit(timeout: .seconds(20))
        #expect(status != nil && status != 0)
        #expect(child.output.contains("no/such/cert.pem: no such file (--tls-cert)"), "\(child.output)")
        #expect(!child.output.contains("[proxy]") && !child.output.contains("[onnx]"), "\(child.output)")
    }
}
