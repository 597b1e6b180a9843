import RiverCore
import RiverRTP

/// Serves the receiver's generic NACKs (RFC 4585 §6.2.1) on our stream from a bounded history of
/// what was sent, without letting NACKs turn into an amplifier.
///
/// A NACK is a few bytes that can name 17 packets, and one SRTCP datagram can hold hundreds of
/// them: served naïvely, 2 KiB in could ask for megabytes out. So, in the order applied:
/// - only packets still in the history are resent;
/// - a packet resent once is not resent again for ``Configuration/resendInterval`` (about a
///   round trip: a retransmission in flight cannot have been missed yet), which also dedups a
///   sequence number named twice in one NACK or one compound;
/// - one NACK packet gets at most ``Configuration/maxPerNACK`` packets considered (those left
///   after the two rules above), and one compound at most ``Configuration/maxPerCompound``
///   (the engine marks each compound's start with ``startCompound()``), which bounds the work
///   one datagram costs as well as its resends;
/// - resends spend bytes from a token bucket that fills with ``Configuration/budgetRatio`` of
///   every byte first sent, up to ``Configuration/burstBytes``. Its rate follows what the session
///   actually sends, so the session's RTP egress stays at most (1 + ratio) × its send rate
///   whatever the receiver asks. It needs no timer: sending is what fills it.
///
/// Every refused resend is counted by reason.
public struct NACKResponder: RTCPStage, Sendable {
    public struct Configuration: Sendable {
        public var historySize = 1024
        public var resendInterval: Duration = .milliseconds(100)
        public var maxPerNACK = 128
        public var maxPerCompound = 256
        public var budgetRatio = 0.5
        public var burstBytes = 128 * 1024
        public init() {}
    }

    /// Resends refused, by why.
    public struct Counters: Sendable, Equatable {
        /// Resent within ``Configuration/resendInterval`` already (or named twice).
        public var duplicate = 0
        /// Past ``Configuration/maxPerNACK`` considered in one NACK packet, or
        /// ``Configuration/maxPerCompound`` in one compound.
        public var overCap = 0
        /// The token bucket was empty.
        public var overBudget = 0
        /// No longer (or never) in the history.
        public var unavailable = 0
        public init() {}

        /// Two responders' refusals together (a session's video and audio).
        public static func + (a: Counters, b: Counters) -> Counters {
            var sum = a
            sum.duplicate += b.duplicate
            sum.overCap += b.overCap
            sum.overBudget += b.overBudget
            sum.unavailable += b.unavailable
            return sum
        }
    }

    private struct Entry: Sendable {
        var packet: RTPPacket
        var bytes: Int
        var lastResent: Instant?
    }

    public let ssrc: UInt32
    public let configuration: Configuration
    private var history: [Entry?]
    /// Bytes the bucket holds now.
    public private(set) var tokens = 0.0
    public private(set) var retransmitted = 0
    public private(set) var retransmittedBytes = 0
    public private(set) var refused = Counters()
    /// Packets considered in the current compound.
    private var consideredInCompound = 0

    public init(ssrc: UInt32, configuration: Configuration = .init()) {
        self.ssrc = ssrc
        self.configuration = configuration
        self.history = Array(repeating: nil, count: max(1, configuration.historySize))
    }

    public init(ssrc: UInt32, historySize: Int) {
        var configuration = Configuration()
        configuration.historySize = historySize
        self.init(ssrc: ssrc, configuration: configuration)
    }

    public mutating func sent(rtp packet: RTPPacket, now: Instant) {
        let bytes = Self.size(of: packet)
        history[Int(packet.sequenceNumber) % history.count] = Entry(packet: packet, bytes: bytes)
        tokens = min(Double(configuration.burstBytes), tokens + configuration.budgetRatio * Double(bytes))
    }

    /// The packets offered next belong to a new SRTCP compound.
    public mutating func startCompound() {
        consideredInCompound = 0
    }

    public mutating func received(rtcp packet: RTCPPacket, now: Instant, into out: inout RTCPStageOutput) {
        guard case .nack(let nack) = packet, nack.mediaSSRC == ssrc else { return }
        var considered = 0
        for seq in nack.lostSequenceNumbers {
            let slot = Int(seq) % history.count
            guard var entry = history[slot], entry.packet.sequenceNumber == seq else {
                refused.unavailable += 1
                continue
            }
            if let last = entry.lastResent, now - last < configuration.resendInterval {
                refused.duplicate += 1
                continue
            }
            guard considered < configuration.maxPerNACK, consideredInCompound < configuration.maxPerCompound
            else {
                refused.overCap += 1
                continue
            }
            considered += 1
            consideredInCompound += 1
            guard tokens >= Double(entry.bytes) else {
                refused.overBudget += 1
                continue
            }
            tokens -= Double(entry.bytes)
            entry.lastResent = now
            history[slot] = entry
            out.retransmissions.append(entry.packet)
            retransmitted += 1
            retransmittedBytes += entry.bytes
        }
    }

    /// The RTP packet's size on the wire (before SRTP's tag, which is the same for every packet).
    static func size(of packet: RTPPacket) -> Int {
        packet.headerSize + packet.payload.count + Int(packet.paddingSize)
    }
}
