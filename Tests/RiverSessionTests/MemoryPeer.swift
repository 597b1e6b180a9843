import Dispatch
import RiverCore
import RiverDTLS
import RiverICE
import RiverRTP
import RiverSRTP
import Testing

@testable import RiverSession

/// A browser stand-in wired straight to a ``SessionEngine`` in memory, on a virtual clock: STUN
/// checks, a DTLS client and SRTP, with no socket and no thread. Time moves only when the test
/// says, and every timer the engine asks for is run exactly at its deadline.
final class MemoryPeer {
    static let address = TransportAddress(ip: [192, 0, 2, 7], port: 50_000)!
    static let ssrc: UInt32 = 0x1234_5678
    static let payloadType: UInt8 = 102

    let ufrag = "peer"
    let certificate: DTLSCertificate
    let engine: SessionEngine
    private(set) var now: Instant = .seconds(100)
    private var dtls: DTLSEndpoint?
    private(set) var srtp: SRTPSession?
    /// What the engine sent to any address but the peer's own (only tests that send from other
    /// addresses expect some; for the rest each transmit must go to ``address``).
    private(set) var sentElsewhere: [Transmit] = []
    var expectsOtherAddresses = false
    /// What the engine produced, by kind, with when.
    private(set) var received: [(Instant, [UInt8])] = []
    private(set) var units: [AccessUnitJob] = []
    private(set) var requests: [InferenceJob] = []
    private(set) var recorded: [RecordedItem] = []
    private(set) var events: [SessionEvent] = []
    /// Packets of the engine's stream handed out for its viewers.
    private(set) var forwarded: [RTPPacket] = []
    private(set) var deadline: Instant?

    init(configure: (inout SessionConfiguration) -> Void = { _ in }) throws {
        certificate = try DTLSCertificate(commonName: "peer")
        var configuration = SessionConfiguration(
            id: "s1", localUfrag: "river", localPassword: "0123456789abcdefghijkl", remoteUfrag: ufrag,
            remoteFingerprint: certificate.fingerprint, videoPayloadType: Self.payloadType,
            outgoingSSRC: 0xBEEF,
            rembBitrate: 1_000_000)
        configuration.wallClock = { 1_700_000_000 }
        configure(&configuration)
        engine = try SessionEngine(
            configuration: configuration, now: now, sctpExecutor: DispatchQueue(label: "unused"))
    }

    // MARK: Driving the engine

    /// Size of the last datagram sent to the engine.
    private(set) var lastSent = 0

    func send(_ bytes: [UInt8], from source: TransportAddress = MemoryPeer.address) {
        lastSent = bytes.count
        engine.handle(
            .datagram(Datagram(source: source, kind: DatagramKind.classify(bytes), bytes: bytes)),
            now: now)
        drain()
    }

    func input(_ input: SessionInput) {
        engine.handle(input, now: now)
        drain()
    }

    /// Moves the clock to `instant`, firing every engine deadline on the way, each at its time.
    func advance(to instant: Instant) {
        while let due = deadline, due <= instant {
            now = max(now, due)
            engine.handle(.timeout, now: now)
            drain()
        }
        now = max(now, instant)
    }

    func advance(by duration: Duration) { advance(to: now + duration) }

    private func drain() {
        while true {
            switch engine.poll() {
            case .transmit(let transmit):
                guard transmit.destination == Self.address else {
                    #expect(expectsOtherAddresses, "sent to \(transmit.destination)")
                    sentElsewhere.append(transmit)
                    continue
                }
                deliver(transmit.bytes)
            case .decode(let job): units.append(job)
            case .infer(let job): requests.append(job)
            case .event(let event): events.append(event)
            case .record(let item): recorded.append(item)
            case .forward(let packet): forwarded.append(packet)
            case .timeout(let at):
                deadline = at
                return
            }
        }
    }

    private func deliver(_ bytes: [UInt8]) {
        if DatagramKind.classify(bytes) == .dtls, let dtls {
            for case .connected(let keys) in dtls.receive(bytes) {
                srtp = try? SRTPSession(
                    profileID: keys.profileID, localKeyAndSalt: keys.localKeyAndSalt,
                    remoteKeyAndSalt: keys.remoteKeyAndSalt)
            }
            for reply in dtls.takeOutgoing() { send(reply) }
            return
        }
        received.append((now, bytes))
        // SRTP refuses a replay, so each datagram is decrypted exactly once, here.
        switch DatagramKind.classify(bytes) {
        case .rtp:
            rawRTP.append(bytes)
            if let plain = try? srtp?.unprotectRTP(bytes), let packet = try? RTPPacket(parsing: plain) {
                rtpReceived.append((now, packet))
            }
        case .rtcp:
            if let plain = try? srtp?.unprotectRTCP(bytes) {
                rtcpReceived += RTCPPacket.parsePrefix(plain).packets
            }
        default:
            break
        }
    }

    // MARK: The browser's side

    func bindingRequest(password: String? = nil, nominate: Bool = true) -> [UInt8] {
        let request = STUNMessage(
            messageClass: .request, transactionID: STUNMessage.randomTransactionID(),
            attributes: [.username("\(engine.configuration.localUfrag):\(ufrag)")]
                + (nominate ? [.useCandidate] : []))
        return request.serialized(
            integrityKey: Array((password ?? engine.configuration.localPassword).utf8), fingerprint: true)
    }

    /// ICE check, then the DTLS handshake, all in memory.
    func connect() throws {
        send(bindingRequest())
        let client = try DTLSEndpoint(
            role: .client, certificate: certificate,
            expectedPeerFingerprint: DTLSCertificate.shared.fingerprint)
        dtls = client
        _ = client.start()
        for datagram in client.takeOutgoing() { send(datagram) }
        #expect(client.state == .connected)
        #expect(srtp != nil)
    }

    func send(rtp packet: RTPPacket) throws {
        send(try #require(srtp).protectRTP(packet.serialized()))
    }

    func send(rtcp packets: [RTCPPacket]) throws {
        send(try #require(srtp).protectRTCP(RTCPPacket.serializeCompound(packets)))
    }

    /// RTP packets the engine sent, decrypted, with when.
    private(set) var rtpReceived: [(at: Instant, packet: RTPPacket)] = []
    /// RTCP packets the engine sent, decrypted and parsed.
    private(set) var rtcpReceived: [RTCPPacket] = []
    /// Every SRTP datagram as it arrived (a retransmission repeats its original byte for byte,
    /// and SRTP would refuse it as a replay).
    private(set) var rawRTP: [[UInt8]] = []

    var stunResponses: Int { received.filter { DatagramKind.classify($0.1) == .stun }.count }
}
