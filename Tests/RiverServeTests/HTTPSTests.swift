import Foundation
import Hummingbird
import Logging
import NIOCore
import NIOPosix
import NIOSSL
import ServiceLifecycle
import Testing

@testable import RiverServe

/// serve's HTTPS: its own self-signed certificate, certificates from files, and the one port that
/// speaks TLS to everyone and plain HTTP to loopback, against a real TLS client on 127.0.0.1.
@Suite struct HTTPSTests {
    /// A fresh directory, removed when `body` returns or throws.
    static func withDirectory<T>(_ body: (String) async throws -> T) async throws -> T {
        let path = NSTemporaryDirectory() + "river-https-\(UInt64.random(in: 0...UInt64.max))"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: path) }
        return try await body(path)
    }

    @Test func selfSignedIsMadeOnceKeptAndMadeAgainForANewName() async throws {
        try await Self.withDirectory { state in
            let names = ["localhost", "127.0.0.1", "::1", "192.0.2.7"]
            let first = try SelfSignedCertificate.ensure(in: state, names: names)
            #expect(first.created)
            let keyMode =
                try FileManager.default.attributesOfItem(atPath: first.key)[.posixPermissions] as? Int
            #expect(keyMode == 0o600, "the key must be readable by its owner only")
            let pem = try String(contentsOfFile: first.certificate, encoding: .utf8)
            #expect(SelfSignedCertificate.covers(pem: pem, names: names))
            #expect(!SelfSignedCertificate.covers(pem: pem, names: ["192.0.2.8"]))
            #expect(!SelfSignedCertificate.covers(pem: pem, names: ["example.com"]))

            let again = try SelfSignedCertificate.ensure(in: state, names: names)
            #expect(!again.created)
            #expect(try String(contentsOfFile: again.certificate, encoding: .utf8) == pem)

            // A new interface address is not covered: a new certificate, which covers it.
            let moved = try SelfSignedCertificate.ensure(in: state, names: names + ["198.51.100.1"])
            #expect(moved.created)
            let newPEM = try String(contentsOfFile: moved.certificate, encoding: .utf8)
            #expect(newPEM != pem)
            #expect(SelfSignedCertificate.covers(pem: newPEM, names: names + ["198.51.100.1"]))
            #expect(
                SelfSignedCertificate.fingerprint(pem: newPEM) != SelfSignedCertificate.fingerprint(pem: pem))
        }
    }

    @Test func fileErrorsNameTheFileAndTheOption() async throws {
        try await Self.withDirectory { dir in
            let made = try SelfSignedCertificate.make(names: ["localhost"])
            let other = try SelfSignedCertificate.make(names: ["localhost"])
            let cert = dir + "/cert.pem"
            let key = dir + "/key.pem"
            let otherKey = dir + "/other-key.pem"
            let garbage = dir + "/garbage.pem"
            try made.certificate.write(toFile: cert, atomically: true, encoding: .utf8)
            try made.key.write(toFile: key, atomically: true, encoding: .utf8)
            try other.key.write(toFile: otherKey, atomically: true, encoding: .utf8)
            try "not a certificate\n".write(toFile: garbage, atomically: true, encoding: .utf8)

            func failure(_ source: TLSIdentity.Source) -> String {
                do {
                    _ = try TLSIdentity(source)
                    return "loaded"
                } catch {
                    return "\(error)"
                }
            }
            let missing = failure(.files(certificate: dir + "/none.pem", key: key))
            #expect(missing.contains("none.pem") && missing.contains("--tls-cert"), "\(missing)")
            let notPEM = failure(.files(certificate: garbage, key: key))
            #expect(notPEM.contains("garbage.pem") && notPEM.contains("--tls-cert"), "\(notPEM)")
            let noKey = failure(.files(certificate: cert, key: dir + "/nokey.pem"))
            #expect(noKey.contains("nokey.pem") && noKey.contains("--tls-key"), "\(noKey)")
            let wrongKey = failure(.files(certificate: cert, key: otherKey))
            #expect(wrongKey.contains("other-key.pem") && wrongKey.contains("does not fit"), "\(wrongKey)")
            #expect(failure(.files(certificate: cert, key: key)) == "loaded")

            // A chain: leaf first, then an issuer. The fingerprint is the leaf's.
            let chain = dir + "/chain.pem"
            try (made.certificate + other.certificate).write(toFile: chain, atomically: true, encoding: .utf8)
            let identity = try TLSIdentity(.files(certificate: chain, key: key))
            #expect(identity.loaded.fingerprint == SelfSignedCertificate.fingerprint(pem: made.certificate))
        }
    }

    @Test func loopbackPeersAreTold() {
        #expect(HTTPSChannel.isLoopback(try? SocketAddress(ipAddress: "127.0.0.1", port: 1)))
        #expect(HTTPSChannel.isLoopback(try? SocketAddress(ipAddress: "127.8.9.10", port: 1)))
        #expect(HTTPSChannel.isLoopback(try? SocketAddress(ipAddress: "::1", port: 1)))
        #expect(HTTPSChannel.isLoopback(try? SocketAddress(ipAddress: "::ffff:127.0.0.1", port: 1)))
        #expect(!HTTPSChannel.isLoopback(try? SocketAddress(ipAddress: "192.0.2.1", port: 1)))
        #expect(!HTTPSChannel.isLoopback(try? SocketAddress(ipAddress: "::ffff:192.0.2.1", port: 1)))
        #expect(!HTTPSChannel.isLoopback(try? SocketAddress(ipAddress: "fd00::1", port: 1)))
        #expect(!HTTPSChannel.isLoopback(nil))
    }

    @Test func httpsIsRequiredOffLoopback() {
        #expect(!ServeOptions.HTTPS.required(host: "127.0.0.1"))
        #expect(!ServeOptions.HTTPS.required(host: "::1"))
        #expect(!ServeOptions.HTTPS.required(host: "localhost"))
        #expect(ServeOptions.HTTPS.required(host: "0.0.0.0"))
        #expect(ServeOptions.HTTPS.required(host: "::"))
        #expect(ServeOptions.HTTPS.required(host: "192.0.2.1"))
    }

    /// One port: TLS with the trusted certificate, plain HTTP from loopback, and after a reload
    /// new connections get the new certificate.
    @Test func onePortSpeaksTLSAndPlainToLoopbackAndReloads() async throws {
        try await Self.withDirectory { dir in
            let cert = dir + "/cert.pem"
            let key = dir + "/key.pem"
            let first = try SelfSignedCertificate.make(names: ["127.0.0.1"])
            try first.certificate.write(toFile: cert, atomically: true, encoding: .utf8)
            try first.key.write(toFile: key, atomically: true, encoding: .utf8)
            let identity = try TLSIdentity(.files(certificate: cert, key: key))

            let router = Router(context: ServeRequestContext.self)
            router.get("/hello") { _, _ in "hello" }
            try await withHTTPServer(router, identity: identity) { port in
                let secure = try await RawHTTPClient.get("/hello", port: port, trusting: first.certificate)
                #expect(secure.response.hasPrefix("HTTP/1.1 200"), "\(secure.response)")
                #expect(secure.response.hasSuffix("hello"))
                #expect(secure.peer == SelfSignedCertificate.fingerprint(pem: first.certificate))

                let plain = try await RawHTTPClient.get("/hello", port: port, trusting: nil)
                #expect(
                    plain.response.hasPrefix("HTTP/1.1 200"), "plain HTTP from loopback: \(plain.response)")

                // A client that does not trust the certificate gets no page.
                let stranger = try SelfSignedCertificate.make(names: ["127.0.0.1"])
                await #expect(throws: (any Error).self) {
                    _ = try await RawHTTPClient.get("/hello", port: port, trusting: stranger.certificate)
                }

                let second = try SelfSignedCertificate.make(names: ["127.0.0.1"])
                try second.certificate.write(toFile: cert, atomically: true, encoding: .utf8)
                try second.key.write(toFile: key, atomically: true, encoding: .utf8)
                try identity.reload()
                let reloaded = try await RawHTTPClient.get("/hello", port: port, trusting: second.certificate)
                #expect(reloaded.peer == SelfSignedCertificate.fingerprint(pem: second.certificate))
                #expect(reloaded.response.hasSuffix("hello"))

                // A reload that fails keeps the certificate in use.
                try "broken".write(toFile: key, atomically: true, encoding: .utf8)
                #expect(throws: TLSSetupError.self) { try identity.reload() }
                let kept = try await RawHTTPClient.get("/hello", port: port, trusting: second.certificate)
                #expect(kept.peer == SelfSignedCertificate.fingerprint(pem: second.certificate))
            }
        }
    }
}

/// One HTTP/1.1 GET over NIO, with TLS (trusting exactly one certificate, checking the IP
/// address 127.0.0.1 against it) or plain; returns the raw response and the peer's fingerprint.
enum RawHTTPClient {
    static func get(_ path: String, port: Int, trusting pem: String?) async throws -> (
        response: String, peer: String?
    ) {
        let collector = Collector()
        let bootstrap = ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton).channelInitializer {
            channel in
            channel.eventLoop.makeCompletedFuture {
                if let pem {
                    var configuration = TLSConfiguration.makeClientConfiguration()
                    configuration.trustRoots = .certificates(
                        try NIOSSLCertificate.fromPEMBytes(Array(pem.utf8)))
                    let context = try NIOSSLContext(configuration: configuration)
                    try channel.pipeline.syncOperations.addHandler(
                        try NIOSSLClientHandler(context: context, serverHostname: nil))
                }
                try channel.pipeline.syncOperations.addHandler(collector)
            }
        }
        let channel = try await bootstrap.connect(host: "127.0.0.1", port: port).get()
        let request = "GET \(path) HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\nConnection: close\r\n\r\n"
        try await channel.writeAndFlush(ByteBuffer(string: request)).get()
        let response = try await collector.done.futureResult.get()
        let peer = collector.peerDER.flatMap { der -> String? in
            let base64 = Data(der).base64EncodedString(options: [
                .lineLength64Characters, .endLineWithLineFeed,
            ])
            return SelfSignedCertificate.fingerprint(
                pem: "-----BEGIN CERTIFICATE-----\n\(base64)\n-----END CERTIFICATE-----\n")
        }
        try? await channel.close()
        guard !response.isEmpty else { throw ChannelError.eof }
        return (response, peer)
    }

    final class Collector: ChannelInboundHandler, @unchecked Sendable {
        typealias InboundIn = ByteBuffer
        let done = MultiThreadedEventLoopGroup.singleton.next().makePromise(of: String.self)
        var text = ""
        var finished = false
        /// The server's certificate, read with the first response bytes (the handshake is done).
        var peerDER: [UInt8]?

        func finish(_ result: Result<String, any Error>) {
            guard !finished else { return }
            finished = true
            done.completeWith(result)
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            var bytes = unwrapInboundIn(data)
            if peerDER == nil {
                peerDER = try? context.pipeline.syncOperations.handler(type: NIOSSLClientHandler.self)
                    .peerCertificate?.toDERBytes()
            }
            text += bytes.readString(length: bytes.readableBytes) ?? ""
            if let end = text.range(of: "\r\n\r\n"), text[..<end.lowerBound].contains("Content-Length"),
                let length = text[..<end.lowerBound].split(separator: "\r\n").first(where: {
                    $0.lowercased().hasPrefix("content-length:")
                }).flatMap({ Int($0.split(separator: ":")[1].trimmingCharacters(in: .whitespaces)) }),
                text.utf8.count - text[..<end.upperBound].utf8.count >= length
            {
                finish(.success(text))
            }
        }

        func channelInactive(context: ChannelHandlerContext) { finish(.success(text)) }
        func errorCaught(context: ChannelHandlerContext, error: any Error) {
            finish(.failure(error))
            context.close(promise: nil)
        }
    }
}
