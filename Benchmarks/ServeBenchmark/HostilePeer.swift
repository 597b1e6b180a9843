import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// `ServeBenchmark --attack KIND --port HTTP`: one hostile session against a running serve, for
/// AttackEndToEndTests (issue 14). It connects like a browser and streams the clip (`--clip`), so
/// serve echoes video back; after a 3 s warm-up it misbehaves for `--seconds` and prints one JSON
/// line of what it saw:
///
/// - `nack-flood`: with every frame, an SRTCP compound asking again for about 8,000 of serve's
///   packets (unbounded, about 4,000 times the bytes of the request). Bytes sent and received over
///   the last 1.5 s of warm-up (a browser's ratio: the echo) and over the flood.
/// - `no-marker`: instead of frames, FU-A fragments of one timestamp that never set the marker bit,
///   100 of 1,100 bytes a frame interval: an access unit that would grow without end.
/// - `spoofed-nomination`: from a second UDP socket, valid USE-CANDIDATE checks with the session's
///   own credentials, every 100 ms, while the first socket keeps streaming: the bytes of RTP each
///   socket receives meanwhile (media must stay with the address that proves itself with SRTP).
/// - `garbage`: beside each frame, 20 SRTP packets serve must refuse: 10 of new SSRCs, protected
///   with the session's keys (past the few unexpected ones a session admits, refused before
///   libsrtp makes a stream for each), 10 of its own SSRC that do not authenticate.
/// - `never-ack` (against `serve --reflect`, whose channels echo): opens 3 channels and sends 16 KiB
///   on each with every frame, but never acknowledges serve's SCTP data, so everything serve echoes
///   stays in its queue.
/// - `tcp-no-read`: moves the session onto ICE-TCP (a check, then its SRTP, over a TCP connection to
///   serve's port), streams 3.3 MB/s there (as no-marker) and never reads that connection, with a
///   2 KiB receive buffer: once the kernel's buffers are full, serve's writes to it must be
///   dropped and counted, not buffered.
/// - `many-channels`: opens 600 data channels at once: how many its side opened and how many serve
///   reset (refused past its cap), while its `river` channel keeps bringing results.
/// - `stream` (e.g. with `--clip fixtures/h264/huge.h264`, an 8192×8192 SPS): the clip as it is,
///   a frame every `--every` frame intervals (default 1); the result statuses received over the
///   window, matched by `--delay`.
enum HostilePeer {
    static let kinds = [
        "nack-flood", "no-marker", "spoofed-nomination", "many-channels", "garbage", "never-ack",
        "tcp-no-read",
        "stream",
    ]
    static let lostPerCompound = 8_000

    static func run(
        kind: String, port: Int, seconds: Int, delayMilliseconds: Int, every: Int, clip: ClipPackets
    ) throws {
        let generator = try LoadGenerator(
            count: 1, clip: clip, delayTicks: UInt32(delayMilliseconds * 90))
        defer { generator.stop() }
        generator.sessions[0].queue.sync { generator.sessions[0].frameEvery = max(1, every) }
        try generator.connect(httpPort: port, timeout: .seconds(10))
        let session = generator.sessions[0]
        func bytes() -> (sent: Int, received: Int) {
            session.queue.sync { (session.bytesSent, session.bytesReceived) }
        }
        Thread.sleep(forTimeInterval: 1.5)
        let calm = bytes()
        Thread.sleep(forTimeInterval: 1.5)
        let start = bytes()
        var result: [String: Any] = [
            "warmupSent": start.sent - calm.sent, "warmupReceived": start.received - calm.received,
            "seconds": seconds,
        ]
        generator.markWindowStart()
        switch kind {
        case "nack-flood":
            session.queue.sync { session.hostile = .nackFlood(lostPerCompound) }
            Thread.sleep(forTimeInterval: Double(seconds))
            result["lostPerCompound"] = lostPerCompound
        case "no-marker":
            session.queue.sync { session.hostile = .noMarker }
            Thread.sleep(forTimeInterval: Double(seconds))
        case "never-ack":
            session.queue.sync {
                let channels = (0..<3).compactMap { _ in session.openEchoChannel() }
                session.hostile = .neverAcknowledge(channels)
            }
            Thread.sleep(forTimeInterval: Double(seconds))
            session.queue.sync {
                result["echoBytesSent"] = session.echoBytesSent
                result["dataChunksWithheld"] = session.dataChunksWithheld
            }
        case "tcp-no-read":
            let fd = try connectTCP(port: session.queue.sync { session.servePort })
            defer { close(fd) }
            // The session's check and SRTP now go over TCP; 3.3 MB/s of fragments (as no-marker) make
            // serve's echo fill the connection's buffers within the test.
            session.queue.sync {
                session.tcpSocket = fd
                session.hostile = .noMarker
            }
            Thread.sleep(forTimeInterval: Double(seconds))
            session.queue.sync {
                session.tcpSocket = nil
                session.hostile = .none
            }
            // What serve managed to put into the connection we never read: most of it sits in serve's
            // send buffer and crosses only as our 2 KiB window reopens, so read until nothing has
            // come for 200 ms rather than until the receive buffer is momentarily empty.
            var waiting = 0
            var buffer = [UInt8](repeating: 0, count: 65_536)
            var readable = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            while poll(&readable, 1, 200) > 0 {
                let n = buffer.withUnsafeMutableBytes {
                    recv(fd, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT))
                }
                if n <= 0 { break }
                waiting += n
            }
            result["tcpBytesWaiting"] = waiting
        case "garbage":
            session.queue.sync { session.hostile = .garbage }
            Thread.sleep(forTimeInterval: Double(seconds))
        case "many-channels":
            result["channelsOpened"] = session.queue.sync { session.openChannels(600) }
            Thread.sleep(forTimeInterval: Double(seconds))
            result["channelsClosedByServe"] = session.queue.sync { session.channelsClosedByServe }
        case "spoofed-nomination":
            let spoof = try spoofNomination(session, seconds: seconds)
            result["spoofRTPBytes"] = spoof.rtp
            result["spoofSTUNResponses"] = spoof.stun
            result["mediaBytesDuringSpoof"] = spoof.media
        default:
            Thread.sleep(forTimeInterval: Double(seconds))
        }
        generator.markWindowEnd()
        let end = bytes()
        // Results of frames sent in the window may still be on their way (the delay).
        Thread.sleep(forTimeInterval: Double(delayMilliseconds) / 1000 + 0.5)
        let counts = generator.windowCounts()
        session.queue.sync {
            result["nackCompounds"] = session.nacksSent
            result["phase"] = "\(session.phase)"
            session.hostile = .none
        }
        result["sent"] = end.sent - start.sent
        result["received"] = end.received - start.received
        result["framesInWindow"] = counts.frames
        result["results"] = counts.results
        result["statuses"] = counts.statuses
        let json = try JSONSerialization.data(withJSONObject: result, options: [.sortedKeys])
        print(String(decoding: json, as: UTF8.self))
    }

    /// A TCP connection to serve's media port with a receive buffer of 2 KiB, so that a peer that
    /// never reads closes its window at once.
    static func connectTCP(port: Int) throws -> Int32 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw WHIPClient.Failure(description: "TCP socket: \(errnoText())") }
        var small: Int32 = 2048
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, socklen_t(MemoryLayout<Int32>.size))
        var remote = LoopbackAddress.make(port: port)
        let connected = withUnsafePointer(to: &remote) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard connected == 0 else {
            close(fd)
            throw WHIPClient.Failure(description: "connect TCP \(port): \(errnoText())")
        }
        return fd
    }

    /// Sends the session's own check from a second socket every 100 ms for `seconds`; returns the
    /// RTP bytes and STUN responses that socket got, and the bytes the real one received meanwhile.
    static func spoofNomination(_ session: SyntheticSession, seconds: Int) throws -> (
        rtp: Int, stun: Int, media: Int
    ) {
        let fd = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
        guard fd >= 0 else { throw WHIPClient.Failure(description: "UDP socket: \(errnoText())") }
        defer { close(fd) }
        let port = session.queue.sync { session.servePort }
        var remote = LoopbackAddress.make(port: port)
        _ = withUnsafePointer(to: &remote) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        let mediaBefore = session.queue.sync { session.bytesReceived }
        var rtp = 0
        var stun = 0
        var buffer = [UInt8](repeating: 0, count: 2048)
        let end = ContinuousClock.now + .seconds(seconds)
        var nextCheck = ContinuousClock.now
        while ContinuousClock.now < end {
            if ContinuousClock.now >= nextCheck {
                let check = session.queue.sync { session.bindingRequest() }
                _ = check.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, 0) }
                nextCheck = ContinuousClock.now + .milliseconds(100)
            }
            var descriptor = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            guard poll(&descriptor, 1, 20) > 0 else { continue }
            while true {
                let n = buffer.withUnsafeMutableBytes {
                    recv(fd, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT))
                }
                if n <= 0 { break }
                if buffer[0] < 4 { stun += 1 } else if buffer[0] >= 128 && buffer[0] < 192 { rtp += n }
            }
        }
        let media = session.queue.sync { session.bytesReceived } - mediaBefore
        return (rtp, stun, media)
    }
}
