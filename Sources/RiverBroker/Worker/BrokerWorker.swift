import CZMQ
import Logging
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// The worker side of the broker protocol: a DEALER connected to the proxy's backend that
/// registers with READY, heartbeats, runs an async handler per REQUEST (at most `slots` at once)
/// and answers REPLY or ERROR. When the proxy goes silent it drops the socket and reconnects with
/// capped exponential back-off; when the proxy does not know it (after a restart), it registers again.
///
/// One thread owns the socket; handlers run as tasks and hand results back through a locked queue
/// and an eventfd.
public final class BrokerWorker: Sendable {
    private struct Completion {
        var session: Int
        var ticket: UInt64
        var result: Result<WorkResult, any Error>
        var queuedMicros: UInt32
        var computeMicros: UInt32
    }

    private struct Job {
        var request: WorkRequest
        var receivedAt: Nanoseconds
    }

    private struct Shared {
        var completions: [Completion] = []
        var counters = WorkerCounters()
    }

    public let endpoint: String
    public let configuration: WorkerConfiguration
    private let handler: WorkHandler
    private let logger: Logger
    private let shared = Mutex(Shared())
    private let wakeup = Wakeup()
    private let stopping = Atomic<Bool>(false)
    private let thread = Mutex<pthread_t?>(nil)
    private let context = ZMQContext()

    /// Connects to the proxy's backend and starts serving.
    public init(
        connect endpoint: String, configuration: WorkerConfiguration = .init(),
        logger: Logger = Logger(label: "river.worker"), handler: @escaping WorkHandler
    ) {
        self.endpoint = endpoint
        self.configuration = configuration
        self.handler = handler
        self.logger = logger
        let handle = startThread(name: "river-worker") { [self] in self.run() }
        thread.withLock { $0 = handle }
    }

    public var counters: WorkerCounters { shared.withLock { $0.counters } }

    /// Tells the proxy we are leaving, then stops. Idempotent.
    public func stop() {
        guard !stopping.exchange(true, ordering: .acquiringAndReleasing) else { return }
        wakeup.signal()
        if let handle = thread.withLock({ $0 }) { pthread_join(handle, nil) }
    }

    // MARK: I/O thread

    private func makeSocket() -> ZMQSocket? {
        do {
            let socket = try ZMQSocket(context, type: ZMQ_DEALER)
            socket.setOption(ZMQ_RECONNECT_IVL, 100)
            socket.setOption(ZMQ_RECONNECT_IVL_MAX, 1000)
            socket.setOption(ZMQ_SNDHWM, 100_000)
            socket.setOption(ZMQ_RCVHWM, 100_000)
            try socket.connect(endpoint)
            socket.send(
                WireCodec.encode(.ready(slots: UInt16(configuration.slots), name: configuration.name)),
                more: false)
            return socket
        } catch {
            logger.error("worker cannot connect", metadata: ["endpoint": "\(endpoint)", "error": "\(error)"])
            return nil
        }
    }

    private func run() {
        let launchedAt = MonotonicClock.now()
        var liveness = PeerLiveness(
            interval: configuration.heartbeatInterval, liveness: configuration.liveness,
            initialBackoff: configuration.initialBackoff, maxBackoff: configuration.maxBackoff,
            now: launchedAt)
        var socket = makeSocket()
        var session = 0
        var running = 0
        var waiting = FIFO<Job>()
        var frames: [Frame] = []
        var poll = PollSet()
        var lastReady = launchedAt
        let interval = configuration.heartbeatInterval.nanoseconds

        while !stopping.load(ordering: .acquiring) {
            poll.removeAll()
            poll.add(fd: wakeup.fd)
            if let socket { poll.add(socket) }
            poll.wait(until: liveness.nextWakeup)
            if poll.readable(0) { wakeup.reset() }

            // Finished handlers: answer, and start what waited for their slot.
            let done = shared.withLock { shared in
                defer { shared.completions.removeAll(keepingCapacity: true) }
                return shared.completions
            }
            for completion in done {
                running -= 1
                guard completion.session == session, let socket else { continue }
                answer(socket, completion)
            }

            if let current = socket {
                for _ in 0..<256 {
                    guard current.receive(into: &frames) else { break }
                    let now = MonotonicClock.now()
                    let message: WireMessage
                    do {
                        message = try WireCodec.decode(
                            header: frames[0].message.bytes, frameCount: frames.count,
                            bodyCount: frames.count > 1 ? frames[1].count : 0)
                    } catch {
                        count { $0.malformed += 1 }
                        logger.warning("worker dropped a malformed message", metadata: ["error": "\(error)"])
                        continue
                    }
                    liveness.heard(now: now)
                    switch message {
                    case .request(let header):
                        count { $0.received += 1 }
                        let request = WorkRequest(
                            header: header,
                            deadline: .now + .microseconds(Int64(header.budgetMicros)),
                            pixels: ReceivedPixels(frames[1].message))
                        waiting.append(Job(request: request, receivedAt: now))
                    case .disconnect:
                        // The proxy does not know us. Rate-limited: replies queued before a proxy
                        // restart each draw a DISCONNECT, one READY answers them all.
                        if now >= lastReady + interval / 4 {
                            lastReady = now
                            count { $0.reregistrations += 1 }
                            current.send(
                                WireCodec.encode(
                                    .ready(slots: UInt16(configuration.slots), name: configuration.name)),
                                more: false)
                        }
                    case .error(let header):
                        logger.warning(
                            "proxy refused a message",
                            metadata: [
                                "code": "\(header.code)",
                                "text":
                                    "\(frames.count > 1 ? String(decoding: frames[1].message.bytes, as: UTF8.self) : "")",
                            ])
                    case .heartbeat:
                        break
                    case .ready, .reply:
                        count { $0.malformed += 1 }
                    }
                }
            }

            while running < configuration.slots, let job = waiting.popFirst() {
                start(job, session: session)
                running += 1
            }

            let now = MonotonicClock.now()
            switch liveness.tick(now: now) {
            case .none:
                break
            case .sendHeartbeat:
                socket?.send(WireCodec.encode(.heartbeat), more: false)
            case .disconnect(let reconnectAt):
                logger.warning(
                    "proxy silent, reconnecting",
                    metadata: ["endpoint": "\(endpoint)", "in_ms": "\((reconnectAt - now) / 1_000_000)"])
                socket?.close()
                socket = nil
                session += 1
                waiting = FIFO()
            }
            if socket == nil, let at = liveness.reconnectAt, now >= at {
                socket = makeSocket()
                lastReady = now
                count { $0.reconnects += 1 }
                liveness.reconnected(now: now)
            }
        }
        socket?.send(WireCodec.encode(.disconnect), more: false)
        socket?.close()
    }

    private func start(_ job: Job, session: Int) {
        let ticket = job.request.header.requestID
        let startedAt = MonotonicClock.now()
        let queued = UInt32(clamping: (startedAt - job.receivedAt) / 1000)
        if job.request.deadline <= .now {
            shared.withLock {
                $0.completions.append(
                    Completion(
                        session: session, ticket: ticket, result: .failure(DeadlinePassed()),
                        queuedMicros: queued, computeMicros: 0))
            }
            wakeup.signal()
            return
        }
        let request = job.request
        Task { [self] in
            let result: Result<WorkResult, any Error>
            do { result = .success(try await handler(request)) } catch { result = .failure(error) }
            let compute = UInt32(clamping: (MonotonicClock.now() - startedAt) / 1000)
            shared.withLock {
                $0.completions.append(
                    Completion(
                        session: session, ticket: ticket, result: result, queuedMicros: queued,
                        computeMicros: compute))
            }
            wakeup.signal()
        }
    }

    private func answer(_ socket: ZMQSocket, _ completion: Completion) {
        switch completion.result {
        case .success(let work):
            let header = ReplyHeader(
                requestID: completion.ticket, status: work.status,
                timings: ReplyTimings(
                    workerQueueMicros: completion.queuedMicros, computeMicros: completion.computeMicros))
            socket.send(WireCodec.encode(.reply(header)), more: true)
            socket.send(retaining: work.document, more: false)
            count { $0.answered += 1 }
        case .failure(let error):
            let expired = error is DeadlinePassed
            let header = ErrorHeader(requestID: completion.ticket, code: expired ? .expired : .workerFailed)
            socket.send(WireCodec.encode(.error(header)), more: true)
            socket.send(Array("\(error)".utf8), more: false)
            count { expired ? ($0.expired += 1) : ($0.failed += 1) }
        }
    }

    private func count(_ update: (inout WorkerCounters) -> Void) {
        shared.withLock { update(&$0.counters) }
    }
}

private struct DeadlinePassed: Error, CustomStringConvertible {
    var description: String { "deadline passed before the worker could start" }
}
