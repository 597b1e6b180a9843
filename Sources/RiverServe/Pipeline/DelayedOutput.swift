import RiverRTP

/// The output half of a pipeline session, sans-IO: every incoming RTP packet is held in a
/// ``DelayLine`` and leaves at arrival + delay as a packet of our own stream, with the input's
/// spacing (DESIGN.md, data path steps 5 and 6).
///
/// The outgoing stream has its own SSRC, the answer's payload type and sequence numbers continuous
/// from a random start (as in reflect, RFC 3550 §5.1); its RTP timestamps are the input's plus a
/// fixed offset of `timestampOffset` (the session's starting delay in 90 kHz units). The offset stays
/// fixed even when `--delay auto` moves the delay: RTP timestamps are a label, and the browser's
/// jitter buffer plays frames by their arrival, so moving the *schedule* (the delay line) is what
/// changes the delay a user sees; changing the *label* mid-stream would look like a clock jump to
/// the receiver and would break the one-to-one match of result messages to frames for the frames in
/// flight.
///
/// Sent packets are kept in a bounded history so the receiver's NACKs (RFC 4585 §6.2.1) can be
/// served; ``senderReport(now:wallClockSeconds:)`` builds the SR (RFC 3550 §6.4.1) that lets the
/// browser relate our timestamps to wall clock (`captureTime` in `requestVideoFrameCallback`).
struct DelayedOutput {
    let payloadType: UInt8
    let outgoingSSRC: UInt32
    /// Added to every input RTP timestamp (90 kHz).
    let timestampOffset: UInt32

    private var line: DelayLine<RTPPacket>
    private var upstreamSSRC: UInt32?
    private var sequenceOffset: UInt16 = 0
    private var lastOutgoingSequence: UInt16
    private var history: [RTPPacket?]
    private(set) var packetsSent: UInt32 = 0
    private(set) var octetsSent: UInt32 = 0
    /// The last packet sent: its RTP timestamp and when (monotonic ns), for the SR's RTP time.
    private var lastSent: (timestamp: UInt32, at: UInt64)?
    private(set) var retransmitted = 0

    init(
        payloadType: UInt8, outgoingSSRC: UInt32, delay: UInt64, historySize: Int = 1024,
        firstSequence: UInt16 = .random(in: 0...0x7FFF)
    ) {
        self.payloadType = payloadType
        self.outgoingSSRC = outgoingSSRC
        self.timestampOffset = DelayedOutput.rtpUnits(delay)
        self.line = DelayLine(delay: delay)
        self.lastOutgoingSequence = firstSequence &- 1
        self.history = Array(repeating: nil, count: max(1, historySize))
    }

    /// A duration in 90 kHz RTP units, modulo 2³².
    static func rtpUnits(_ nanoseconds: UInt64) -> UInt32 {
        UInt32(truncatingIfNeeded: nanoseconds / 1_000_000 * 90 + (nanoseconds % 1_000_000) * 90 / 1_000_000)
    }

    /// The output RTP timestamp of an input timestamp.
    func outputTimestamp(_ input: UInt32) -> UInt32 { input &+ timestampOffset }

    /// The delay applied to packets pushed from now on (ns); moves with `--delay auto`.
    var delay: UInt64 {
        get { line.delay }
        set { line.delay = newValue }
    }

    var held: Int { line.count }
    var nextDue: UInt64? { line.nextDue }

    /// Holds an incoming packet (other payload types are ignored); returns when it is due.
    @discardableResult
    mutating func push(_ packet: RTPPacket, arrival: UInt64) -> UInt64? {
        guard packet.payloadType == payloadType else { return nil }
        return line.push(packet, arrival: arrival)
    }

    /// The next packet due at `now`, rewritten as ours and recorded in the history.
    mutating func popDue(now: UInt64) -> RTPPacket? {
        guard let incoming = line.popDue(now: now) else { return nil }
        if incoming.ssrc != upstreamSSRC {
            // A new upstream stream (first packet, or the browser restarted its sender): continue our
            // numbering where it stopped so the receiver sees no gap.
            upstreamSSRC = incoming.ssrc
            sequenceOffset = lastOutgoingSequence &+ 1 &- incoming.sequenceNumber
        }
        var packet = incoming
        packet.ssrc = outgoingSSRC
        packet.sequenceNumber = incoming.sequenceNumber &+ sequenceOffset
        packet.timestamp = outputTimestamp(incoming.timestamp)
        if packet.sequenceNumber &- lastOutgoingSequence < 0x8000 {
            lastOutgoingSequence = packet.sequenceNumber
        }
        history[Int(packet.sequenceNumber) % history.count] = packet
        packetsSent &+= 1
        octetsSent &+= UInt32(truncatingIfNeeded: packet.payload.count)
        lastSent = (packet.timestamp, now)
        return packet
    }

    /// Packets of ours the receiver asked for that are still in the history, in the order asked.
    mutating func retransmissions(for sequenceNumbers: [UInt16]) -> [RTPPacket] {
        var out: [RTPPacket] = []
        for seq in sequenceNumbers {
            if let packet = history[Int(seq) % history.count], packet.sequenceNumber == seq {
                out.append(packet)
            }
        }
        retransmitted += out.count
        return out
    }

    /// A sender report for our stream, once something was sent. The RTP time is extrapolated from
    /// the last packet sent at 90 kHz, so it and the NTP time describe the same instant.
    func senderReport(now: UInt64, wallClockSeconds: Double) -> RTCPPacket? {
        guard let lastSent else { return nil }
        let rtpTime = lastSent.timestamp &+ DelayedOutput.rtpUnits(now &- lastSent.at)
        return .senderReport(
            RTCPSenderReport(
                ssrc: outgoingSSRC, ntpTime: NTPTime.from(unixSeconds: wallClockSeconds), rtpTime: rtpTime,
                packetCount: packetsSent, octetCount: octetsSent))
    }
}
