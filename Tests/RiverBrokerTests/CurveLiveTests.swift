import CZMQ
import Foundation
import Logging
import RiverCore
import RiverTestSupport
import Synchronization
import Testing

@testable import RiverBroker

/// The proxy with CURVE (RFC 26) and its ZAP handler (RFC 27), on real libzmq sockets: who may
/// connect where, and what a refused peer gets (nothing).
@Suite(.serialized) struct CurveLiveTests {
    /// Keys of one deployment: the proxy, an allowed client and an allowed worker.
    struct Keys {
        let proxy = try! CurveKeyPair.generate()
        let client = try! CurveKeyPair.generate()
        let worker = try! CurveKeyPair.generate()

        var proxyCurve: ProxyCurve {
            ProxyCurve(keyPair: proxy, clients: [client.publicKey], workers: [worker.publicKey])
        }
        func peer(_ pair: CurveKeyPair) -> PeerCurve { PeerCurve(proxyKey: proxy.publicKey, keyPair: pair) }
    }

    /// Log lines the proxy writes, for checks on what it says about refused peers.
    final class Lines: LogHandler, @unchecked Sendable {
        // @unchecked: `lines` is behind a Mutex; the rest is set once before the proxy starts.
        let lines = Mutex<[String]>([])
        var metadata: Logger.Metadata = [:]
        var logLevel: Logger.Level = .debug
        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }
        func log(
            level: Logger.Level, message: Logger.Message, metadata: Logger.Metadata?, source: String,
            file: String,
            function: String, line: UInt
        ) {
            let text = "\(message) \(metadata.map { "\($0)" } ?? "")"
            lines.withLock { $0.append(text) }
        }
        func count(_ prefix: String) -> Int { lines.withLock { $0.filter { $0.hasPrefix(prefix) }.count } }
    }

    func proxy(_ keys: Keys, lines: Lines? = nil) throws -> BrokerProxy {
        let logger =
            lines.map { handler in Logger(label: "test.proxy") { _ in handler } } ?? Logger(label: "test")
        return try BrokerProxy(
            frontend: "tcp://127.0.0.1:*", backend: "tcp://127.0.0.1:*", curve: keys.proxyCurve,
            logger: logger,
            statsInterval: nil)
    }

    /// A bare DEALER posing as a worker: it announces READY with `keys` (nil: NULL mechanism) and
    /// then collects whatever the proxy sends it.
    final class Stranger {
        let context = ZMQContext()
        let socket: ZMQSocket
        let curve: PeerCurve?

        init(connect endpoint: String, curve: PeerCurve?) throws {
            self.curve = curve
            socket = try ZMQSocket(context, type: ZMQ_DEALER)
            socket.useCurve(curve)
            try socket.connect(endpoint)
            // Queued until a connection completes its handshake, which a refused one never does.
            socket.send(WireCodec.encode(.ready(slots: 8, name: "stranger")), more: false)
        }

        /// Messages received within `window`.
        func received(within window: Duration) async -> Int {
            var frames: [Frame] = []
            var count = 0
            let end = ContinuousClock.now + window
            while ContinuousClock.now < end {
                if socket.receive(into: &frames) {
                    count += 1
                } else {
                    try? await Task.sleep(for: .milliseconds(10))
                }
            }
            return count
        }

        deinit { socket.close() }
    }

    @Test func anAllowedWorkerGetsFramesAndAnswersAnAllowedClient() async throws {
        let keys = Keys()
        let proxy = try proxy(keys)
        defer { proxy.stop() }
        #expect(proxy.isCurve)
        let worker = BrokerWorker(
            connect: proxy.backendEndpoint,
            configuration: WorkerConfiguration(slots: 2, curve: keys.peer(keys.worker))
        ) { request in
            let frame = try request.frame()
            return WorkResult(document: Array("\(frame.width)x\(frame.height) \(frame.data.count)".utf8))
        }
        defer { worker.stop() }
        let client = BrokerClient(
            connect: proxy.frontendEndpoint, configuration: ClientConfiguration(curve: keys.peer(keys.client))
        )
        defer { client.close() }
        #expect(await waitUntil { proxy.counters.workersAlive == 1 })

        let frame = VideoFrame(packedWidth: 640, height: 480, format: .rgb24, rtpTimestamp: 7)
        let reply = try await client.infer(frame: frame, streamID: 3, deadline: Instant.now + .seconds(5))
        #expect(String(decoding: reply.document, as: UTF8.self) == "640x480 921600")
        for rtp in UInt32(1)...20 {
            let (result, _) = await client.attempt(budget: .seconds(5), rtp: rtp)
            #expect(Outcome(result) == .reply("16x16 768"))
        }
        #expect(await waitUntil { proxy.counters.answered == 21 })
        #expect(proxy.counters.refusedClients == 0 && proxy.counters.refusedWorkers == 0)
    }

    @Test func aWorkerWithAnUnknownKeyReceivesNothingAndIsCountedAndLoggedOnce() async throws {
        let keys = Keys()
        let lines = Lines()
        let proxy = try proxy(keys, lines: lines)
        defer { proxy.stop() }
        let client = BrokerClient(
            connect: proxy.frontendEndpoint, configuration: ClientConfiguration(curve: keys.peer(keys.client))
        )
        defer { client.close() }
        let stranger = try Stranger(
            connect: proxy.backendEndpoint, curve: keys.peer(try CurveKeyPair.generate()))
        #expect(await waitUntil { proxy.counters.refusedWorkers >= 1 })
        // A second connection with the same key: counted again, logged once.
        let again = try Stranger(connect: proxy.backendEndpoint, curve: stranger.curve)
        #expect(await waitUntil { proxy.counters.refusedWorkers >= 2 })
        // Nobody registered: the client is told at once, and the stranger never hears a thing.
        let (result, _) = await client.attempt(budget: .seconds(2))
        #expect(Outcome(result) == .rejected(.noWorker))
        #expect(await stranger.received(within: .milliseconds(1500)) == 0)
        #expect(await again.received(within: .milliseconds(100)) == 0)
        #expect(proxy.counters.workersAlive == 0)
        #expect(proxy.counters.dispatched == 0)
        #expect(lines.count("proxy refused a peer") == 1, "\(lines.lines.withLock { $0 })")
    }

    @Test func aWorkerWithoutCURVEReceivesNothingAndIsCounted() async throws {
        let keys = Keys()
        let proxy = try proxy(keys)
        defer { proxy.stop() }
        let stranger = try Stranger(connect: proxy.backendEndpoint, curve: nil)
        #expect(await stranger.received(within: .milliseconds(1500)) == 0)
        #expect(proxy.counters.workersAlive == 0)
        // The refusal is seen through the socket monitor, which may come a moment later.
        #expect(await waitUntil { proxy.counters.refusedWorkers >= 1 })
    }

    @Test func aClientKeyUsedOnTheBackendIsRefused() async throws {
        let keys = Keys()
        let lines = Lines()
        let proxy = try proxy(keys, lines: lines)
        defer { proxy.stop() }
        // The client's own, allowed, pair; but a client may not be a worker.
        let stranger = try Stranger(connect: proxy.backendEndpoint, curve: keys.peer(keys.client))
        #expect(await waitUntil { proxy.counters.refusedWorkers >= 1 })
        #expect(await stranger.received(within: .milliseconds(1500)) == 0)
        #expect(proxy.counters.workersAlive == 0)
        #expect(lines.lines.withLock { $0.contains { $0.contains("a client key on the backend") } })
    }

    @Test func aClientWithAnUnknownKeyGetsNoAnswerAndIsCounted() async throws {
        let keys = Keys()
        let proxy = try proxy(keys)
        defer { proxy.stop() }
        let worker = BrokerWorker(
            connect: proxy.backendEndpoint, configuration: WorkerConfiguration(curve: keys.peer(keys.worker)),
            handler: sleepyHandler("w", delay: .zero))
        defer { worker.stop() }
        #expect(await waitUntil { proxy.counters.workersAlive == 1 })
        // The worker's key is allowed on the backend only.
        for pair in [try CurveKeyPair.generate(), keys.worker] {
            let client = BrokerClient(
                connect: proxy.frontendEndpoint,
                configuration: ClientConfiguration(timeoutGrace: .milliseconds(100), curve: keys.peer(pair)))
            defer { client.close() }
            let (result, _) = await client.attempt(budget: .milliseconds(500))
            #expect((try? result.get()) == nil, "a refused client was answered")
        }
        #expect(proxy.counters.refusedClients >= 2)
        #expect(proxy.counters.requests == 0)
        #expect(worker.counters.received == 0)
    }

    @Test func withoutCURVEOnlyLoopbackIsBoundUnlessInsecureIsSaid() throws {
        for endpoint in ["tcp://*:*", "tcp://0.0.0.0:*"] {
            #expect(throws: BrokerProxyError.self) {
                try BrokerProxy(frontend: "tcp://127.0.0.1:*", backend: endpoint, statsInterval: nil).stop()
            }
            do {
                _ = try BrokerProxy(frontend: endpoint, backend: "tcp://127.0.0.1:*", statsInterval: nil)
            } catch {
                #expect("\(error)".contains("refusing to bind \(endpoint) without CURVE"), "\(error)")
            }
        }
        let open = try BrokerProxy(
            frontend: "tcp://127.0.0.1:*", backend: "tcp://*:*", insecure: true, statsInterval: nil)
        open.stop()
        let keys = Keys()
        let curve = try BrokerProxy(
            frontend: "tcp://*:*", backend: "tcp://*:*", curve: keys.proxyCurve, statsInterval: nil)
        curve.stop()
        let null = try BrokerProxy(
            frontend: "tcp://127.0.0.1:*", backend: "tcp://[::1]:*", statsInterval: nil)
        #expect(!null.isCurve)
        null.stop()
    }
}

/// River's key files: what `river keys` writes and every CURVE option reads.
@Suite struct CurveKeyFileTests {
    func scratch() throws -> String {
        let path = NSTemporaryDirectory() + "river-keys-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    @Test func aPairRoundTripsAndTheSecretIsTheOwnersOnly() throws {
        let directory = try scratch()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let pair = try CurveKeyPair.generate()
        let paths = try CurveKeyFile.write(pair, base: directory + "/sub/proxy")
        #expect(try CurveKeyFile.readPair(paths.secret) == pair)
        #expect(try CurveKeyFile.readPublic(paths.public) == pair.publicKey)
        let text = try String(contentsOfFile: paths.public, encoding: .utf8)
        #expect(!text.contains(pair.secretKey.z85), "the public file holds the secret key")
        let mode = try FileManager.default.attributesOfItem(atPath: paths.secret)[.posixPermissions] as? Int
        #expect(mode == 0o600)
        #expect(throws: CurveKeyError.self) { try CurveKeyFile.write(pair, base: directory + "/sub/proxy") }
        #expect(throws: CurveKeyError.self) { try CurveKeyFile.readPair(paths.public) }
    }

    @Test func aDirectoryGivesEveryPublicKeyInIt() throws {
        let directory = try scratch()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let pairs = try (0..<3).map { _ in try CurveKeyPair.generate() }
        for (index, pair) in pairs.enumerated() {
            try CurveKeyFile.write(pair, base: "\(directory)/w\(index)")
        }
        #expect(try CurveKeyFile.readPublicKeys(directory) == Set(pairs.map(\.publicKey)))
        let empty = try scratch()
        defer { try? FileManager.default.removeItem(atPath: empty) }
        #expect(throws: CurveKeyError.self) { try CurveKeyFile.readPublicKeys(empty) }
    }

    @Test func aBadKeyNamesTheFileAndTheField() throws {
        let directory = try scratch()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = directory + "/bad.pub"
        try "curve\n    public-key = \"tooShort\"\n".write(toFile: path, atomically: true, encoding: .utf8)
        do {
            _ = try CurveKeyFile.readPublic(path)
            Issue.record("a bad key was read")
        } catch {
            #expect("\(error)".contains(path) && "\(error)".contains("public-key"), "\(error)")
        }
        #expect(CurveKey(z85: "rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7") != nil)
        #expect(CurveKey(z85: String(repeating: "~", count: 41)) == nil)
    }
}

/// The ZAP policy alone (RFC 27 frames in, reply frames and verdict out).
@Suite struct ZAPAuthorizerTests {
    static let client = try! CurveKeyPair.generate().publicKey
    static let worker = try! CurveKeyPair.generate().publicKey
    let authorizer = ZAPAuthorizer(clients: [client], workers: [worker])

    func request(_ domain: String, _ key: CurveKey?, mechanism: String = "CURVE", version: String = "1.0")
        -> [[UInt8]]
    {
        [
            Array(version.utf8), [7, 7], Array(domain.utf8), Array("127.0.0.1".utf8), [],
            Array(mechanism.utf8),
        ] + (key.map { [$0.bytes] } ?? [])
    }

    @Test func eachKeyIsAllowedOnItsOwnSideOnly() {
        let cases: [(String, CurveKey, Bool)] = [
            (ZAPAuthorizer.frontendDomain, Self.client, true),
            (ZAPAuthorizer.backendDomain, Self.worker, true),
            (ZAPAuthorizer.backendDomain, Self.client, false),
            (ZAPAuthorizer.frontendDomain, Self.worker, false),
        ]
        for (domain, key, allowed) in cases {
            let (reply, verdict) = authorizer.answer(request(domain, key))
            // The reply echoes version and request id; the status code is the third frame.
            #expect(reply.count == 6 && reply[0] == Array("1.0".utf8) && reply[1] == [7, 7])
            #expect(reply[2] == Array((allowed ? "200" : "400").utf8), "\(domain) \(key)")
            if allowed {
                #expect(reply[4] == Array(key.z85.utf8), "the user id is the key")
            } else if case .refused(_, let refusedKey, let reason) = verdict {
                #expect(refusedKey == key)
                #expect(reason.contains("key on the"), "\(reason)")
            } else {
                Issue.record("\(domain) \(key) was not refused")
            }
        }
    }

    @Test func unknownKeysDomainsMechanismsAndVersionsAreRefused() {
        let stranger = try! CurveKeyPair.generate().publicKey
        let requests = [
            request(ZAPAuthorizer.backendDomain, stranger), request("other", Self.worker),
            request(ZAPAuthorizer.backendDomain, nil, mechanism: "PLAIN"),
            request(ZAPAuthorizer.backendDomain, Self.worker, version: "2.0"), [[0x31]],
        ]
        for frames in requests {
            let (reply, verdict) = authorizer.answer(frames)
            #expect(reply[2] == Array("400".utf8))
            if case .allowed = verdict { Issue.record("\(frames) was allowed") }
        }
    }
}
