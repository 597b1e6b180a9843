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
    private let loop = LoopThread()
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
        loop.start(name: "river-worker") { [self] in self.run() }
    }

    public var counters: WorkerCounters { shared.withLock { $0.counters } }

    /// Tells the proxy we are leaving, then stops. Idempotent.
    public func stop() {
        loop.stop()
    }

    // MARK: I/O thread

    /// The DEALER to the proxy, and a PAIR receiving its connection events.
    ///
    /// READY is sent on every (re)connection the monitor reports, not once: when the proxy
    /// restarts, ZeroMQ reconnects by itself and the new proxy learns our slots at once, instead of
    /// after a heartbeat draws its DISCONNECT.
    private struct Connection {
        let socket: ZMQSocket
        let monitor: ZMQSocket

        func close() {
            monitor.close()
            socket.close()
        }
    }

    private func connect(generation: Int) -> Connection? {
        do {
            let socket = try ZMQSocket(context, type: ZMQ_DEALER)
            socket.setOption(ZMQ_RECONNECT_IVL, 100)
            socket.setOption(ZMQ_RECONNECT_IVL_MAX, 1000)
            socket.setOption(ZMQ_SNDHWM, 100_000)
            socket.setOption(ZMQ_RCVHWM, 100_000)
            let address =
                "inproc://river-worker-\(UInt(bitPattern: ObjectIdentifier(self).hashValue))-\(generation)"
            guard zmq_socket_monitor(socket.handle, address, ZMQ_EVENT_CONNECTED) == 0 else {
                throw ZMQError("zmq_socket_monitor")
            }
            let monitor = try ZMQSocket(context, type: ZMQ_PAIR)
            try monitor.connect(address)
            try socket.connect(endpoint)
            return Connection(socket: socket, monitor: monitor)
        } catch {
            logger.error("worker cannot connect", metadata: ["endpoint": "\(endpoint)", "error": "\(error)"])
            return nil
        }
    }

    private func sendReady(_ socket: ZMQSocket) {
        socket.send(
            WireCodec.encode(.ready(slots: UInt16(configuration.slots), name: configuration.name)),
            more: false)
    }

    private func run() {
        let launchedAt = MonotonicClock.now()
        var liveness = PeerLiveness(
            interval: configuration.heartbeatInterval, liveness: configuration.liveness,
            initialBackoff: configuration.initialBackoff, maxBackoff: configuration.maxBackoff,
            now: launchedAt)
        var session = 0
        var connection = connect(generation: session)
        var socket = connection?.socket
        var running = 0
        var waiting = FIFO<Job>()
        var frames: [Frame] = []
        var poll = PollSet()
        var lastReady = launchedAt
        let interval = configuration.heartbeatInterval.nanoseconds

        while !loop.isStopping {
            poll.removeAll()
            poll.add(fd: loop.wakeup.fd)
            if let connection {
                poll.add(connection.socket)
                poll.add(connection.monitor)
            }
            poll.wait(until: liveness.nextWakeup)
            if poll.readable(0) { loop.wakeup.reset() }
            if let connection, poll.readable(2) {
                while connection.monitor.receive(into: &frames) {
                    // Event frame: u16 event id, u32 value, in host order.
                    let bytes = frames[0].message.bytes
                    let event = bytes.count >= 2 ? bytes.loadUnaligned(as: UInt16.self) : 0
                    if Int32(event) == ZMQ_EVENT_CONNECTED {
                        lastReady = MonotonicClock.now()
                        sendReady(connection.socket)
                    }
                }
            }

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
                            sendReady(current)
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
                    case .ready, .reply, .capacity:
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
                connection?.close()
                connection = nil
                socket = nil
                session += 1
                waiting = FIFO()
            }
            if socket == nil, let at = liveness.reconnectAt, now >= at {
                connection = connect(generation: session)
                socket = connection?.socket
                count { $0.reconnects += 1 }
                liveness.reconnected(now: now)
            }
        }
        socket?.send(WireCodec.encode(.disconnect), more: false)
        connection?.close()
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
            loop.wakeup.signal()
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
            loop.wakeup.signal()
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
            count { counters in
                if expired { counters.expired += 1 } else { counters.failed += 1 }
            }
        }
    }

    private func count(_ update: (inout WorkerCounters) -> Void) {
        shared.withLock { update(&$0.counters) }
    }
}

private struct DeadlinePassed: Error, CustomStringConvertible {
    var description: String { "deadline passed before the worker could start" }
}
