import Foundation
import Logging
import NIOCore
import ServiceLifecycle
import Synchronization

/// `--results-webhook URL`: every session's result messages, POSTed in batches to one URL.
///
/// A session hands its messages over on its event loop and never waits (``enqueue(session:sequence:json:)``
/// takes a lock for a queue append). One task sends: it gathers what came within ``batchWindow``
/// (at most ``maxBatch`` messages), POSTs them as
/// `{"results": [{"session": ID, "sequence": N, "result": MESSAGE}, …]}`, and on a failure (no
/// connection, no answer within 10 s, a status other than 2xx) sends the same batch again after a
/// backoff that doubles from 0.5 s up to 30 s. While the receiver is down messages wait in a queue
/// of ``maxQueued`` (besides the batch in flight); past it the oldest are dropped and counted, so a dead webhook costs a bounded
/// amount of memory and nothing on the media path.
public final class ResultsWebhook: Service, Sendable, CustomStringConvertible {
    /// Counts of what the webhook did.
    public struct Counters: Sendable, Equatable {
        public var batchesDelivered = 0
        public var attemptsFailed = 0
        public var resultsDelivered = 0
        /// Messages dropped because the queue was full.
        public var resultsDropped = 0
    }

    private struct Queued {
        var session: String
        var sequence: Int
        var json: String
    }

    private struct State {
        /// Waiting to be sent: `pending[head...]`.
        var pending: [Queued] = []
        var head = 0
        /// The batch being sent (again after a failure), out of `pending`.
        var inFlight: [Queued] = []
        var counters = Counters()

        mutating func compact() {
            guard head > 1024, head * 2 > pending.count else { return }
            pending.removeFirst(head)
            head = 0
        }
    }

    public let endpoint: WebhookEndpoint
    public let maxQueued: Int
    public let maxBatch: Int
    public let batchWindow: Duration
    private let state = Mutex(State())
    private let wake: AsyncStream<Void>.Continuation
    private let wakes: AsyncStream<Void>
    private let metrics: ServeMetrics?
    private let logger: Logger
    public var description: String { "results-webhook" }

    public init(
        endpoint: WebhookEndpoint, maxQueued: Int = 8192, maxBatch: Int = 256,
        batchWindow: Duration = .milliseconds(200),
        metrics: ServeMetrics? = nil, logger: Logger
    ) {
        self.endpoint = endpoint
        self.maxQueued = max(1, maxQueued)
        self.maxBatch = max(1, maxBatch)
        self.batchWindow = batchWindow
        self.metrics = metrics
        self.logger = logger
        (wakes, wake) = AsyncStream<Void>.makeStream(bufferingPolicy: .bufferingNewest(1))
    }

    public var counters: Counters { state.withLock { $0.counters } }

    /// Queues one result message; never blocks beyond a lock for the append.
    public func enqueue(session: String, sequence: Int, json: String) {
        let dropped = state.withLock { state -> Bool in
            state.pending.append(Queued(session: session, sequence: sequence, json: json))
            guard state.pending.count - state.head > maxQueued else { return false }
            state.head += 1
            state.counters.resultsDropped += 1
            state.compact()
            return true
        }
        if dropped { metrics?.webhookResultsDropped.increment() }
        wake.yield()
    }

    /// Sends until the server shuts down; what is still queued then is not sent.
    public func run() async throws {
        try await cancelWhenGracefulShutdown { await self.send() }
    }

    private func send() async {
        var backoff = Duration.milliseconds(500)
        for await _ in wakes {
            try? await Task.sleep(for: batchWindow)
            while let batch = nextBatch() {
                let failure: String?
                do {
                    let status = try await endpoint.post(json: body(of: batch))
                    failure = (200..<300).contains(status) ? nil : "HTTP \(status)"
                } catch {
                    failure = "\(error)"
                }
                if let failure {
                    state.withLock { $0.counters.attemptsFailed += 1 }
                    metrics?.webhookBatches(outcome: "failed")
                    logger.debug("results webhook \(endpoint): \(failure); again in \(backoff)")
                    // Sleeps only while a batch waits; a shutdown cancels the sleep.
                    do { try await Task.sleep(for: backoff) } catch { return }
                    backoff = min(backoff * 2, .seconds(30))
                    continue
                }
                backoff = .milliseconds(500)
                state.withLock { state in
                    state.inFlight = []
                    state.counters.batchesDelivered += 1
                    state.counters.resultsDelivered += batch.count
                }
                metrics?.webhookBatches(outcome: "delivered")
            }
        }
    }

    /// The batch that failed last, or else the oldest waiting messages, at most ``maxBatch``.
    private func nextBatch() -> [Queued]? {
        state.withLock { state in
            if !state.inFlight.isEmpty { return state.inFlight }
            let end = min(state.pending.count, state.head + maxBatch)
            guard end > state.head else { return nil }
            state.inFlight = Array(state.pending[state.head..<end])
            state.head = end
            state.compact()
            return state.inFlight
        }
    }

    private func body(of batch: [Queued]) -> ByteBuffer {
        var buffer = ByteBuffer()
        buffer.writeString("{\"results\":[")
        for (i, item) in batch.enumerated() {
            if i > 0 { buffer.writeString(",") }
            buffer.writeString("{\"session\":\"\(item.session)\",\"sequence\":\(item.sequence),\"result\":")
            buffer.writeString(item.json)
            buffer.writeString("}")
        }
        buffer.writeString("]}\n")
        return buffer
    }
}
