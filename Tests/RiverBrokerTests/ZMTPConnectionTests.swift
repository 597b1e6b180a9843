import NIOCore
import Testing

@testable import RiverBroker

/// The proxy's ZMTP 3 codec, fed byte streams written here from RFC 23's grammar.
struct ZMTPConnectionTests {
    /// A peer's greeting: signature, version, mechanism, as-server, filler (RFC 23 §"Formal Grammar").
    static func greeting(major: UInt8 = 3, minor: UInt8 = 1, mechanism: String = "NULL") -> [UInt8] {
        var bytes: [UInt8] = [0xFF, 0, 0, 0, 0, 0, 0, 0, 1, 0x7F, major, minor]
        bytes += Array(mechanism.utf8) + [UInt8](repeating: 0, count: 20 - mechanism.utf8.count)
        return bytes + [UInt8](repeating: 0, count: 32)
    }

    static func command(_ name: String, _ body: [UInt8]) -> [UInt8] {
        let content = [UInt8(name.utf8.count)] + Array(name.utf8) + body
        return [0x04, UInt8(content.count)] + content
    }

    static func property(_ name: String, _ value: String) -> [UInt8] {
        let length = UInt32(value.utf8.count)
        return [UInt8(name.utf8.count)] + Array(name.utf8)
            + [
                UInt8(length >> 24), UInt8(length >> 16 & 0xFF), UInt8(length >> 8 & 0xFF),
                UInt8(length & 0xFF),
            ]
            + Array(value.utf8)
    }

    static func ready(_ socketType: String = "DEALER") -> [UInt8] {
        command("READY", property("Socket-Type", socketType) + property("Identity", ""))
    }

    static func frame(_ body: [UInt8], more: Bool = false) -> [UInt8] {
        let flags: UInt8 = more ? 0x01 : 0
        if body.count <= 255 { return [flags, UInt8(body.count)] + body }
        let size = UInt64(body.count)
        return [flags | 0x02] + (0..<8).map { UInt8(size >> (56 - 8 * UInt64($0)) & 0xFF) } + body
    }

    /// Feeds `stream` in pieces of `chunk` bytes; returns the events and any protocol replies.
    static func feed(
        _ stream: [UInt8], chunk: Int, into connection: inout ZMTPConnection
    ) throws(ZMTPError) -> (events: [ZMTPConnection.Event], replies: [UInt8]) {
        var events: [ZMTPConnection.Event] = []
        var replies = ByteBuffer()
        var offset = 0
        while offset < stream.count {
            let end = min(stream.count, offset + chunk)
            try connection.receive(
                ByteBuffer(bytes: stream[offset..<end]), events: &events, replies: &replies)
            offset = end
        }
        return (events, Array(replies.readableBytesView))
    }

    static func messages(_ events: [ZMTPConnection.Event]) -> [[[UInt8]]] {
        events.compactMap {
            if case .message(let frames) = $0 { frames.map { Array($0.readableBytesView) } } else { nil }
        }
    }

    @Test func openingIsAGreetingThenReadyNamingARouter() throws {
        let opening = Array(
            ZMTPConnection(socketType: "ROUTER").opening(allocator: ByteBufferAllocator()).readableBytesView)
        #expect(opening[0] == 0xFF && opening[9] == 0x7F)
        #expect(opening[10] == 3)
        #expect(Array(opening[12..<16]) == Array("NULL".utf8) && opening[16..<32].allSatisfy { $0 == 0 })
        // Our own READY parses with the same rules we apply to peers'.
        var mirror = ZMTPConnection(socketType: "DEALER")
        let (events, _) = try Self.feed(opening, chunk: opening.count, into: &mirror)
        guard case .ready(let socketType) = try #require(events.first) else {
            Issue.record("no READY in \(events)")
            return
        }
        #expect(socketType == "ROUTER")
    }

    @Test(arguments: [1, 3, 7, 64, 100_000])
    func handshakeAndMessagesParseInAnyChunking(chunk: Int) throws {
        let long = (0..<300).map { UInt8($0 & 0xFF) }
        let stream =
            Self.greeting() + Self.ready() + Self.frame([1, 2, 3], more: true) + Self.frame(long)
            + Self.frame([]) + Self.frame([9])
        var connection = ZMTPConnection(socketType: "ROUTER")
        let (events, replies) = try Self.feed(stream, chunk: chunk, into: &connection)
        guard case .ready("DEALER") = try #require(events.first) else {
            Issue.record("first event \(events[0])")
            return
        }
        #expect(Self.messages(events) == [[[1, 2, 3], long], [[]], [[9]]])
        #expect(replies.isEmpty)
    }

    @Test func aVideoFrameArrivingInSocketSizedPiecesComesOutWhole() throws {
        let pixels = (0..<921_600).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        let stream = Self.greeting() + Self.ready() + Self.frame([7], more: true) + Self.frame(pixels)
        var connection = ZMTPConnection(socketType: "ROUTER")
        let (events, _) = try Self.feed(stream, chunk: 65_536, into: &connection)
        #expect(Self.messages(events) == [[[7], pixels]])
    }

    @Test func pingIsAnsweredWithPongCarryingItsContext() throws {
        let ping = Self.command("PING", [0, 10] + Array("ctx".utf8))
        var connection = ZMTPConnection(socketType: "ROUTER")
        let (events, replies) = try Self.feed(
            Self.greeting() + Self.ready() + ping + Self.frame([5]), chunk: 5, into: &connection)
        #expect(replies == Self.command("PONG", Array("ctx".utf8)))
        #expect(Self.messages(events) == [[[5]]])
    }

    static let refusals: [(String, [UInt8], ZMTPError)] = [
        (
            "HTTP", Array("GET / HTTP/1.1\r\nHost: x\r\n\r\n".utf8) + [UInt8](repeating: 32, count: 64),
            .badSignature
        ),
        ("ZMTP 2.0", greeting(major: 1, minor: 0), .unsupportedVersion(1)),
        ("CURVE", greeting(mechanism: "CURVE"), .unsupportedMechanism("CURVE")),
        ("reserved flag bits", greeting() + ready() + [0x08, 1, 0], .reservedFlags(0x08)),
        ("message before READY", greeting() + frame([1]), .messageBeforeReady),
        ("unknown command before READY", greeting() + command("HELLO", []), .unexpectedCommand("HELLO")),
        ("a PUB peer", greeting() + ready("PUB"), .incompatibleSocketType("PUB")),
        ("peer ERROR", greeting() + command("ERROR", [4] + Array("nope".utf8)), .peerError("nope")),
        (
            "truncated READY property", greeting() + command("READY", [11] + Array("Socket-Type".utf8)),
            .malformedCommand
        ),
        (
            "oversized frame", greeting() + ready() + [0x02, 0, 0, 0, 1, 0, 0, 0, 0],
            .frameTooLarge(1 << 32, limit: 1 << 20)
        ),
        (
            "endless message", greeting() + ready() + (0..<20).flatMap { _ in frame([0], more: true) },
            .tooManyFrames(limit: 16)
        ),
    ]

    @Test(arguments: refusals.indices)
    func brokenPeersAreRefusedWithTheReason(index: Int) {
        let (name, stream, expected) = Self.refusals[index]
        var connection = ZMTPConnection(socketType: "ROUTER", maxFrameBytes: 1 << 20)
        #expect(throws: expected, "\(name)") { _ = try Self.feed(stream, chunk: 1000, into: &connection) }
    }
}
