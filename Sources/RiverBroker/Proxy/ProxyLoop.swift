import CZMQ
import Logging
import RiverCore
import Synchronization

/// Which of the proxy's two listening sockets a peer is on.
public enum ProxySide: Sendable {
    /// Clients (river serve).
    case frontend
    /// Workers (river onnx).
    case backend
}

/// The proxy's one I/O thread: two libzmq ROUTERs, their monitors, the ZAP handler when CURVE is
/// on, and `ProxyCore` deciding who gets what. One `zmq_poll` waits for all of them with the
/// timeout at the core's next deadline.
///
/// Messages read in one turn are answered after it, once the counters are published, so a peer
/// that sees an answer finds it counted. `@unchecked Sendable`: every socket and `core` belong to
/// the loop thread; other threads read only the `Mutex`-guarded snapshot.
final class ProxyLoop: @unchecked Sendable {
    struct Snapshot {
        var counters = ProxyCounters()
        var workers: [WorkerStats] = []
    }

    /// One ROUTER and the PAIR its monitor events arrive on.
    struct Listener {
        let side: ProxySide
        let router: ZMQSocket
        let monitor: ZMQSocket

        func close() {
            router.close()
            monitor.close()
        }
    }

    let snapshot = Mutex(Snapshot())
    let thread = LoopThread()
    private let context: ZMQContext
    private let frontend: Listener
    private let backend: Listener
    private let zap: ZMQSocket?
    private let authorizer: ZAPAuthorizer?
    private let logger: Logger
    private let statsEvery: Duration?

    // Unchecked: one thread touches these, never re-entrantly; the runtime's dynamic checks
    // cost a noticeable share of the proxy's own CPU time per message.
    @exclusivity(unchecked) private var core: ProxyCore<ZMQMessage>
    @exclusivity(unchecked) private var frames: [Frame] = []
    /// The TCP connection each worker's messages came from, and back: libzmq says which file
    /// descriptor closed (monitor DISCONNECTED), not which routing id.
    @exclusivity(unchecked) private var workerFD: [PeerID: Int32] = [:]
    @exclusivity(unchecked) private var workerOnFD: [Int32: PeerID] = [:]
    private var refusedClients = 0
    private var refusedWorkers = 0
    private var brokenConnections = 0
    /// Keys already logged as refused: a peer retrying every 100 ms is logged once, not per try.
    private var refusedKeysLogged = Set<CurveKey>()
    private var keylessLogged = (frontend: false, backend: false)
    private var nextStats: Instant
    private var nextWorkerSnapshot = Instant.zero
    private var workersStale = false

    init(
        context: ZMQContext, frontend: Listener, backend: Listener, zap: ZMQSocket?,
        authorizer: ZAPAuthorizer?,
        configuration: ProxyConfiguration, logger: Logger, statsInterval: Duration?
    ) {
        self.context = context
        self.frontend = frontend
        self.backend = backend
        self.zap = zap
        self.authorizer = authorizer
        self.logger = logger
        let now = Instant.now
        self.core = ProxyCore(configuration: configuration, now: now)
        self.statsEvery = statsInterval.map { max(.zero, $0) }
        self.nextStats = now + (statsEvery ?? .zero)
    }

    // MARK: The loop

    func run() {
        var poll = PollSet()
        poll.add(frontend.router)
        poll.add(backend.router)
        poll.add(frontend.monitor)
        poll.add(backend.monitor)
        if let zap { poll.add(zap) }
        poll.add(fd: thread.wakeup.fd)
        publish(now: .now)
        while !thread.isStopping {
            poll.wait(until: nextWakeup())
            thread.wakeup.reset()
            // ZAP first: a handshake waits on it. Messages before monitor events: a worker's last
            // REPLY, queued before its connection closed, is taken while the worker still counts.
            if zap != nil { answerZAP() }
            receive(on: frontend)
            receive(on: backend)
            monitorEvents(of: frontend)
            monitorEvents(of: backend)
            let now = Instant.now
            if now >= core.nextWakeup() { core.tick(now: now) }
            publish(now: now)
            sendOutputs()
        }
        frontend.close()
        backend.close()
        zap?.close()
    }

    private func nextWakeup() -> Instant {
        var wake = core.nextWakeup()
        if workersStale { wake = min(wake, nextWorkerSnapshot) }
        if statsEvery != nil { wake = min(wake, nextStats) }
        return wake
    }

    // MARK: Messages

    /// At most this many messages per socket per turn, so one busy side cannot starve the other
    /// or hold back the answers to what was already read.
    private static let batch = 64

    private func receive(on listener: Listener) {
        for _ in 0..<Self.batch {
            guard listener.router.receive(into: &frames) else { return }
            // A ROUTER always prefixes the routing id; a message of it alone cannot arrive.
            guard frames.count >= 2 else { continue }
            let peer = PeerID(frames[0].bytes)
            if listener.side == .backend {
                remember(peer, fd: zmq_msg_get(frames[0].message.pointer, ZMQ_SRCFD))
            }
            handle(peer: peer, side: listener.side, now: .now)
        }
    }

    private func handle(peer: PeerID, side: ProxySide, now: Instant) {
        let frameCount = frames.count - 1
        let body = frameCount >= 2 ? frames[2].message : nil
        let header = frames[1].message.bytes
        let decoded: Result<WireMessage, ProtocolError>
        do throws(ProtocolError) {
            decoded = .success(
                try WireCodec.decode(header: header, frameCount: frameCount, bodyCount: body?.count ?? 0))
        } catch {
            decoded = .failure(error)
        }
        switch (decoded, side) {
        case (.success(let message), .frontend):
            core.clientMessage(from: peer, message, body: body, now: now)
        case (.success(let message), .backend):
            core.workerMessage(from: peer, message, body: body, now: now)
        case (.failure(let error), .frontend):
            core.rejectClient(peer, error, requestID: WireCodec.requestID(ofUndecodable: header))
        case (.failure(let error), .backend):
            core.rejectWorker(peer, error)
        }
    }

    private func remember(_ peer: PeerID, fd: Int32) {
        guard fd >= 0, workerFD[peer] != fd else { return }
        workerFD[peer] = fd
        workerOnFD[fd] = peer
    }

    /// Sends what the core asked for. A request that cannot go to its worker makes the core drop
    /// that worker and dispatch again, so this repeats until a round sends everything; each repeat
    /// has one worker fewer, so it ends.
    private func sendOutputs() {
        var failures = 0
        while !core.outputs.isEmpty {
            var unreachable: [PeerID] = []
            let outputs = core.outputs
            core.outputs.removeAll(keepingCapacity: true)
            for output in outputs {
                switch output {
                case .toClient(let peer, let message, let body):
                    if !send(message, body, to: peer, on: frontend.router) { failures += 1 }
                case .toWorker(let peer, let message, let body):
                    guard !send(message, body, to: peer, on: backend.router) else { continue }
                    failures += 1
                    if case .request = message, !unreachable.contains(peer) { unreachable.append(peer) }
                }
            }
            for peer in unreachable { core.workerUnreachable(peer, now: .now) }
        }
        if failures > 0 {
            core.countSendFailures(failures)
            publish(now: .now)
        }
    }

    /// Sends one message; the routing id frame fails (ROUTER_MANDATORY) when the peer is gone or
    /// its queue is at the high-water mark, and then nothing of the message is queued.
    private func send(
        _ message: WireMessage, _ body: ProxyCore<ZMQMessage>.Body, to peer: PeerID, on router: ZMQSocket
    )
        -> Bool
    {
        let hasBody: Bool
        if case .none = body { hasBody = false } else { hasBody = true }
        guard router.send(peer.bytes, more: true) else { return false }
        router.send(WireCodec.encode(message), more: hasBody)
        switch body {
        case .none: break
        // Pixels and documents are forwarded by reference, never copied: the core may still
        // hold the same message to dispatch it again if its worker is lost.
        case .payload(let payload): router.send(sharing: payload, more: false)
        case .text(let text): router.send(Array(text.utf8), more: false)
        }
        return true
    }

    // MARK: Connections

    /// Monitor events (libzmq's `zmq_socket_monitor`): a closed worker connection is known gone at
    /// once, without waiting for missed heartbeats, and handshakes that fail are counted.
    private func monitorEvents(of listener: Listener) {
        var event: [Frame] = []
        while listener.monitor.receive(into: &event) {
            guard event.count >= 1, event[0].count >= 6 else { continue }
            let bytes = event[0].message.bytes
            let kind = bytes.loadUnaligned(fromByteOffset: 0, as: UInt16.self)
            let value = bytes.loadUnaligned(fromByteOffset: 2, as: Int32.self)
            switch Int32(kind) {
            case ZMQ_EVENT_DISCONNECTED where listener.side == .backend:
                guard let peer = workerOnFD.removeValue(forKey: value) else { break }
                workerFD[peer] = nil
                core.workerMessage(from: peer, .disconnect, body: nil, now: .now)
            case ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL where zap != nil,
                ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL where zap != nil:
                // A peer without CURVE never reaches the ZAP handler: it is refused all the same.
                // Which event it shows as depends on which side reads the other's greeting first
                // (a mechanism mismatch here, or the peer hanging up mid-handshake), so on a CURVE
                // socket every failed handshake is a refusal.
                refuseKeyless(on: listener.side)
            case ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL, ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL:
                brokenConnections += 1
                logger.debug(
                    "proxy closed a connection that broke ZMTP", metadata: ["side": "\(listener.side)"])
            default:
                break
            }
        }
    }

    /// Counts a peer that came without CURVE; the first on each side is logged.
    private func refuseKeyless(on side: ProxySide) {
        let first: Bool
        switch side {
        case .frontend:
            refusedClients += 1
            first = !keylessLogged.frontend
            keylessLogged.frontend = true
        case .backend:
            refusedWorkers += 1
            first = !keylessLogged.backend
            keylessLogged.backend = true
        }
        guard first else { return }
        logger.warning(
            "proxy refused a peer",
            metadata: [
                "side": "\(side)", "key": "none",
                "reason":
                    "no CURVE handshake (NULL mechanism, or broken off); further ones are counted, not logged",
            ])
    }

    private func answerZAP() {
        guard let zap, let authorizer else { return }
        var request: [Frame] = []
        while zap.receive(into: &request) {
            let (reply, verdict) = authorizer.answer(request.map(\.bytes))
            for (index, frame) in reply.enumerated() { zap.send(frame, more: index < reply.count - 1) }
            guard case .refused(let side, let key, let reason) = verdict else { continue }
            switch side {
            case .frontend: refusedClients += 1
            case .backend: refusedWorkers += 1
            case nil: break
            }
            let address = request.count > 3 ? String(decoding: request[3].bytes, as: UTF8.self) : "?"
            if let key {
                // Bounded: a scanner inventing keys must not grow this without limit.
                guard !refusedKeysLogged.contains(key), refusedKeysLogged.count < 4096 else { continue }
                refusedKeysLogged.insert(key)
            }
            logger.warning(
                "proxy refused a peer",
                metadata: [
                    "side": "\(side.map { "\($0)" } ?? "?")", "key": "\(key?.z85 ?? "none")",
                    "address": "\(address)",
                    "reason": "\(reason)",
                ])
        }
    }

    // MARK: Counters

    /// Publishes counters for `BrokerProxy`'s readers, logs departures and, now and then, totals.
    private func publish(now: Instant) {
        // Per-worker figures are sorted copies: refresh them at most every 20 ms.
        let refreshWorkers = now >= nextWorkerSnapshot
        if refreshWorkers { nextWorkerSnapshot = now + .milliseconds(20) }
        workersStale = !refreshWorkers
        let workers = refreshWorkers ? core.workerStats : nil
        let counters = counters
        snapshot.withLock {
            $0.counters = counters
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

    /// The core's counters with the shell's own: handshakes refused or broken never reach the core.
    private var counters: ProxyCounters {
        var counters = core.counters
        counters.brokenConnections += brokenConnections
        counters.refusedClients = refusedClients
        counters.refusedWorkers = refusedWorkers
        return counters
    }

    /// What the last counters line said: an idle proxy logs nothing new.
    private var lastLogged: [String: String] = [:]

    private func logCounters() {
        let c = counters
        let fields = [
            "queue": "\(c.queueDepth)", "workers": "\(c.workersAlive)", "free_slots": "\(c.freeSlots)",
            "requests": "\(c.requests)", "answered": "\(c.answered)",
            "expired": "\(c.expired) (\(c.expiredInFlight) held by a worker, \(c.lateReplies) answered late)",
            "overloaded": "\(c.overloaded) (\(c.clientQueueFull) over a client's share)",
            "worker_lost": "\(c.workerLost)", "redispatched": "\(c.redispatched)",
            "capped":
                "slots \(c.slotsCapped), budgets \(c.budgetsCapped), workers refused \(c.workersRefused)",
            "unreachable_workers": "\(c.workersUnreachable)", "send_failures": "\(c.sendFailures)",
            "malformed": "\(c.malformedFromClients)/\(c.malformedFromWorkers)",
            "broken_connections": "\(c.brokenConnections)",
            "refused": "\(c.refusedClients)/\(c.refusedWorkers)",
        ]
        guard fields != lastLogged else { return }
        lastLogged = fields
        logger.info("proxy counters", metadata: fields.mapValues { .string($0) })
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
