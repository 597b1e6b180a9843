import Dispatch
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import RiverDTLS
import RiverICE
import RiverRTP
import RiverSCTP
import RiverSRTP
import RiverSession
import Testing

@testable import RiverWebRTC

/// Polls `condition` until it holds or `timeout` passes; generous timeouts keep loaded CI green.
func waitUntil(timeout: Duration = .seconds(10), _ condition: () async throws -> Bool) async rethrows -> Bool
{
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if try await condition() { return true }
        try? await Task.sleep(for: .milliseconds(10))
    }
    return try await condition()
}

/// Collects a session's events (and the engine's counters at each) from the event loop for the
/// test to inspect.
final class EventLog: Sendable {
    let events = NIOLockedValueBox<[SessionEvent]>([])
    /// The engine's counters and summary at the latest event.
    let latest = NIOLockedValueBox<(counters: SessionEngine.Counters, summary: String)?>(nil)

    /// The `onEvent` handler for ``WebRTCServer/open(_:makeOffload:onEvent:)``.
    var handler: WebRTCServer.EventHandler {
        { event, counters, summary in
            self.events.withLockedValue { $0.append(event) }
            self.latest.withLockedValue { $0 = (counters, summary()) }
        }
    }

    func contains(_ event: SessionEvent) -> Bool {
        events.withLockedValue { $0.contains(event) }
    }

    /// The reasons of every `.closed` event, in order.
    var closeReasons: [SessionCloseReason] {
        events.withLockedValue { events in
            events.compactMap { if case .closed(let reason) = $0 { reason } else { nil } }
        }
    }

    var isClosed: Bool { !closeReasons.isEmpty }

    var authenticatedAddresses: [TransportAddress] {
        events.withLockedValue { events in
            events.compactMap { if case .addressAuthenticated(let address) = $0 { address } else { nil } }
        }
    }

    var failedDTLS: Bool {
        closeReasons.contains { if case .dtlsFailed = $0 { true } else { false } }
    }
}

/// A browser stand-in on a real UDP socket, or on a TCP connection with RFC 4571 framing (an
/// active ICE-TCP candidate): STUN client, DTLS client, SRTP, and (on request) an SCTP
/// association for data channels.
///
/// `@unchecked Sendable`: each test drives its peers from its own task, one step at a time; the
/// channel handler only touches the locked `inbox` and `dtlsSink`. Once ``startDataChannels()``
/// ran, the DTLS client belongs to the ``DataChannelClient``'s queue.
final class FakePeer: @unchecked Sendable {
    let channel: Channel
    let inbox: NIOLockedValueBox<[[UInt8]]>
    /// When set, incoming DTLS datagrams go here instead of `inbox`.
    let dtlsSink: NIOLockedValueBox<(@Sendable ([UInt8]) -> Void)?>
    let server: SocketAddress
    let ufrag = ICECredentials.randomUfrag()
    let password = ICECredentials.randomPassword()
    let certificate: DTLSCertificate
    var dtls: DTLSEndpoint?
    var srtp: SRTPSession?
    /// The SSRC of the stream this peer sends.
    static let ssrc: UInt32 = 0x1234_5678
    /// The payload type the sessions of these tests negotiate.
    static let payloadType: UInt8 = 102

    /// Whether this peer talks over a TCP connection to `server` instead of UDP.
    let overTCP: Bool

    init(server: SocketAddress, certificate: DTLSCertificate, overTCP: Bool = false) async throws {
        let inbox = NIOLockedValueBox<[[UInt8]]>([])
        let dtlsSink = NIOLockedValueBox<(@Sendable ([UInt8]) -> Void)?>(nil)
        self.inbox = inbox
        self.dtlsSink = dtlsSink
        self.server = server
        self.certificate = certificate
        self.overTCP = overTCP
        if overTCP {
            channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(
                            ByteToMessageHandler(RFC4571FrameDecoder()))
                        try channel.pipeline.syncOperations.addHandler(
                            FrameCollector(inbox: inbox, dtlsSink: dtlsSink))
                    }
                }
                .connect(to: server).get()
            return
        }
        channel = try await DatagramBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(
                        Collector(inbox: inbox, dtlsSink: dtlsSink))
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
    }

    var port: Int { channel.localAddress?.port ?? 0 }

    /// This peer's address as the server's sessions see it.
    var transportAddress: TransportAddress { TransportAddress(ip: [127, 0, 0, 1], port: UInt16(port))! }

    func close() async { try? await channel.close() }

    func send(_ bytes: [UInt8]) async throws {
        if overTCP { return try await channel.writeAndFlush(Self.framed(bytes)) }
        try await channel.writeAndFlush(
            AddressedEnvelope(remoteAddress: server, data: ByteBuffer(bytes: bytes)))
    }

    /// ``send(_:)`` without waiting, from any thread.
    func write(_ bytes: [UInt8]) {
        if overTCP {
            channel.writeAndFlush(Self.framed(bytes), promise: nil)
        } else {
            channel.writeAndFlush(
                AddressedEnvelope(remoteAddress: server, data: ByteBuffer(bytes: bytes)), promise: nil)
        }
    }

    /// One RFC 4571 frame.
    static func framed(_ bytes: [UInt8]) -> ByteBuffer {
        var framed = ByteBuffer()
        framed.writeInteger(UInt16(bytes.count))
        framed.writeBytes(bytes)
        return framed
    }

    /// Waits for the next datagram matching `kind`, discarding others.
    func receive(_ kind: DatagramKind, timeout: Duration = .seconds(5)) async -> [UInt8]? {
        await receive(timeout: timeout) { DatagramKind.classify($0) == kind }
    }

    /// Waits for the next datagram `matching`, leaving others in the inbox.
    func receive(timeout: Duration = .seconds(5), matching: ([UInt8]) -> Bool) async -> [UInt8]? {
        var found: [UInt8]?
        _ = await waitUntil(timeout: timeout) {
            found = inbox.withLockedValue { box in
                guard let index = box.firstIndex(where: matching) else { return nil }
                return box.remove(at: index)
            }
            return found != nil
        }
        return found
    }

    /// A reflect session expecting this peer: payload type ``payloadType``, a random outgoing SSRC.
    func sessionConfiguration(id: String) -> SessionConfiguration {
        SessionConfiguration(
            id: id, localUfrag: ICECredentials.randomUfrag(), localPassword: ICECredentials.randomPassword(),
            remoteUfrag: ufrag, remoteFingerprint: certificate.fingerprint,
            videoPayloadType: Self.payloadType,
            outgoingSSRC: .random(in: 1...UInt32.max), rembBitrate: 2_000_000)
    }

    func bindingRequest(
        to session: SessionConfiguration, password: String? = nil, integrity: Bool = true,
        nominate: Bool = true,
        asUfrag: String? = nil
    ) -> [UInt8] {
        let request = STUNMessage(
            messageClass: .request, transactionID: STUNMessage.randomTransactionID(),
            attributes: [.username("\(session.localUfrag):\(asUfrag ?? ufrag)")]
                + (nominate ? [.useCandidate] : []))
        let key = integrity ? Array((password ?? session.localPassword).utf8) : nil
        return request.serialized(integrityKey: key, fingerprint: true)
    }

    /// ICE check, then a DTLS handshake; returns the events the DTLS client saw.
    @discardableResult
    func connect(to session: SessionConfiguration) async throws -> [DTLSEndpoint.Event] {
        try await send(bindingRequest(to: session))
        let response = try #require(await receive(.stun), "no STUN response")
        let parsed = try STUNMessage(parsing: response)
        #expect(parsed.messageClass == .successResponse)
        #expect(parsed.checkIntegrity(key: Array(session.localPassword.utf8)))
        #expect(parsed.xorMappedAddress?.port == UInt16(port))
        #expect(
            parsed.xorMappedAddress?.ip == [127, 0, 0, 1], "\(String(describing: parsed.xorMappedAddress))")
        let client = try DTLSEndpoint(
            role: .client, certificate: certificate,
            expectedPeerFingerprint: DTLSCertificate.shared.fingerprint)
        dtls = client
        var events = client.start()
        for _ in 0..<20 {
            for datagram in client.takeOutgoing() { try await send(datagram) }
            if client.state != .handshaking { break }
            guard let reply = await receive(.dtls, timeout: .seconds(3)) else {
                events += client.handleTimeout(now: .now)
                continue
            }
            events += client.receive(reply)
        }
        for datagram in client.takeOutgoing() { try await send(datagram) }
        for case .connected(let keys) in events {
            srtp = try SRTPSession(
                profileID: keys.profileID, localKeyAndSalt: keys.localKeyAndSalt,
                remoteKeyAndSalt: keys.remoteKeyAndSalt)
        }
        return events
    }

    /// Sends one SRTP packet of this peer's stream and returns it in the clear.
    @discardableResult
    func sendRTP(sequence: UInt16, ssrc: UInt32 = FakePeer.ssrc, payloadType: UInt8 = FakePeer.payloadType)
        async throws -> RTPPacket
    {
        let packet = RTPPacket(
            marker: true, payloadType: payloadType, sequenceNumber: sequence,
            timestamp: 9000 * UInt32(sequence),
            ssrc: ssrc,
            payload: Array(repeating: UInt8(truncatingIfNeeded: sequence), count: 200))
        try await send(try #require(srtp).protectRTP(packet.serialized()))
        return packet
    }

    /// The next SRTP packet from the server, decrypted and parsed (nil when none came).
    func receiveRTP(timeout: Duration = .seconds(5)) async throws -> RTPPacket? {
        guard let secured = await receive(.rtp, timeout: timeout) else { return nil }
        return try RTPPacket(parsing: try #require(srtp).unprotectRTP(secured))
    }

    func sendRTCP(_ compound: [RTCPPacket]) async throws {
        try await send(try #require(srtp).protectRTCP(RTCPPacket.serializeCompound(compound)))
    }

    /// Reads SRTCP compounds from the server until one satisfies `condition` (nil when none did
    /// before `timeout`).
    func receiveRTCP(timeout: Duration = .seconds(5), until condition: ([RTCPPacket]) -> Bool) async throws
        -> [RTCPPacket]?
    {
        let srtp = try #require(srtp)
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            guard let secured = await receive(.rtcp, timeout: deadline - ContinuousClock.now) else {
                return nil
            }
            let compound = try RTCPPacket.parseCompound(try srtp.unprotectRTCP(secured))
            if condition(compound) { return compound }
        }
        return nil
    }

    /// Hands the DTLS client to a new SCTP association (DTLS client role), which starts its
    /// handshake with the session's at once.
    func startDataChannels() throws -> DataChannelClient {
        let client = try DataChannelClient(peer: self, dtls: try #require(dtls))
        dtls = nil
        dtlsSink.withLockedValue { $0 = { datagram in client.receive(datagram) } }
        // The session's association starts as soon as DTLS connects: its first packets may be here.
        let early = inbox.withLockedValue { box in
            let dtls = box.filter { DatagramKind.classify($0) == .dtls }
            box.removeAll { DatagramKind.classify($0) == .dtls }
            return dtls
        }
        for datagram in early { client.receive(datagram) }
        return client
    }
}

/// The browser's side of a session's data channels: an SCTP association over the peer's DTLS
/// client (RFC 8261), both owned by one serial queue, recording what arrives.
///
/// `@unchecked Sendable`: the DTLS client, the association and the recorded state are only touched
/// on `queue` (tests go through ``run(_:)``).
final class DataChannelClient: @unchecked Sendable {
    struct Received: Sendable, Equatable {
        var label: String
        var message: DataChannelMessage
    }

    let queue = DispatchQueue(label: "river.webrtc.test.data-channels")
    private let peer: FakePeer
    private let dtls: DTLSEndpoint
    private var association: SCTPAssociation!
    private(set) var connected = false
    private(set) var opened: [String] = []
    private(set) var received: [Received] = []
    private(set) var closeReasons: [SCTPAssociation.CloseReason] = []

    init(peer: FakePeer, dtls: DTLSEndpoint) throws {
        self.peer = peer
        self.dtls = dtls
        try queue.sync {
            association = try SCTPAssociation(
                configuration: SCTPConfiguration(role: .client), executor: queue
            ) {
                [unowned self] packet in
                // One SCTP packet per DTLS application-data record.
                guard (try? self.dtls.send(packet)) != nil else { return }
                self.flushDTLS()
            }
            association.onEvent = { [unowned self] event in
                switch event {
                case .connected: connected = true
                case .channelOpened(let channel): opened.append(channel.label)
                case .message(let channel, let message):
                    received.append(Received(label: channel.label, message: message))
                case .closed(let reason): closeReasons.append(reason)
                case .bufferedAmountLow, .channelClosed: break
                }
            }
        }
    }

    /// A DTLS datagram from the server, on any thread.
    func receive(_ datagram: [UInt8]) {
        queue.async { [self] in
            for case .applicationData(let packet) in dtls.receive(datagram) { association.receive(packet) }
            flushDTLS()
        }
    }

    private func flushDTLS() {
        for datagram in dtls.takeOutgoing() { peer.write(datagram) }
    }

    /// Opens a channel of our own (even stream id) and returns its id.
    func openChannel(label: String) async throws -> UInt16 {
        try await run { try $0.association.openChannel(label: label).id }
    }

    func send(_ message: DataChannelMessage, on id: UInt16) async throws {
        try await run { client in
            let channel = try #require(client.association.channels[id])
            try channel.send(message)
        }
    }

    /// Ends the association (ABORT) and stops accepting DTLS input; idempotent.
    func close() async throws {
        try await run { $0.association.close() }
        peer.dtlsSink.withLockedValue { $0 = nil }
    }

    /// Runs `body` on the owner queue and returns its result.
    func run<T: Sendable>(_ body: @escaping @Sendable (DataChannelClient) throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            queue.async { continuation.resume(with: Result { try body(self) }) }
        }
    }
}

private final class Collector: ChannelInboundHandler {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>
    let inbox: NIOLockedValueBox<[[UInt8]]>
    let dtlsSink: NIOLockedValueBox<(@Sendable ([UInt8]) -> Void)?>

    init(inbox: NIOLockedValueBox<[[UInt8]]>, dtlsSink: NIOLockedValueBox<(@Sendable ([UInt8]) -> Void)?>) {
        self.inbox = inbox
        self.dtlsSink = dtlsSink
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        Self.deliver(Array(unwrapInboundIn(data).data.readableBytesView), inbox: inbox, dtlsSink: dtlsSink)
    }

    /// DTLS to the sink when one is set (the data-channel client owns DTLS then), the rest to the inbox.
    static func deliver(
        _ bytes: [UInt8], inbox: NIOLockedValueBox<[[UInt8]]>,
        dtlsSink: NIOLockedValueBox<(@Sendable ([UInt8]) -> Void)?>
    ) {
        if DatagramKind.classify(bytes) == .dtls, let sink = dtlsSink.withLockedValue({ $0 }) {
            sink(bytes)
            return
        }
        inbox.withLockedValue { $0.append(bytes) }
    }
}

/// ``Collector`` for a TCP peer: each RFC 4571 frame is one packet.
private final class FrameCollector: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    let inbox: NIOLockedValueBox<[[UInt8]]>
    let dtlsSink: NIOLockedValueBox<(@Sendable ([UInt8]) -> Void)?>

    init(inbox: NIOLockedValueBox<[[UInt8]]>, dtlsSink: NIOLockedValueBox<(@Sendable ([UInt8]) -> Void)?>) {
        self.inbox = inbox
        self.dtlsSink = dtlsSink
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        Collector.deliver(Array(unwrapInboundIn(data).readableBytesView), inbox: inbox, dtlsSink: dtlsSink)
    }
}
