import Logging
import NIOCore
import RiverCore
import Synchronization

/// Which of the proxy's two listening sockets a connection came in on.
enum ProxySide: Sendable {
    /// Clients (river serve).
    case frontend
    /// Workers (river onnx).
    case backend
}

/// The proxy's state on its one event loop: `ProxyCore`, the connected peers of both sides, and
/// the timer that drives heartbeats and expiry. Messages read in one batch are answered in one
/// batch: every connection written to is flushed once when the batch ends.
///
/// `@unchecked Sendable`: every method runs on ``eventLoop`` (the handlers and the timer call it
/// there; `BrokerProxy` reads only the `Mutex`-guarded snapshot).
final class ProxyEngine: @unchecked Sendable {
    struct Snapshot {
        var counters = ProxyCounters()
        var workers: [WorkerStats] = []
    }

    let eventLoop: EventLoop
    let snapshot = Mutex(Snapshot())
    // Unchecked: one thread touches these, never re-entrantly; the runtime's dynamic checks
    // cost about a tenth of the proxy's own CPU time per message.
    @exclusivity(unchecked) private var core: ProxyCore<ByteBuffer>
    @exclusivity(unchecked) private var clients: [PeerID: Channel] = [:]
    @exclusivity(unchecked) private var workers: [PeerID: Channel] = [:]
    @exclusivity(unchecked) private var unflushed: [ObjectIdentifier: Channel] = [:]
    private var nextPeerNumber: UInt32 = 0
    private var timer: Scheduled<Void>?
    /// When the armed timer fires; nil while none is armed.
    private var timerDeadline: Instant?
    private let logger: Logger
    private let statsEvery: Duration?
    private var nextStats: Instant
    private var nextWorkerSnapshot = Instant.zero
    private var workersStale = false

    init(eventLoop: EventLoop, configuration: ProxyConfiguration, logger: Logger, statsInterval: Duration?) {
        self.eventLoop = eventLoop
        let now = Instant.now
        self.core = ProxyCore(configuration: configuration, now: now)
        self.logger = logger
        self.statsEvery = statsInterval.map { max(.zero, $0) }
        self.nextStats = now + (statsEvery ?? .zero)
    }

    // MARK: Connections

    /// A peer finished its handshake: it gets a routing id the way a libzmq ROUTER makes one
    /// (a zero byte, then a 32-bit counter).
    func attach(_ channel: Channel, on side: ProxySide) -> PeerID {
        nextPeerNumber &+= 1
        let n = nextPeerNumber
        let peer = PeerID([0, UInt8(n >> 24), UInt8(n >> 16 & 0xFF), UInt8(n >> 8 & 0xFF), UInt8(n & 0xFF)])
        switch side {
        case .frontend: clients[peer] = channel
        case .backend: workers[peer] = channel
        }
        return peer
    }

    /// A connection closed. A worker's departure is known at once, without waiting for missed
    /// heartbeats: what it held is dispatched again or answered.
    func detach(_ peer: PeerID, on side: ProxySide) {
        switch side {
        case .frontend:
            clients[peer] = nil
        case .backend:
            workers[peer] = nil
            core.workerMessage(from: peer, .disconnect, body: nil, now: Instant.now)
        }
        endOfBatch()
    }

    func brokenConnection(_ error: ZMTPError, on side: ProxySide) {
        core.countBrokenConnection()
        logger.debug("proxy closed a connection", metadata: ["side": "\(side)", "reason": "\(error)"])
    }

    // MARK: Messages

    /// One whole multipart message from `peer` (the routing id is not among `frames`).
    func receive(_ frames: [ByteBuffer], from peer: PeerID, on side: ProxySide) {
        let now = Instant.now
        let body = frames.count >= 2 ? frames[1] : nil
        let header = frames[0]
        let decoded: Result<WireMessage, ProtocolError> = header.withUnsafeReadableBytes { bytes in
            do throws(ProtocolError) {
                return .success(
                    try WireCodec.decode(
                        header: bytes, frameCount: frames.count, bodyCount: body?.readableBytes ?? 0))
            } catch {
                return .failure(error)
            }
        }
        switch (decoded, side) {
        case (.success(let message), .frontend):
            core.clientMessage(from: peer, message, body: body, now: now)
        case (.success(let message), .backend):
            core.workerMessage(from: peer, message, body: body, now: now)
        case (.failure(let error), .frontend):
            let requestID = header.withUnsafeReadableBytes { WireCodec.requestID(ofUndecodable: $0) }
            core.rejectClient(peer, error, requestID: requestID)
        case (.failure(let error), .backend):
            core.rejectWorker(peer, error)
        }
        sendOutputs()
    }

    /// Called when a read batch ends (and after timers): flushes, publishes counters, rearms the timer.
    func endOfBatch() {
        let now = Instant.now
        // Counters first: a peer that sees an answer must find it counted.
        publish(now: now)
        for channel in unflushed.values { channel.flush() }
        unflushed.removeAll(keepingCapacity: true)
        armTimer(now: now)
    }

    private func sendOutputs() {
        guard !core.outputs.isEmpty else { return }
        var failures = 0
        for output in core.outputs {
            switch output {
            case .toClient(let peer, let message, let body):
                if !send(message, body, to: peer, on: .frontend) { failures += 1 }
            case .toWorker(let peer, let message, let body):
                if !send(message, body, to: peer, on: .backend) { failures += 1 }
            }
        }
        core.outputs.removeAll(keepingCapacity: true)
        if failures > 0 { core.countSendFailures(failures) }
    }

    /// Writes one message as ZMTP frames. Bodies of more than a few KiB go out as their own
    /// buffer (the slice they arrived in), so pixels are never copied on the way through.
    private func send(
        _ message: WireMessage, _ body: ProxyCore<ByteBuffer>.Body, to peer: PeerID, on side: ProxySide
    ) -> Bool {
        // A peer whose socket buffer is full is treated like libzmq's high-water mark: drop, count.
        guard let channel = side == .frontend ? clients[peer] : workers[peer], channel.isWritable else {
            return false
        }
        var payload: ByteBuffer?
        switch body {
        case .none: payload = nil
        case .payload(let bytes): payload = bytes
        case .text(let text): payload = ByteBuffer(string: text)
        }
        let inline = payload.map { $0.readableBytes <= 4096 } ?? true
        var out = channel.allocator.buffer(capacity: 96 + (inline ? payload?.readableBytes ?? 0 : 0))
        ZMTPWire.writeMessageFrame(more: payload != nil, into: &out) { WireCodec.encode(message, into: &$0) }
        if var payload {
            ZMTPWire.writeFrameHeader(size: payload.readableBytes, more: false, into: &out)
            if inline {
                out.writeBuffer(&payload)
                channel.write(out, promise: nil)
            } else {
                channel.write(out, promise: nil)
                channel.write(payload, promise: nil)
            }
        } else {
            channel.write(out, promise: nil)
        }
        unflushed[ObjectIdentifier(channel)] = channel
        return true
    }

    // MARK: Time

    private func armTimer(now: Instant) {
        var wake = core.nextWakeup()
        if workersStale { wake = min(wake, nextWorkerSnapshot) }
        if statsEvery != nil { wake = min(wake, nextStats) }
        if let timerDeadline, timerDeadline <= wake { return }
        timer?.cancel()
        timerDeadline = wake
        let delay = max(.zero, wake - now).nanosecondsClamped
        timer = eventLoop.scheduleTask(in: .nanoseconds(delay)) { [self] in
            timerDeadline = nil
            timer = nil
            let now = Instant.now
            if now >= core.nextWakeup() {
                core.tick(now: now)
                sendOutputs()
            }
            endOfBatch()
        }
    }

    /// Publishes counters for `BrokerProxy`'s readers, logs departures and, now and then, totals.
    private func publish(now: Instant) {
        // Per-worker figures are sorted copies: refresh them at most every 20 ms.
        let refreshWorkers = now >= nextWorkerSnapshot
        if refreshWorkers { nextWorkerSnapshot = now + .milliseconds(20) }
        workersStale = !refreshWorkers
        let workers = refreshWorkers ? core.workerStats : nil
        snapshot.withLock {
            $0.counters = core.counters
            if let workers { $0.workers = workers }
        }
        for (worker, reason) in core.departures {
            logger.warning(
                "proxy worker \(reason)",
                metadata: [
                    "worker": "\(worker.name)", "peer": "\(worker.peer)",
                    "dispatched": "\(worker.dispatched)",
                    "answered": "\(worker.answered)", "failed": "\(worker.failed)",
                    "expired": "\(worker.expired)", "lost": "\(worker.lost)",
                ])
        }
        core.departures.removeAll()
        if let statsEvery, now >= nextStats {
            nextStats = now + statsEvery
            logCounters()
        }
    }

    private func logCounters() {
        let c = core.counters
        logger.info(
            "proxy counters",
            metadata: [
                "queue": "\(c.queueDepth)", "workers": "\(c.workersAlive)", "free_slots": "\(c.freeSlots)",
                "requests": "\(c.requests)", "answered": "\(c.answered)", "expired": "\(c.expired)",
                "overloaded": "\(c.overloaded)", "worker_lost": "\(c.workerLost)",
                "redispatched": "\(c.redispatched)",
                "malformed": "\(c.malformedFromClients)/\(c.malformedFromWorkers)",
                "broken_connections": "\(c.brokenConnections)",
            ])
        for worker in core.workerStats {
            logger.info(
                "proxy worker",
                metadata: [
                    "worker": "\(worker.name)", "peer": "\(worker.peer)", "slots": "\(worker.slots)",
                    "busy": "\(worker.busy)", "dispatched": "\(worker.dispatched)",
                    "answered": "\(worker.answered)", "failed": "\(worker.failed)",
                    "expired": "\(worker.expired)",
                ])
        }
    }
}
