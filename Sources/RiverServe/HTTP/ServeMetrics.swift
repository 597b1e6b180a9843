import CoreMetrics
import Prometheus
import RiverBroker
import Synchronization

/// The metrics `river serve` exposes at `/metrics` (Prometheus text format).
///
/// Each instance has its own registry and passes its factory to every metric explicitly instead of
/// bootstrapping the global `MetricsSystem`, so several servers (tests) can live in one process.
public final class ServeMetrics: Sendable {
    public let registry: PrometheusCollectorRegistry
    private let factory: PrometheusMetricsFactory

    public let sessions: CoreMetrics.Gauge
    public let framesReceived: CoreMetrics.Counter
    public let framesDecoded: CoreMetrics.Counter
    public let framesInferred: CoreMetrics.Counter
    /// Frames sent for inference, and their pixel bytes (what crosses the wire to a worker: frames
    /// go scaled down to the models' input, docs/protocol.md).
    public let inferenceRequests: CoreMetrics.Counter
    public let inferenceRequestBytes: CoreMetrics.Counter
    /// Access units a session's decode queue dropped because it was full (each is also answered
    /// `decodeError`).
    public let decodeQueueDropped: CoreMetrics.Counter
    /// Recordings (`--record`) stopped before their session ended: a write error or the size bound.
    public let recordingsStopped: CoreMetrics.Counter
    /// Results-feed readers cut off for not reading (``ResultsFeed``).
    public let resultsFeedCutOff: CoreMetrics.Counter
    /// Result messages the webhook dropped because its queue was full (``ResultsWebhook``).
    public let webhookResultsDropped: CoreMetrics.Counter
    /// Inference round trip (request sent → result back), seconds.
    public let inferenceLatency: CoreMetrics.Timer
    public let delaySeconds: CoreMetrics.Gauge
    public let proxyQueueDepth: CoreMetrics.Gauge
    public let workersAlive: CoreMetrics.Gauge
    /// Runs before ``renderFresh()``: figures that are read, not pushed (the proxy's capacity, the
    /// UDP server's drop counters).
    private let refresh = Mutex<(@Sendable () async -> Void)?>(nil)
    /// The drop totals last turned into counter increments, by reason.
    private let droppedSeen = Mutex<[String: Int]>([:])

    public init() {
        let registry = PrometheusCollectorRegistry()
        var factory = PrometheusMetricsFactory(registry: registry)
        factory.durationHistogramBuckets["river_inference_latency_seconds"] = [
            .milliseconds(5), .milliseconds(10), .milliseconds(20), .milliseconds(35), .milliseconds(50),
            .milliseconds(75), .milliseconds(100), .milliseconds(150), .milliseconds(250), .milliseconds(500),
            .seconds(1), .seconds(2.5),
        ]
        self.registry = registry
        self.factory = factory
        sessions = CoreMetrics.Gauge(label: "river_sessions", factory: factory)
        framesReceived = CoreMetrics.Counter(label: "river_frames_received_total", factory: factory)
        framesDecoded = CoreMetrics.Counter(label: "river_frames_decoded_total", factory: factory)
        framesInferred = CoreMetrics.Counter(label: "river_frames_inferred_total", factory: factory)
        inferenceRequests = CoreMetrics.Counter(label: "river_inference_requests_total", factory: factory)
        inferenceRequestBytes = CoreMetrics.Counter(
            label: "river_inference_request_bytes_total", factory: factory)
        decodeQueueDropped = CoreMetrics.Counter(label: "river_decode_queue_dropped_total", factory: factory)
        recordingsStopped = CoreMetrics.Counter(label: "river_recordings_stopped_total", factory: factory)
        resultsFeedCutOff = CoreMetrics.Counter(label: "river_results_feed_cut_off_total", factory: factory)
        webhookResultsDropped = CoreMetrics.Counter(
            label: "river_webhook_results_dropped_total", factory: factory)
        inferenceLatency = CoreMetrics.Timer(label: "river_inference_latency_seconds", factory: factory)
        delaySeconds = CoreMetrics.Gauge(label: "river_delay_seconds", factory: factory)
        proxyQueueDepth = CoreMetrics.Gauge(label: "river_proxy_queue_depth", factory: factory)
        workersAlive = CoreMetrics.Gauge(label: "river_workers_alive", factory: factory)
    }

    /// The proxy's workers and queue as the broker client last heard them (no figure: no proxy
    /// answering, so no workers as far as this server can tell).
    public func record(capacity: BrokerCapacity?) {
        workersAlive.record(capacity?.workers ?? 0)
        proxyQueueDepth.record(capacity?.queued ?? 0)
    }

    /// Counts a frame that got no result, by the reason the page is told (docs/results.md).
    public func frameDropped(reason: String) {
        CoreMetrics.Counter(
            label: "river_frames_dropped_total", dimensions: [("reason", reason)], factory: factory
        ).increment()
    }

    /// Counts a webhook POST by its outcome: `delivered` or `failed` (sent again after a backoff).
    func webhookBatches(outcome: String) {
        CoreMetrics.Counter(
            label: "river_webhook_batches_total", dimensions: [("outcome", outcome)], factory: factory
        ).increment()
    }

    /// Counts a WHIP offer refused before anything was allocated for it, by ``Admission`` reason.
    func sessionRefused(reason: String) {
        CoreMetrics.Counter(
            label: "river_sessions_refused_total", dimensions: [("reason", reason)], factory: factory
        ).increment()
    }

    /// Datagrams dropped so far, by reason (`unknownKind`: not STUN/DTLS/RTP/RTCP by RFC 7983;
    /// `unrouted`: from an address no session authenticated, or STUN for no session; `session`:
    /// refused by its session, e.g. SRTP authentication failed; and what a session's bounds refused:
    /// `oversize`, `unknownSSRC`, `delayLineFull`, `accessUnitTooLarge` (units), `nackDuplicate`, `nackOverCap`
    /// and `retransmitBudget` (retransmissions not sent), `dataChannelRefused` (peer OPENs) and
    /// `sctpSendBudget` (messages), see `SessionEngine.Counters.limitDrops`).
    /// Takes running totals and counts
    /// what is new, so `river_datagrams_dropped_total{reason}` stays a counter.
    public func record(datagramsDropped totals: [String: Int]) {
        let increments = droppedSeen.withLock { seen in
            var increments: [(String, Int)] = []
            for (reason, total) in totals where total > seen[reason, default: 0] {
                increments.append((reason, total - seen[reason, default: 0]))
                seen[reason] = total
            }
            return increments
        }
        for (reason, count) in increments {
            CoreMetrics.Counter(
                label: "river_datagrams_dropped_total", dimensions: [("reason", reason)], factory: factory
            ).increment(by: count)
        }
    }

    /// Sets what ``renderFresh()`` reads just before it renders.
    public func refreshBeforeRender(_ body: @escaping @Sendable () async -> Void) {
        refresh.withLock { $0 = body }
    }

    /// The Prometheus text exposition of every metric.
    public func render() -> String {
        registry.emitToString()
    }

    /// ``render()`` after the figures that are read rather than pushed were read (`/metrics`).
    public func renderFresh() async -> String {
        await refresh.withLock { $0 }?()
        return render()
    }
}
