import Foundation
import Hummingbird
import Logging
import NIOCore
import ServiceLifecycle
import Synchronization
import Testing

@testable import RiverServe

#if canImport(Glibc)
    import Glibc
#endif

/// The results feed: every message in order to each reader, a reader that stops reading cut off at
/// its queue's bound and counted, over the real SSE route too, without disturbing other readers.
@Suite struct ResultsFeedTests {
    static func drain(_ subscription: ResultsFeed.Subscription) async -> [ResultsFeed.Item] {
        var items: [ResultsFeed.Item] = []
        for await item in subscription.items { items.append(item) }
        return items
    }

    @Test func eachReaderGetsEveryMessageInOrderThenTheEnd() async throws {
        let feed = ResultsFeed(maxQueued: 1000)
        #expect(throws: ResultsFeed.Refusal.noSuchSession) { _ = try feed.subscribe(session: "nobody") }
        feed.open(session: "s")
        #expect(feed.subscriberCount(of: "s") == 0)
        let a = try feed.subscribe(session: "s")
        let b = try feed.subscribe(session: "s")
        #expect(feed.subscriberCount(of: "s") == 2)
        for n in 1...500 { feed.publish(session: "s", sequence: n, json: "{\"n\":\(n)}") }
        feed.close(session: "s", reason: "local", results: 500)
        let expected =
            (1...500).map { ResultsFeed.Item.result(sequence: $0, json: "{\"n\":\($0)}") }
            + [.end(reason: "local", results: 500)]
        #expect(await Self.drain(a) == expected)
        #expect(await Self.drain(b) == expected)
        #expect(feed.cutOff == 0)
        #expect(feed.subscriberCount == 0)
        #expect(throws: ResultsFeed.Refusal.noSuchSession) { _ = try feed.subscribe(session: "s") }
    }

    @Test func aReaderThatStopsIsCutOffAtItsBoundAndTheOthersGoOn() async throws {
        let cutOffs = Mutex(0)
        let feed = ResultsFeed(maxQueued: 8, maxSubscribers: 2) { cutOffs.withLock { $0 += 1 } }
        feed.open(session: "s")
        let stalled = try feed.subscribe(session: "s")
        let told = Mutex(false)
        let reading = try feed.subscribe(session: "s") { told.withLock { $0 = true } }
        #expect(throws: ResultsFeed.Refusal.tooManySubscribers(2)) { _ = try feed.subscribe(session: "s") }
        var read: [ResultsFeed.Item] = []
        var iterator = reading.items.makeAsyncIterator()
        for n in 1...20 {
            feed.publish(session: "s", sequence: n, json: "\(n)")
            read.append(try #require(await iterator.next()))
        }
        // The stalled reader held 8 and was cut off at the 9th; it reads what it held, then ends.
        #expect(feed.cutOff == 1 && cutOffs.withLock { $0 } == 1)
        #expect(feed.subscriberCount(of: "s") == 1)
        #expect(await Self.drain(stalled) == (1...8).map { .result(sequence: $0, json: "\($0)") })
        #expect(read == (1...20).map { .result(sequence: $0, json: "\($0)") })
        #expect(!told.withLock { $0 })
        reading.cancel()
        #expect(feed.subscriberCount(of: "s") == 0)
    }

    /// `GET /v1/sessions/{id}/results` on a real server and socket: a reader gets the events; one
    /// that stops reading is disconnected once its queue is full, and counted.
    @Test func theSSERouteStreamsAndCutsOffAReaderThatStopsReading() async throws {
        let feed = ResultsFeed(maxQueued: 64)
        feed.open(session: "live")
        let router = Router(context: ServeRequestContext.self)
        SessionRoutes.add(to: router, feed: feed, list: { [] }, tokenRequired: false)
        try await withHTTPServer(router) { port in
            let missing = try RawSocket(port: port)
            try missing.send(
                "GET /v1/sessions/nobody/results HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            #expect(try missing.readAll().hasPrefix("HTTP/1.1 404"))

            // A reader that reads: three events, then the end.
            let reader = try RawSocket(port: port)
            try reader.send("GET /v1/sessions/live/results HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            try await waitUntil { feed.subscriberCount(of: "live") == 1 }
            for n in 1...3 { feed.publish(session: "live", sequence: n, json: "{\"n\":\(n)}") }
            // It reads all along, on a thread of its own (its reads block).
            let readerText = AsyncStream<String>.makeStream()
            Thread { readerText.continuation.yield((try? reader.readAll()) ?? "") }.start()

            // A reader that never reads, with a small receive buffer: big messages fill the
            // kernel's buffers, then its queue of 64, and it is cut off.
            let stalled = try RawSocket(port: port, receiveBuffer: 4096)
            try stalled.send("GET /v1/sessions/live/results HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            try await waitUntil { feed.subscriberCount(of: "live") == 2 }
            let big = "{\"pad\":\"" + String(repeating: "x", count: 16 * 1024) + "\"}"
            var sequence = 3
            let deadline = ContinuousClock.now + .seconds(30)
            while feed.cutOff == 0 && ContinuousClock.now < deadline {
                sequence += 1
                feed.publish(session: "live", sequence: sequence, json: big)
                try await Task.sleep(for: .milliseconds(1))
            }
            #expect(feed.cutOff == 1, "the stalled reader was not cut off after \(sequence) messages")
            // Its connection is closed: reading it now ends, after what the kernel held.
            let stalledText = try stalled.readAll()
            #expect(stalledText.hasPrefix("HTTP/1.1 200"))
            #expect(!stalledText.contains("id: \(sequence)\n"), "the stalled reader got the last message")

            feed.close(session: "live", reason: "local", results: sequence)
            var texts = readerText.stream.makeAsyncIterator()
            let text = try #require(await texts.next())
            #expect(text.hasPrefix("HTTP/1.1 200"), "\(text.prefix(200))")
            #expect(text.lowercased().contains("content-type: text/event-stream"))
            // Lines of the chunked body ("\r\n" is one Character to Swift, so split the bytes).
            let ids = text.utf8.split(separator: UInt8(ascii: "\n")).map {
                String(decoding: $0, as: UTF8.self)
            }.filter { $0.hasPrefix("id: ") }.map { Int($0.dropFirst(4)) }
            #expect(ids == (1...sequence).map { $0 }, "the reading reader missed events")
            #expect(text.contains("event: end\ndata: {\"reason\":\"local\",\"results\":\(sequence)}\n\n"))
            #expect(feed.cutOff == 1)
        }
    }
}

/// A blocking TCP client on 127.0.0.1, read only when the test says so.
final class RawSocket: @unchecked Sendable {
    let fd: Int32

    init(port: Int, receiveBuffer: Int32? = nil) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw POSIXError(.EMFILE) }
        if var size = receiveBuffer {
            setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, socklen_t(MemoryLayout<Int32>.size))
        }
        var timeout = timeval(tv_sec: 20, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let status = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard status == 0 else {
            close(fd)
            throw POSIXError(.ECONNREFUSED)
        }
    }

    deinit { close(fd) }

    func send(_ text: String) throws {
        let bytes = Array(text.utf8)
        guard Glibc.send(fd, bytes, bytes.count, 0) == bytes.count else { throw POSIXError(.EPIPE) }
    }

    /// Everything until the peer closes (or 20 s pass without a byte).
    func readAll() throws -> String {
        var data: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = recv(fd, &buffer, buffer.count, 0)
            if n <= 0 { break }
            data += buffer[0..<n]
        }
        return String(decoding: data, as: UTF8.self)
    }
}
