import Dispatch
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// K synthetic sessions against one serve, driven by two threads of our own:
///
/// - the **pacer** ticks K × 30 times a second and hands each tick to one session in turn, so
///   every session sends 30 frames/s and the sessions' frames are spread evenly over the frame
///   interval (a burst of 16 keyframes at once would overflow serve's socket buffer, which real
///   browsers, started at different times, never do);
/// - the **receiver** polls every session's socket, drops serve's SRTP/SRTCP at once (the
///   delayed video is serve's cost, not ours to decrypt) and hands STUN and DTLS datagrams,
///   batched per wake-up, to the session's queue.
final class LoadGenerator: @unchecked Sendable {
    // @unchecked: `sessions` is fixed after init; `running` is guarded by `lock`.
    let sessions: [SyntheticSession]
    private let lock = NSLock()
    private var running = true
    private var threadsLeft = 0
    private let done = DispatchSemaphore(value: 0)

    init(count: Int, clip: ClipPackets, delayTicks: UInt32) throws {
        sessions = try (0..<count).map {
            try SyntheticSession(clip: clip, delayTicks: delayTicks, label: "\($0)")
        }
        threadsLeft = 2
        Thread.detachNewThread { [self] in
            receiveLoop()
            done.signal()
        }
        Thread.detachNewThread { [self] in
            paceLoop()
            done.signal()
        }
    }

    private var isRunning: Bool {
        lock.lock()
        defer { lock.unlock() }
        return running
    }

    /// Signals every session (one `POST /whip` each, in turn) and waits until each has its
    /// DTLS keys and an open SCTP association, or fails with the sessions that did not get there.
    func connect(httpPort: Int, timeout: Duration) throws {
        for session in sessions {
            let offer = session.offer.text
            let (location, answerText) = try WHIPClient.post(offer: offer, port: httpPort)
            let answer = try ParsedAnswer(answerText)
            session.queue.sync {
                session.location = location
                session.start(answer: answer)
            }
        }
        let deadline = ContinuousClock.now + timeout
        while true {
            let states = sessions.map { session in session.queue.sync { (session.phase, session.channelOpen) }
            }
            if let failed = states.first(where: { if case .failed = $0.0 { true } else { false } }) {
                throw WHIPClient.Failure(description: "a session failed: \(failed.0)")
            }
            if states.allSatisfy({ $0.0 == .connected && $0.1 }) { return }
            if ContinuousClock.now >= deadline {
                let stuck = states.enumerated().filter { !($0.element.0 == .connected && $0.element.1) }
                throw WHIPClient.Failure(
                    description:
                        "\(stuck.count) of \(sessions.count) sessions not connected after \(timeout): "
                        + stuck.prefix(4).map { "#\($0.offset) \($0.element.0) channel=\($0.element.1)" }
                        .joined(separator: ", "))
            }
            usleep(20_000)
        }
    }

    func markWindowStart() { for session in sessions { session.queue.sync { session.markWindowStart() } } }
    func markWindowEnd() { for session in sessions { session.queue.sync { session.markWindowEnd() } } }

    /// The window's counts summed over sessions.
    func windowCounts() -> SyntheticSession.WindowCounts {
        var total = SyntheticSession.WindowCounts()
        for session in sessions {
            let counts = session.queue.sync { session.windowCounts }
            total.frames += counts.frames
            total.results += counts.results
            total.packets += counts.packets
            for (status, n) in counts.statuses { total.statuses[status, default: 0] += n }
        }
        return total
    }

    /// Ends the sessions, stops both threads and closes the sockets. Idempotent.
    func stop() {
        lock.lock()
        let wasRunning = running
        running = false
        lock.unlock()
        guard wasRunning else { return }
        for session in sessions { session.queue.sync { session.close() } }
        for _ in 0..<threadsLeft { done.wait() }
        for session in sessions { close(session.socket) }
    }

    private func paceLoop() {
        let period = Duration.seconds(1) / (ClipPackets.framesPerSecond * sessions.count)
        let start = ContinuousClock.now
        var tick = 0
        while isRunning {
            let due = start + period * tick
            let now = ContinuousClock.now
            if due > now {
                let wait = due - now
                let (seconds, attoseconds) = wait.components
                var request = timespec(tv_sec: Int(seconds), tv_nsec: Int(attoseconds / 1_000_000_000))
                nanosleep(&request, nil)
            }
            let session = sessions[tick % sessions.count]
            session.queue.async { session.tick(now: .now) }
            tick += 1
        }
    }

    private func receiveLoop() {
        var descriptors = sessions.map { pollfd(fd: $0.socket, events: Int16(POLLIN), revents: 0) }
        var buffer = [UInt8](repeating: 0, count: 2048)
        while isRunning {
            let ready = poll(&descriptors, nfds_t(descriptors.count), 50)
            guard ready > 0 else { continue }
            for index in descriptors.indices where descriptors[index].revents & Int16(POLLIN) != 0 {
                var batch: [[UInt8]] = []
                var bytes = 0
                var video: (ssrc: UInt32, sequence: UInt16)?
                while true {
                    let n = buffer.withUnsafeMutableBytes {
                        recv(descriptors[index].fd, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT))
                    }
                    if n <= 0 { break }
                    bytes += n
                    // RFC 7983: 0–3 STUN, 20–63 DTLS; 128–191 is serve's SRTP/SRTCP, dropped here
                    // (RTP's header, in the clear, says which stream and packet it was).
                    let first = buffer[0]
                    if first < 4 || (first >= 20 && first < 64) { batch.append(Array(buffer[0..<n])) }
                    if first >= 128, first < 192, n >= 12, !(192...223).contains(buffer[1]) {
                        let ssrc = buffer[8..<12].reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
                        video = (ssrc, UInt16(buffer[2]) << 8 | UInt16(buffer[3]))
                    }
                }
                let session = sessions[index]
                let datagrams = batch
                let (received, latest) = (bytes, video)
                session.queue.async {
                    session.bytesReceived += received
                    if let latest {
                        session.serveSSRC = latest.ssrc
                        session.serveSequence = latest.sequence
                    }
                    if !datagrams.isEmpty { session.receive(datagrams) }
                }
            }
        }
    }
}
