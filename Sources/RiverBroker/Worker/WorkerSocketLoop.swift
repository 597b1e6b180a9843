import CZMQ
import Logging
import RiverCore

/// The socket thread of a `BrokerWorker`: feeds what arrives (proxy messages, libzmq connection
/// events, slot completions) and the time into a `WorkerCore`, and performs what the core returns.
/// It decides nothing itself. Confined to its one thread from `run` to the end.
final class WorkerSocketLoop {
    /// A received request, as the core holds it until a slot is free.
    struct Arrival {
        var request: WorkRequest
        var receivedAt: Instant
    }

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

    private let endpoint: String
    private let logger: Logger
    private let context: ZMQContext
    private let mailbox: WorkerMailbox
    private let pool: SlotPool
    private let loop: LoopThread
    private var core: WorkerCore<Arrival, SlotPool.Completion>
    private var connection: Connection?
    private var frames: [Frame] = []
    private let curve: PeerCurve?

    init(
        endpoint: String, configuration: WorkerConfiguration, logger: Logger, context: ZMQContext,
        mailbox: WorkerMailbox, pool: SlotPool, loop: LoopThread
    ) {
        self.endpoint = endpoint
        self.logger = logger
        self.context = context
        self.mailbox = mailbox
        self.pool = pool
        self.loop = loop
        self.curve = configuration.curve
        core = WorkerCore(configuration: configuration, now: Instant.now)
    }

    func run() {
        perform()
        var poll = PollSet()
        while !loop.isStopping {
            poll.removeAll()
            poll.add(fd: loop.wakeup.fd)
            let polled = connection
            if let polled {
                poll.add(polled.socket)
                poll.add(polled.monitor)
            }
            poll.wait(until: core.nextWakeup)
            if poll.readable(0) { loop.wakeup.reset() }
            if let polled, poll.readable(2) { readEvents(polled.monitor) }
            for completion in mailbox.takeCompletions() {
                let failed: Bool
                if case .failure = completion.result { failed = true } else { failed = false }
                core.finished(
                    ticket: completion.ticket, answer: completion, failed: failed, now: Instant.now)
                perform()
            }
            if let polled { readMessages(polled.socket) }
            core.tick(now: Instant.now)
            perform()
            mailbox.publish(core.counters)
        }
        core.stop()
        perform()
        mailbox.publish(core.counters)
    }

    // MARK: Input

    /// libzmq's monitor events: a frame of u16 event id and u32 value, in host order.
    private func readEvents(_ monitor: ZMQSocket) {
        while monitor.receive(into: &frames) {
            let bytes = frames[0].message.bytes
            let event = bytes.count >= 2 ? bytes.loadUnaligned(as: UInt16.self) : 0
            if Int32(event) == ZMQ_EVENT_CONNECTED {
                core.connected(now: Instant.now)
                perform()
            }
        }
    }

    /// At most 256 messages per turn, so completions and timers are never starved by a burst.
    private func readMessages(_ socket: ZMQSocket) {
        for _ in 0..<256 {
            guard socket.receive(into: &frames) else { return }
            let now = Instant.now
            let message: WireMessage
            do {
                message = try WireCodec.decode(
                    header: frames[0].message.bytes, frameCount: frames.count,
                    bodyCount: frames.count > 1 ? frames[1].count : 0)
            } catch {
                logger.warning("worker dropped a malformed message", metadata: ["error": "\(error)"])
                core.malformed(now: now)
                continue
            }
            var arrival: Arrival?
            switch message {
            case .request(let header):
                arrival = Arrival(
                    request: WorkRequest(
                        header: header,
                        deadline: now + header.budget,
                        pixels: ReceivedPixels(frames[1].message)),
                    receivedAt: now)
            case .error(let header):
                let text = frames.count > 1 ? String(decoding: frames[1].message.bytes, as: UTF8.self) : ""
                logger.warning(
                    "proxy refused a message", metadata: ["code": "\(header.code)", "text": "\(text)"])
            default:
                break
            }
            core.received(message, job: arrival, now: now)
            perform()
        }
    }

    // MARK: Output

    /// Does what the core asked, in order.
    private func perform() {
        var outputs: [WorkerCore<Arrival, SlotPool.Completion>.Output] = []
        swap(&outputs, &core.outputs)
        defer {
            outputs.removeAll(keepingCapacity: true)
            swap(&outputs, &core.outputs)
        }
        for output in outputs {
            switch output {
            case .open(let generation):
                connection = connect(generation: generation)
            case .close(let reconnectAt):
                if let reconnectAt {
                    let inMs = max(.zero, reconnectAt - .now).nanosecondsClamped / 1_000_000
                    logger.warning(
                        "proxy silent, reconnecting",
                        metadata: ["endpoint": "\(endpoint)", "in_ms": "\(inMs)"])
                }
                connection?.close()
                connection = nil
            case .send(let message):
                connection?.socket.send(WireCodec.encode(message), more: false)
            case .run(let arrival, let ticket):
                pool.submit(
                    SlotPool.Job(request: arrival.request, ticket: ticket, receivedAt: arrival.receivedAt))
            case .expire(let requestID):
                sendError(
                    requestID: requestID, code: .expired,
                    text: "deadline passed before the worker could start")
            case .answer(let completion):
                answer(completion)
            }
        }
    }

    private func answer(_ completion: SlotPool.Completion) {
        switch completion.result {
        case .success(let work):
            guard let socket = connection?.socket else { return }
            let header = ReplyHeader(
                requestID: completion.requestID, status: work.status,
                timings: ReplyTimings(
                    workerQueueMicros: completion.queuedMicros, computeMicros: completion.computeMicros))
            socket.send(WireCodec.encode(.reply(header)), more: true)
            socket.send(retaining: work.document, more: false)
        case .failure(let error):
            sendError(requestID: completion.requestID, code: .workerFailed, text: "\(error)")
        }
    }

    private func sendError(requestID: UInt64, code: ErrorCode, text: String) {
        guard let socket = connection?.socket else { return }
        socket.send(WireCodec.encode(.error(ErrorHeader(requestID: requestID, code: code))), more: true)
        socket.send(Array(text.utf8), more: false)
    }

    private func connect(generation: Int) -> Connection? {
        do {
            let socket = try ZMQSocket(context, type: ZMQ_DEALER)
            socket.setOption(ZMQ_RECONNECT_IVL, 100)
            socket.setOption(ZMQ_RECONNECT_IVL_MAX, 1000)
            socket.setOption(ZMQ_SNDHWM, 100_000)
            socket.setOption(ZMQ_RCVHWM, 100_000)
            socket.useCurve(curve)
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
            // The core still counts the socket open: with nothing heard, liveness drops it and
            // tries again after the back-off.
            logger.error("worker cannot connect", metadata: ["endpoint": "\(endpoint)", "error": "\(error)"])
            return nil
        }
    }
}
