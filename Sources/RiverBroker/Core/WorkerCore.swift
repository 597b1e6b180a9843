import RiverCore

/// What `river onnx` decides about its connection to the proxy, as a sans-IO state machine:
/// registration, heartbeats, reconnecting, and which request runs in which slot when.
///
/// zguide chapter 4's Paranoid Pirate worker: announce k slots with READY on every connection,
/// heartbeat the proxy, and when nothing at all has been heard from it for `liveness` intervals,
/// drop the socket and connect a new one after a back-off that doubles up to a cap (the rule
/// lives in `PeerLiveness`). A DISCONNECT from the proxy means it does not know us (it restarted,
/// or expired us): register again, at most once per quarter interval, since every reply queued
/// before a proxy restart draws a DISCONNECT of its own and one READY answers them all.
///
/// Each socket is one *generation*. A request belongs to the generation it arrived on, and its
/// answer is sent only if that generation is still the current one: once the socket is dropped
/// the proxy has given the request to another worker or answered it, and a reply on the new
/// connection would be for a ticket the proxy no longer holds (or, worse, reuses).
///
/// At most `slots` requests run at once, each on one of the shell's slot threads; the rest wait
/// here in arrival order. The proxy sends no more than `slots`, but after a reconnect it may send a
/// full set while handlers from the old connection still occupy their threads.
///
/// Events come in through `connected`, `received`, `malformed`, `finished`, `tick` and `stop`;
/// what to do comes out in `outputs`, which the shell performs in order and empties after each
/// event. `Job` is the shell's request (pixels and all) and `Answer` its finished result; the core
/// never looks inside either.
public struct WorkerCore<Job, Answer> {
    /// One thing for the shell to do.
    public enum Output {
        /// Make a new socket to the proxy; `generation` names it (its monitor, its logs).
        case open(generation: Int)
        /// Close the socket. `reconnectAt` says when the next `.open` will come (nil: stopping).
        case close(reconnectAt: Instant?)
        /// Send a message without a body: READY, HEARTBEAT or DISCONNECT.
        case send(WireMessage)
        /// Hand the job to a free slot thread; report its end with `finished(ticket:…)`.
        case run(Job, ticket: UInt64)
        /// Answer ERROR(expired) for the request: its deadline passed before a slot was free.
        case expire(requestID: UInt64)
        /// Send the finished job's REPLY (or ERROR(workerFailed)) on the current socket.
        case answer(Answer)
    }

    private struct Waiting {
        var job: Job
        var requestID: UInt64
        var deadline: Instant
    }

    public let configuration: WorkerConfiguration
    /// Things to do, in order. The shell performs them and empties the array.
    public var outputs: [Output] = []
    public private(set) var counters = WorkerCounters()
    /// The current socket's generation; bumped each time a socket is closed.
    public private(set) var generation = 0
    /// Whether a socket is open (false between a close and the next open).
    public private(set) var isOpen = false
    public private(set) var liveness: PeerLiveness

    private let reregisterInterval: Duration
    private var lastReadyAt: Instant?
    private var waiting = FIFO<Waiting>()
    /// Jobs on slot threads, by ticket, with the generation they arrived on.
    private var running: [UInt64: Int] = [:]
    private var nextTicket: UInt64 = 1

    /// Starts with an `.open` for the first socket.
    public init(configuration: WorkerConfiguration, now: Instant) {
        self.configuration = configuration
        liveness = PeerLiveness(
            interval: configuration.heartbeatInterval, liveness: configuration.liveness,
            initialBackoff: configuration.initialBackoff, maxBackoff: configuration.maxBackoff, now: now)
        reregisterInterval = liveness.interval / 4
        open()
    }

    /// Requests on slot threads now; never more than `configuration.slots`.
    public var busySlots: Int { running.count }
    /// Requests waiting for a free slot.
    public var waitingCount: Int { waiting.count }

    // MARK: Events

    /// The socket reached a proxy (libzmq's CONNECTED event, also after its own reconnects):
    /// register, so a restarted proxy learns our slots at once rather than after a DISCONNECT.
    public mutating func connected(now: Instant) {
        guard isOpen else { return }
        sendReady(now: now)
    }

    /// A decoded message from the proxy. `job` is the shell's request for a REQUEST, else nil.
    public mutating func received(_ message: WireMessage, job: Job?, now: Instant) {
        liveness.heard(now: now)
        switch message {
        case .request(let header):
            guard let job else {
                counters.malformed += 1
                return
            }
            counters.received += 1
            waiting.append(
                Waiting(
                    job: job, requestID: header.requestID,
                    deadline: now + header.budget))
            admit(now: now)
        case .disconnect:
            guard isOpen else { return }
            if let last = lastReadyAt, now < last + reregisterInterval { return }
            counters.reregistrations += 1
            sendReady(now: now)
        case .heartbeat, .error:
            // Any message proves the proxy alive; the shell logs an ERROR's text.
            break
        case .ready, .reply, .capacity:
            counters.malformed += 1
        }
    }

    /// A message from the proxy that failed to decode: counted, and still a sign of life.
    public mutating func malformed(now: Instant) {
        liveness.heard(now: now)
        counters.malformed += 1
    }

    /// A slot thread finished the job of `ticket`; `failed` when the handler threw. The answer is
    /// sent only if the job's connection is still the current one, else counted as stale. The
    /// freed slot takes the next waiting job.
    public mutating func finished(ticket: UInt64, answer: Answer, failed: Bool, now: Instant) {
        // An unknown ticket (reported twice, or never run) frees nothing.
        guard let arrivedOn = running.removeValue(forKey: ticket) else { return }
        if isOpen, arrivedOn == generation {
            if failed { counters.failed += 1 } else { counters.answered += 1 }
            outputs.append(.answer(answer))
        } else {
            counters.stale += 1
        }
        admit(now: now)
    }

    /// Sends a due heartbeat, drops a silent connection, and opens the next one when its back-off
    /// is over.
    public mutating func tick(now: Instant) {
        switch liveness.tick(now: now) {
        case .none:
            break
        case .sendHeartbeat:
            if isOpen { outputs.append(.send(.heartbeat)) }
        case .disconnect(let reconnectAt):
            close(reconnectAt: reconnectAt)
        }
        if !isOpen, let at = liveness.reconnectAt, now >= at {
            counters.reconnects += 1
            liveness.reconnected(now: now)
            open()
        }
    }

    /// Says goodbye to the proxy (DISCONNECT, so it stops sending at once instead of after missed
    /// heartbeats) and closes the socket.
    public mutating func stop() {
        guard isOpen else { return }
        outputs.append(.send(.disconnect))
        close(reconnectAt: nil)
    }

    /// When `tick` next has something to do.
    public var nextWakeup: Instant { liveness.nextWakeup }

    // MARK: Internals

    private mutating func open() {
        isOpen = true
        lastReadyAt = nil
        outputs.append(.open(generation: generation))
    }

    /// Ends the generation: what waits for a slot is dropped (the proxy will send it elsewhere or
    /// answer it), and what runs will be stale when it ends.
    private mutating func close(reconnectAt: Instant?) {
        isOpen = false
        generation += 1
        counters.discarded += waiting.count
        waiting = FIFO()
        outputs.append(.close(reconnectAt: reconnectAt))
    }

    private mutating func sendReady(now: Instant) {
        lastReadyAt = now
        outputs.append(
            .send(
                .ready(
                    slots: UInt16(configuration.slots), name: configuration.name, input: configuration.input))
        )
    }

    /// Starts waiting jobs while a slot is free; one whose deadline already passed is answered
    /// ERROR(expired) without taking a slot.
    private mutating func admit(now: Instant) {
        while running.count < configuration.slots, let next = waiting.popFirst() {
            if next.deadline <= now {
                counters.expired += 1
                outputs.append(.expire(requestID: next.requestID))
                continue
            }
            let ticket = nextTicket
            nextTicket += 1
            running[ticket] = generation
            outputs.append(.run(next.job, ticket: ticket))
        }
    }
}
