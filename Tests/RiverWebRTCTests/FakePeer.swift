import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import RiverDTLS
import RiverICE
import RiverRTP
import RiverSRTP
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

/// Collects a peer connection's events from the event loop for the test to inspect.
final class EventLog: Sendable {
    let events = NIOLockedValueBox<[String]>([])
    let packets = NIOLockedValueBox<[RTPPacket]>([])

    func attach(to connection: PeerConnection) {
        connection.onEvent = { event in
            switch event {
            case .connected: self.events.withLockedValue { $0.append("connected") }
            case .rtp(let packet):
                self.packets.withLockedValue { $0.append(packet) }
            case .rtcp: self.events.withLockedValue { $0.append("rtcp") }
            case .applicationData(let data):
                self.events.withLockedValue { $0.append("data \(String(decoding: data, as: UTF8.self))") }
            case .closed(let reason): self.events.withLockedValue { $0.append("closed \(reason)") }
            }
        }
    }

    func contains(_ prefix: String) -> Bool {
        events.withLockedValue { $0.contains { $0.hasPrefix(prefix) } }
    }
}

/// A browser stand-in on a real UDP socket: STUN client, DTLS client, SRTP.
///
/// `@unchecked Sendable`: each test drives its peers from its own task, one step at a time; the
/// channel handler only touches the locked `inbox`.
final class FakePeer: @unchecked Sendable {
    let channel: Channel
    let inbox: NIOLockedValueBox<[[UInt8]]>
    let server: SocketAddress
    let ufrag = ICECredentials.randomUfrag()
    let password = ICECredentials.randomPassword()
    let certificate: DTLSCertificate
    var dtls: DTLSEndpoint?
    var srtp: SRTPSession?

    init(server: SocketAddress, certificate: DTLSCertificate) async throws {
        let inbox = NIOLockedValueBox<[[UInt8]]>([])
        self.inbox = inbox
        self.server = server
        self.certificate = certificate
        channel = try await DatagramBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(Collector(inbox: inbox))
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
    }

    var port: Int { channel.localAddress?.port ?? 0 }

    func close() async { try? await channel.close() }

    func send(_ bytes: [UInt8]) async throws {
        try await channel.writeAndFlush(
            AddressedEnvelope(remoteAddress: server, data: ByteBuffer(bytes: bytes)))
    }

    /// Waits for the next datagram matching `kind`, discarding others.
    func receive(_ kind: DatagramKind, timeout: Duration = .seconds(5)) async -> [UInt8]? {
        var found: [UInt8]?
        _ = await waitUntil(timeout: timeout) {
            found = inbox.withLockedValue { box in
                guard let index = box.firstIndex(where: { DatagramKind.classify($0) == kind }) else {
                    return nil
                }
                return box.remove(at: index)
            }
            return found != nil
        }
        return found
    }

    func bindingRequest(
        to connection: PeerConnection, password: String? = nil, integrity: Bool = true, nominate: Bool = true,
        asUfrag: String? = nil
    ) -> [UInt8] {
        let request = STUNMessage(
            messageClass: .request, transactionID: STUNMessage.randomTransactionID(),
            attributes: [.username("\(connection.localUfrag):\(asUfrag ?? ufrag)")]
                + (nominate ? [.useCandidate] : []))
        let key = integrity ? Array((password ?? connection.localPassword).utf8) : nil
        return request.serialized(integrityKey: key, fingerprint: true)
    }

    /// ICE check, then a DTLS handshake; returns the events the DTLS client saw.
    @discardableResult
    func connect(to connection: PeerConnection) async throws -> [DTLSEndpoint.Event] {
        try await send(bindingRequest(to: connection))
        let response = try #require(await receive(.stun), "no STUN response")
        let parsed = try STUNMessage(parsing: response)
        #expect(parsed.messageClass == .successResponse)
        #expect(parsed.checkIntegrity(key: Array(connection.localPassword.utf8)))
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

    func sendRTP(sequence: UInt16, ssrc: UInt32 = 0x1234_5678) async throws -> RTPPacket {
        let packet = RTPPacket(
            marker: true, payloadType: 102, sequenceNumber: sequence, timestamp: 9000 * UInt32(sequence),
            ssrc: ssrc,
            payload: Array(repeating: UInt8(truncatingIfNeeded: sequence), count: 200))
        try await send(try #require(srtp).protectRTP(packet.serialized()))
        return packet
    }
}

private final class Collector: ChannelInboundHandler {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>
    let inbox: NIOLockedValueBox<[[UInt8]]>
    init(inbox: NIOLockedValueBox<[[UInt8]]>) { self.inbox = inbox }
    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let bytes = Array(unwrapInboundIn(data).data.readableBytesView)
        inbox.withLockedValue { $0.append(bytes) }
    }
}
