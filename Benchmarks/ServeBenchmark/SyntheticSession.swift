import Dispatch
import Foundation
import RiverDTLS
import RiverICE
import RiverRTP
import RiverSCTP
import RiverSRTP

#if canImport(Glibc)
    import Glibc
#endif

/// One synthetic browser: its own UDP socket, an ICE controlling agent's checks, a DTLS client,
/// SRTP for the video it sends and an SCTP client association with the `river` channel on
/// which serve sends one result per frame.
///
/// Everything mutable is touched only on `queue` (the owner of the DTLS, SRTP and SCTP state, as
/// a session's event loop is in serve); the pacer and the receive thread hand work to it with
/// `queue.async`, the benchmark reads it with `queue.sync`. That is why the class is
/// `@unchecked Sendable`.
final class SyntheticSession: @unchecked Sendable {
    enum Phase: Equatable {
        case waitingForAnswer, checking, handshaking, connected, closed
        case failed(String)
    }

    /// Frames sent and results received inside the measurement window.
    struct WindowCounts {
        var frames = 0
        var results = 0
        var statuses: [String: Int] = [:]
        var packets = 0
    }

    let queue: DispatchQueue
    let socket: Int32
    let ufrag = SyntheticSession.randomToken(8)
    let password = SyntheticSession.randomToken(24)
    let ssrc = UInt32.random(in: 1...UInt32.max)
    var location: String?

    private let clip: ClipPackets
    /// Output RTP timestamp minus input timestamp, from serve's fixed delay (docs/results.md).
    private let delayTicks: UInt32
    private var answer: ParsedAnswer?
    private(set) var phase = Phase.waitingForAnswer
    private(set) var channelOpen = false
    private var dtls: DTLSEndpoint?
    private var srtp: SRTPSession?
    private var sctp: SCTPAssociation?
    private var pendingCheck: [UInt8]?
    private var lastCheck: ContinuousClock.Instant?
    private let tieBreaker = UInt64.random(in: 0...UInt64.max)

    // The sender: frame `nextFrame` of the endless loop goes out on the next tick.
    private var nextFrame = 0
    /// Send a frame only every this many ticks (a slower camera; the hostile peer's `--every`).
    var frameEvery = 1
    private var ticks = 0
    private var sequence = UInt16.random(in: 0...UInt16.max)
    private let timestampBase = UInt32.random(in: 0...UInt32.max)

    /// Bytes this session sent and received (all of its datagrams), for the attack's accounting.
    private(set) var bytesSent = 0
    var bytesReceived = 0
    /// Serve's outgoing video SSRC and highest sequence number seen (the receive thread reads them
    /// off the RTP headers, which SRTP leaves in the clear), for the NACK flood.
    var serveSSRC: UInt32?
    var serveSequence: UInt16 = 0
    /// How this session misbehaves, if it does (`HostilePeer`).
    enum Hostile {
        case none
        /// NACK this many of serve's packets with every frame.
        case nackFlood(Int)
        /// Send FU-A fragments of one timestamp, never a marker, instead of frames.
        case noMarker
        /// Beside each frame, SRTP serve must refuse: 10 packets of new SSRCs, 10 of ours that do
        /// not authenticate.
        case garbage
        /// Never acknowledge serve's SCTP data (its DATA chunks are cut from every packet before
        /// our association sees them, so it never SACKs them), while sending 16 KiB messages on
        /// these echo channels with every frame (reflect mode echoes each one back).
        case neverAcknowledge([DataChannel])
    }
    var hostile = Hostile.none
    private(set) var nacksSent = 0
    private var markerlessFragments = 0
    private let echoLoad = [UInt8](repeating: 0x42, count: 16 << 10)
    /// Echo messages' bytes queued on our side, and serve's DATA chunks withheld from our association.
    private(set) var echoBytesSent = 0
    private(set) var dataChunksWithheld = 0
    /// Channels of ours the peer closed (reset), for the many-channels attack.
    private(set) var channelsClosedByServe = 0
    /// serve's UDP port, from its answer.
    var servePort: Int { answer?.port ?? 0 }

    private var windowStart: Int?
    private var windowEnd: Int?
    private var counts = WindowCounts()

    /// How often a connected session repeats its check: browsers send one every few seconds to keep
    /// consent (RFC 7675) alive, and serve closes a session after `--consent-timeout` (10 s).
    static let consentInterval: Duration = .seconds(2)
    static let retransmitInterval: Duration = .milliseconds(200)

    init(clip: ClipPackets, delayTicks: UInt32, label: String) throws {
        self.clip = clip
        self.delayTicks = delayTicks
        queue = DispatchQueue(label: "river.bench.session.\(label)")
        let fd = Glibc.socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
        guard fd >= 0 else { throw WHIPClient.Failure(description: "UDP socket: \(errnoText())") }
        var local = LoopbackAddress.make(port: 0)
        let bound = withUnsafePointer(to: &local) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard bound == 0 else {
            Glibc.close(fd)
            throw WHIPClient.Failure(description: "bind UDP: \(errnoText())")
        }
        _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
        socket = fd
    }

    var offer: SyntheticOffer {
        SyntheticOffer(
            ufrag: ufrag, password: password, fingerprint: DTLSCertificate.shared.fingerprint, ssrc: ssrc)
    }

    /// Points the socket at the answer's candidate and starts the connectivity checks (queue).
    func start(answer: ParsedAnswer) {
        self.answer = answer
        var remote = LoopbackAddress.make(port: answer.port)
        let connected = withUnsafePointer(to: &remote) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(socket, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard connected == 0 else {
            phase = .failed("connect UDP: \(errnoText())")
            return
        }
        phase = .checking
        sendCheck(now: .now)
    }

    /// The pacer's call, once per frame interval: retransmissions, consent, and one frame.
    func tick(now: ContinuousClock.Instant) {
        switch phase {
        case .checking:
            if let last = lastCheck, now - last >= Self.retransmitInterval { sendCheck(now: now) }
        case .handshaking:
            guard let dtls else { return }
            // `.now` of whichever instant type the endpoint's timer API takes (ContinuousClock's
            // or RiverCore's), so the benchmark builds against older and newer commits alike.
            if let due = dtls.nextTimeout(now: .now), due <= .now { handle(dtls.handleTimeout(now: .now)) }
            flushDTLS()
        case .connected:
            if let last = lastCheck, now - last >= Self.consentInterval { sendCheck(now: now) }
            switch hostile {
            case .none:
                ticks += 1
                if ticks % frameEvery == 0 { sendFrame() }
            case .nackFlood(let count):
                sendFrame()
                sendNACKFlood(count)
            case .noMarker: sendMarkerlessFragments()
            case .garbage:
                sendFrame()
                sendGarbage()
            case .neverAcknowledge(let channels):
                sendFrame()
                for channel in channels where (try? channel.send(binary: echoLoad)) != nil {
                    echoBytesSent += echoLoad.count
                }
            }
        case .waitingForAnswer, .closed, .failed:
            break
        }
    }

    /// Datagrams the receive thread read for this session: STUN and DTLS only (queue).
    func receive(_ datagrams: [[UInt8]]) {
        for datagram in datagrams {
            guard let first = datagram.first else { continue }
            if first < 4 {
                receiveSTUN(datagram)
            } else if let dtls, phase == .handshaking || phase == .connected {
                handle(dtls.receive(datagram))
                flushDTLS()
            }
        }
    }

    /// Ends the association and DTLS (queue). Serve sees the ABORT and close_notify.
    func close() {
        sctp?.close()
        sctp = nil
        dtls?.close()
        flushDTLS()
        if case .failed = phase {} else { phase = .closed }
    }

    func markWindowStart() {
        windowStart = nextFrame
        windowEnd = nil
        counts = WindowCounts()
    }

    func markWindowEnd() {
        windowEnd = nextFrame - 1
    }

    var windowCounts: WindowCounts { counts }

    // MARK: ICE

    /// A binding request as a controlling browser sends it (RFC 8445 §7.1.1, RFC 8489):
    /// USERNAME, PRIORITY, ICE-CONTROLLING, USE-CANDIDATE, MESSAGE-INTEGRITY, FINGERPRINT.
    private func sendCheck(now: ContinuousClock.Instant) {
        guard answer != nil else { return }
        let transaction = STUNMessage.randomTransactionID()
        pendingCheck = transaction
        lastCheck = now
        send(bindingRequest(transaction: transaction))
    }

    /// A valid check of this session, as its browser would send it (also from elsewhere, by
    /// `HostilePeer`'s spoofer).
    func bindingRequest(transaction: [UInt8] = STUNMessage.randomTransactionID()) -> [UInt8] {
        guard let answer else { return [] }
        let request = STUNMessage(
            messageClass: .request, transactionID: transaction,
            attributes: [
                .username("\(answer.ufrag):\(ufrag)"), .priority(2_122_194_687), .iceControlling(tieBreaker),
                .useCandidate,
            ])
        return request.serialized(integrityKey: Array(answer.password.utf8), fingerprint: true)
    }

    private func receiveSTUN(_ datagram: [UInt8]) {
        guard let answer, let message = try? STUNMessage(parsing: datagram),
            message.messageClass == .successResponse, message.transactionID == pendingCheck,
            message.checkIntegrity(key: Array(answer.password.utf8))
        else { return }
        pendingCheck = nil
        guard phase == .checking else { return }
        do {
            let client = try DTLSEndpoint(
                role: .client, certificate: .shared, expectedPeerFingerprint: answer.fingerprint)
            dtls = client
            phase = .handshaking
            handle(client.start())
            flushDTLS()
        } catch {
            phase = .failed("DTLS client: \(error)")
        }
    }

    // MARK: DTLS, SRTP, SCTP

    private func handle(_ events: [DTLSEndpoint.Event]) {
        for event in events {
            switch event {
            case .connected(let keys):
                do {
                    srtp = try SRTPSession(
                        profileID: keys.profileID, localKeyAndSalt: keys.localKeyAndSalt,
                        remoteKeyAndSalt: keys.remoteKeyAndSalt)
                    try startSCTP()
                    phase = .connected
                } catch {
                    phase = .failed("after the DTLS handshake: \(error)")
                }
            case .applicationData(let packet):
                if case .neverAcknowledge = hostile {
                    if let kept = withholdingData(packet) { sctp?.receive(kept) }
                } else {
                    sctp?.receive(packet)
                }
            case .failed(let error):
                phase = .failed("DTLS: \(error)")
            case .closed:
                phase = .failed("serve closed DTLS")
            }
        }
    }

    private func startSCTP() throws {
        // Room for the many-channels attack: the cap it tests is serve's, not ours.
        var configuration = SCTPConfiguration(role: .client)
        configuration.maxChannels = 1024
        let association = try SCTPAssociation(configuration: configuration, executor: queue) {
            [unowned self] packet in
            do {
                try self.dtls?.send(packet)
            } catch {
                return
            }
            self.flushDTLS()
        }
        association.onEvent = { [unowned self] event in
            switch event {
            case .connected: self.channelOpen = true
            case .message(let channel, let message) where channel.label == "river":
                self.countResult(message.payload)
            case .channelClosed(let channel) where channel.label != "river": self.channelsClosedByServe += 1
            case .closed(let reason): self.phase = .failed("SCTP closed: \(reason)")
            default: break
            }
        }
        sctp = association
        _ = try association.openChannel(label: "river")
    }

    private func flushDTLS() {
        guard let dtls else { return }
        for datagram in dtls.takeOutgoing() { send(datagram) }
    }

    // MARK: Media

    /// The next frame of the looped clip: sequence numbers and timestamps keep increasing
    /// across loops, so serve sees one endless camera stream.
    private func sendFrame() {
        guard let srtp else { return }
        let packets = clip.frames[nextFrame % clip.frames.count]
        let timestamp = timestampBase &+ UInt32(truncatingIfNeeded: nextFrame) &* ClipPackets.ticksPerFrame
        for template in packets {
            var packet = template
            packet[2] = UInt8(sequence >> 8)
            packet[3] = UInt8(sequence & 0xFF)
            packet[4] = UInt8(timestamp >> 24)
            packet[5] = UInt8((timestamp >> 16) & 0xFF)
            packet[6] = UInt8((timestamp >> 8) & 0xFF)
            packet[7] = UInt8(timestamp & 0xFF)
            packet[8] = UInt8(ssrc >> 24)
            packet[9] = UInt8((ssrc >> 16) & 0xFF)
            packet[10] = UInt8((ssrc >> 8) & 0xFF)
            packet[11] = UInt8(ssrc & 0xFF)
            sequence &+= 1
            guard let protected = try? srtp.protectRTP(packet) else { continue }
            send(protected)
        }
        if windowStart != nil && windowEnd == nil {
            counts.frames += 1
            counts.packets += packets.count
        }
        nextFrame += 1
    }

    /// One SRTCP compound (RR + generic NACK) asking again for the last `nackFloodSize` packets serve
    /// sent us, 17 per 4-byte pair (RFC 4585 §6.2.1): about 2 KiB for 8,000 packets.
    private func sendNACKFlood(_ count: Int) {
        guard let srtp, let media = serveSSRC else { return }
        let pairs = (0..<(count / 17)).map { i in
            RTCPGenericNACK.Pair(
                packetID: serveSequence &- UInt16(truncatingIfNeeded: (i + 1) * 17), lostBitmask: 0xFFFF)
        }
        let compound = RTCPPacket.serializeCompound([
            .receiverReport(RTCPReceiverReport(ssrc: ssrc)),
            .nack(RTCPGenericNACK(senderSSRC: ssrc, mediaSSRC: media, pairs: pairs)),
        ])
        guard let protected = try? srtp.protectRTCP(compound) else { return }
        nacksSent += 1
        send(protected)
    }

    /// `packet` without its DATA and I-DATA chunks (RFC 4960 §3.3.1, RFC 8260), CRC32c made again;
    /// nil when nothing else was in it. Serve's SACKs for our own data still reach our association.
    private func withholdingData(_ packet: [UInt8]) -> [UInt8]? {
        guard packet.count >= 16 else { return packet }
        var kept = Array(packet[0..<12])
        var offset = 12
        while offset + 4 <= packet.count {
            let length = Int(packet[offset + 2]) << 8 | Int(packet[offset + 3])
            guard length >= 4 else { break }
            let end = min(packet.count, offset + (length + 3) & ~3)
            if packet[offset] == 0 || packet[offset] == 64 {
                dataChunksWithheld += 1
            } else {
                kept += packet[offset..<end]
            }
            offset = end
        }
        guard kept.count > 12 else { return nil }
        for i in 8..<12 { kept[i] = 0 }
        // RFC 4960 §6.8 / RFC 3309: CRC32c, stored least significant byte first.
        var crc: UInt32 = 0xFFFF_FFFF
        for byte in kept {
            crc ^= UInt32(byte)
            for _ in 0..<8 { crc = crc & 1 != 0 ? (crc >> 1) ^ 0x82F6_3B78 : crc >> 1 }
        }
        crc = ~crc
        for i in 0..<4 { kept[8 + i] = UInt8(truncatingIfNeeded: crc >> (8 * i)) }
        return kept
    }

    /// One more channel for reflect mode's echo, or nil.
    func openEchoChannel() -> DataChannel? { try? sctp?.openChannel(label: "echo") }

    /// Opens `count` more channels at once (past serve's cap, each one it refuses is reset); returns
    /// how many our side could open.
    func openChannels(_ count: Int) -> Int {
        guard let sctp else { return 0 }
        var opened = 0
        for i in 0..<count where (try? sctp.openChannel(label: "flood-\(i)")) != nil { opened += 1 }
        return opened
    }

    /// 10 packets of new SSRCs, protected with the session's own keys (each would cost serve a
    /// libsrtp stream context), and 10 of ours that do not authenticate.
    private func sendGarbage() {
        guard let srtp else { return }
        for i in 0..<20 {
            let stranger = i < 10 ? UInt32.random(in: 1...UInt32.max) : ssrc
            var packet: [UInt8] = [
                0x80, SyntheticOffer.payloadType, UInt8(sequence >> 8), UInt8(sequence & 0xFF),
            ]
            packet += [0, 0, 0, 0] + [24, 16, 8, 0].map { UInt8(truncatingIfNeeded: stranger >> $0) }
            packet += (0..<200).map { _ in UInt8.random(in: 0...255) }
            if i < 10 {
                guard let protected = try? srtp.protectRTP(packet) else { continue }
                send(protected)
            } else {
                send(packet)
            }
        }
    }

    /// 100 FU-A fragments of 1,100 bytes (RFC 6184 §5.8), one timestamp, no marker: only the
    /// first of all has the start bit, none the end bit, so the access unit never completes.
    private func sendMarkerlessFragments() {
        guard let srtp else { return }
        let timestamp = timestampBase &+ 0x4000_0000
        for _ in 0..<100 {
            var packet: [UInt8] = [
                0x80, SyntheticOffer.payloadType, UInt8(sequence >> 8), UInt8(sequence & 0xFF),
            ]
            packet += [24, 16, 8, 0].map { UInt8(truncatingIfNeeded: timestamp >> $0) }
            packet += [24, 16, 8, 0].map { UInt8(truncatingIfNeeded: ssrc >> $0) }
            packet += [0x7C, markerlessFragments == 0 ? 0x85 : 0x05]
            markerlessFragments += 1
            packet += [UInt8](repeating: 0x11, count: 1_098)
            sequence &+= 1
            guard let protected = try? srtp.protectRTP(packet) else { continue }
            send(protected)
        }
    }

    /// Counts a result whose frame was sent inside the window (matched by its timestamp).
    private func countResult(_ payload: [UInt8]) {
        guard let start = windowStart, let (output, status) = ResultScan.fields(payload) else { return }
        let offset = output &- delayTicks &- timestampBase
        guard offset % ClipPackets.ticksPerFrame == 0 else { return }
        let frame = Int(offset / ClipPackets.ticksPerFrame)
        guard frame >= start, frame <= (windowEnd ?? Int.max) else { return }
        counts.results += 1
        counts.statuses[status, default: 0] += 1
    }

    /// Once set, everything goes over this ICE-TCP connection instead (RFC 4571: a 16-bit length
    /// before each packet), which the hostile peer never reads.
    var tcpSocket: Int32?

    private func send(_ datagram: [UInt8]) {
        if let tcpSocket {
            let framed = [UInt8(datagram.count >> 8), UInt8(datagram.count & 0xFF)] + datagram
            let n = framed.withUnsafeBytes {
                Glibc.send(tcpSocket, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL))
            }
            if n > 0 { bytesSent += n }
            return
        }
        let n = datagram.withUnsafeBytes { Glibc.send(socket, $0.baseAddress, $0.count, 0) }
        if n > 0 { bytesSent += n }
    }

    static func randomToken(_ count: Int) -> String {
        let alphabet = Array("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")
        return String((0..<count).map { _ in alphabet.randomElement()! })
    }
}

func errnoText() -> String { String(cString: strerror(errno)) }
