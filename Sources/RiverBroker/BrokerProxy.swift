import CZMQ
import Logging
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// `river proxy`: a ROUTER facing clients (frontend) and a ROUTER facing workers (backend), with
/// `ProxyCore` deciding who gets what. This type is the thin I/O shell: one thread owns both
/// sockets, decodes frames, feeds the core and sends what it says.
public final class BrokerProxy: Sendable {
    /// The endpoints actually bound (a `*` port resolved to the real one).
    public let frontendEndpoint: String
    public let backendEndpoint: String

    private let state: Mutex<Snapshot>
    private let stopping = Atomic<Bool>(false)
    private let wakeup = Wakeup()
    private let thread: Mutex<pthread_t?>
    private let context: ZMQContext

    struct Snapshot {
        var counters = ProxyCounters()
        var workers: [WorkerStats] = []
    }

    /// Binds both sockets and starts serving.
    public init(
        frontend: String, backend: String, configuration: ProxyConfiguration = .init(),
        logger: Logger = Logger(label: "river.proxy"), statsInterval: Duration? = .seconds(10)
    ) throws(ZMQError) {
        let context = ZMQContext(threadNamePrefix: 7)
        let front = try ZMQSocket(context, type: ZMQ_ROUTER)
        let back = try ZMQSocket(context, type: ZMQ_ROUTER)
        for socket in [front, back] {
            // Report unroutable replies (a client that went away) instead of dropping silently.
            socket.setOption(ZMQ_ROUTER_MANDATORY, 1)
            socket.setOption(ZMQ_SNDHWM, 100_000)
            socket.setOption(ZMQ_RCVHWM, 100_000)
        }
        try front.bind(frontend)
        try back.bind(backend)
        self.context = context
        self.frontendEndpoint = front.lastEndpoint
        self.backendEndpoint = back.lastEndpoint
        self.state = Mutex(Snapshot())
        self.thread = Mutex(nil)
        let sockets = HandOff(value: (front, back))
        let handle = startThread(name: "river-proxy") { [self] in
            self.run(
                frontend: sockets.value.0, backend: sockets.value.1, configuration: configuration,
                logger: logger, statsInterval: statsInterval)
        }
        thread.withLock { $0 = handle }
        logger.info(
            "proxy listening",
            metadata: ["frontend": "\(frontendEndpoint)", "backend": "\(backendEndpoint)"])
    }

    /// Counters as of the last event the proxy handled.
    public var counters: ProxyCounters { state.withLock { $0.counters } }
    /// Registered workers as of the last event.
    public var workers: [WorkerStats] { state.withLock { $0.workers } }

    /// Stops the I/O thread and closes both sockets. Idempotent.
    public func stop() {
        guard !stopping.exchange(true, ordering: .acquiringAndReleasing) else { return }
        wakeup.signal()
        if let handle = thread.withLock({ $0 }) { pthread_join(handle, nil) }
    }

    private func run(
        frontend: ZMQSocket, backend: ZMQSocket, configuration: ProxyConfiguration, logger: Logger,
        statsInterval: Duration?
    ) {
        var core = ProxyCore<ZMQMessage>(configuration: configuration, now: MonotonicClock.now())
        var frames: [Frame] = []
        var poll = PollSet()
        poll.add(frontend)
        poll.add(backend)
        poll.add(fd: wakeup.fd)
        let statsEvery = statsInterval?.nanoseconds
        var nextStats = MonotonicClock.now() + (statsEvery ?? 0)
        var nextWorkerSnapshot: Nanoseconds = 0
        var workersStale = false
        while !stopping.load(ordering: .acquiring) {
            var wake = core.nextWakeup()
            if workersStale { wake = min(wake, nextWorkerSnapshot) }
            if statsEvery != nil { wake = min(wake, nextStats) }
            poll.wait(until: wake)
            if poll.readable(2) { wakeup.reset() }
            // Bounded batches per socket keep one busy side from starving the other.
            for _ in 0..<256 {
                guard frontend.receive(into: &frames) else { break }
                handleFrontend(&core, frames)
                flush(&core, frontend: frontend, backend: backend)
            }
            for _ in 0..<256 {
                guard backend.receive(into: &frames) else { break }
                handleBackend(&core, frames)
                flush(&core, frontend: frontend, backend: backend)
            }
            let now = MonotonicClock.now()
            if now >= core.nextWakeup() {
                core.tick(now: now)
                flush(&core, frontend: frontend, backend: backend)
            }
            // Per-worker figures are sorted copies: refresh them at most every 20 ms.
            let refreshWorkers = now >= nextWorkerSnapshot
            if refreshWorkers { nextWorkerSnapshot = now + 20_000_000 }
            workersStale = !refreshWorkers
            let workers = refreshWorkers ? core.workerStats : nil
            state.withLock {
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
                log(core, logger)
            }
        }
        frontend.close()
        backend.close()
        _ = context
    }

    private func handleFrontend(_ core: inout ProxyCore<ZMQMessage>, _ frames: [Frame]) {
        let now = MonotonicClock.now()
        // ROUTER puts the routing id first; a DEALER client sends no empty delimiter.
        let client = PeerID(frames[0].bytes)
        guard frames.count >= 2 else {
            core.rejectClient(client, .wrongFrameCount(type: nil, expected: 1, got: 0), requestID: 0)
            return
        }
        let header = frames[1].message
        let body = frames.count >= 3 ? frames[2].message : nil
        do {
            let message = try WireCodec.decode(
                header: header.bytes, frameCount: frames.count - 1, bodyCount: body?.count ?? 0)
            core.clientMessage(from: client, message, body: body, now: now)
        } catch {
            core.rejectClient(client, error, requestID: WireCodec.requestID(ofUndecodable: header.bytes))
        }
    }

    private func handleBackend(_ core: inout ProxyCore<ZMQMessage>, _ frames: [Frame]) {
        let now = MonotonicClock.now()
        let worker = PeerID(frames[0].bytes)
        guard frames.count >= 2 else {
            core.rejectWorker(worker, .wrongFrameCount(type: nil, expected: 1, got: 0))
            return
        }
        let header = frames[1].message
        let body = frames.count >= 3 ? frames[2].message : nil
        do {
            let message = try WireCodec.decode(
                header: header.bytes, frameCount: frames.count - 1, bodyCount: body?.count ?? 0)
            core.workerMessage(from: worker, message, body: body, now: now)
        } catch {
            core.rejectWorker(worker, error)
        }
    }

    private func flush(_ core: inout ProxyCore<ZMQMessage>, frontend: ZMQSocket, backend: ZMQSocket) {
        guard !core.outputs.isEmpty else { return }
        var failures = 0
        for output in core.outputs {
            switch output {
            case .toClient(let peer, let message, let body):
                if !send(frontend, to: peer, message, body) { failures += 1 }
            case .toWorker(let peer, let message, let body):
                if !send(backend, to: peer, message, body) { failures += 1 }
            }
        }
        core.outputs.removeAll(keepingCapacity: true)
        if failures > 0 { core.countSendFailures(failures) }
    }

    private func send(
        _ socket: ZMQSocket, to peer: PeerID, _ message: WireMessage, _ body: ProxyCore<ZMQMessage>.Body
    ) -> Bool {
        guard socket.send(peer.bytes, more: true) else { return false }
        let header = WireCodec.encode(message)
        switch body {
        case .none:
            return socket.send(header, more: false)
        case .payload(let payload):
            socket.send(header, more: true)
            return socket.send(sharing: payload, more: false)
        case .text(let text):
            socket.send(header, more: true)
            return socket.send(Array(text.utf8), more: false)
        }
    }

    private func log(_ core: ProxyCore<ZMQMessage>, _ logger: Logger) {
        let c = core.counters
        logger.info(
            "proxy counters",
            metadata: [
                "queue": "\(c.queueDepth)", "workers": "\(c.workersAlive)", "free_slots": "\(c.freeSlots)",
                "requests": "\(c.requests)", "answered": "\(c.answered)", "expired": "\(c.expired)",
                "overloaded": "\(c.overloaded)", "worker_lost": "\(c.workerLost)",
                "redispatched": "\(c.redispatched)",
                "malformed": "\(c.malformedFromClients)/\(c.malformedFromWorkers)",
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
