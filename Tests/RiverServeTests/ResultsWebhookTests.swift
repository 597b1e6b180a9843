import Foundation
import Hummingbird
import Logging
import NIOCore
import ServiceLifecycle
import Synchronization
import Testing

@testable import RiverServe

/// `--results-webhook` against a real HTTP receiver on 127.0.0.1: every message delivered once and
/// in order while it is up, the same batch again after it fails, and a bounded, counted queue while
/// it is down.
@Suite struct ResultsWebhookTests {
    /// A receiver that answers `failFirst` POSTs with 503, then 200, and keeps what it accepted.
    final class Receiver: Sendable {
        let bodies = Mutex<[String]>([])
        let attempts = Mutex(0)
        let failFirst: Int

        init(failFirst: Int = 0) { self.failFirst = failFirst }

        var router: Router<ServeRequestContext> {
            let router = Router(context: ServeRequestContext.self)
            router.post("/hook") { request, _ -> Response in
                var request = request
                let body = try await request.collectBody(upTo: 1 << 24)
                let attempt = self.attempts.withLock { attempts in
                    attempts += 1
                    return attempts
                }
                if attempt <= self.failFirst { return Response(status: .serviceUnavailable) }
                self.bodies.withLock { $0.append(String(buffer: body)) }
                return Response(status: .noContent)
            }
            return router
        }

        /// (session, sequence) of every accepted message, in the order received.
        var received: [(String, Int)] {
            bodies.withLock { $0 }.flatMap { body -> [(String, Int)] in
                let object = try? JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any]
                return (object?["results"] as? [[String: Any]] ?? []).map {
                    ($0["session"] as? String ?? "?", $0["sequence"] as? Int ?? -1)
                }
            }
        }
    }

    @Test func everyMessageArrivesOnceInOrderAndAFailedBatchIsSentAgain() async throws {
        let receiver = Receiver(failFirst: 2)
        try await withHTTPServer(receiver.router) { port in
            let url = "http://127.0.0.1:\(port)/hook"
            let webhook = ResultsWebhook(
                endpoint: try WebhookEndpoint(url), maxBatch: 100, batchWindow: .milliseconds(20),
                logger: Logger(label: "test"))
            try await withServices([webhook]) {
                for n in 1...1000 {
                    webhook.enqueue(session: n % 2 == 0 ? "a" : "b", sequence: n, json: "{\"n\":\(n)}")
                    if n % 250 == 0 { try await Task.sleep(for: .milliseconds(50)) }
                }
                try await waitUntil { webhook.counters.resultsDelivered == 1000 }
            }
            let received = receiver.received
            #expect(received.map(\.1) == Array(1...1000), "lost, repeated or reordered")
            #expect(received.allSatisfy { $0.0 == ($0.1 % 2 == 0 ? "a" : "b") })
            let counters = webhook.counters
            #expect(counters.attemptsFailed == 2 && counters.resultsDropped == 0, "\(counters)")
            #expect(counters.batchesDelivered == receiver.bodies.withLock { $0.count })
            #expect(counters.batchesDelivered >= 10, "batches hold at most 100 messages: \(counters)")
            // The body is JSON whose results carry each message as it was given.
            let first = try #require(receiver.bodies.withLock { $0.first })
            #expect(first.hasPrefix("{\"results\":[{\"session\":\"b\",\"sequence\":1,\"result\":{\"n\":1}}"))
        }
    }

    @Test func whileTheReceiverIsDownTheQueueStaysBoundedAndCountsWhatItDrops() async throws {
        // A port nothing listens on: every POST fails to connect.
        let webhook = ResultsWebhook(
            endpoint: try WebhookEndpoint("http://127.0.0.1:1/hook"), maxQueued: 50, maxBatch: 10,
            batchWindow: .milliseconds(10), logger: Logger(label: "test"))
        // A shutdown does not wait out the backoff: `withServices` returns.
        try await withServices([webhook]) {
            webhook.enqueue(session: "s", sequence: 0, json: "{}")
            try await waitUntil { webhook.counters.attemptsFailed >= 1 }
            for n in 1...500 { webhook.enqueue(session: "s", sequence: n, json: "{}") }
            // Message 0 is the batch in flight; of the 500 after it, 50 wait and the oldest are dropped.
            #expect(webhook.counters.resultsDropped == 500 - 50, "\(webhook.counters)")
            #expect(webhook.counters.resultsDelivered == 0)
        }
    }

    @Test func aURLThatIsNotHTTPIsRefusedAtStartUp() {
        #expect(throws: WebhookEndpoint.Invalid.self) { try WebhookEndpoint("ftp://example.com/x") }
        #expect(throws: WebhookEndpoint.Invalid.self) { try WebhookEndpoint("not a url") }
        #expect(throws: WebhookEndpoint.Invalid.self) { try WebhookEndpoint("http:///path-only") }
        #expect((try? WebhookEndpoint("https://hooks.example.com/river?key=1"))?.target == "/river?key=1")
    }
}
