import RiverCore
import RiverRTP

/// Serves the receiver's generic NACKs (RFC 4585 §6.2.1) on our stream from a bounded history of
/// what was sent. Only packets still in the history are resent, each at most once per NACK.
public struct NACKResponder: RTCPStage, Sendable {
    public let ssrc: UInt32
    private var history: [RTPPacket?]
    public private(set) var retransmitted = 0

    public init(ssrc: UInt32, historySize: Int = 1024) {
        self.ssrc = ssrc
        self.history = Array(repeating: nil, count: max(1, historySize))
    }

    public mutating func sent(rtp packet: RTPPacket, now: Instant) {
        history[Int(packet.sequenceNumber) % history.count] = packet
    }

    public mutating func received(rtcp packet: RTCPPacket, now: Instant, into out: inout RTCPStageOutput) {
        guard case .nack(let nack) = packet, nack.mediaSSRC == ssrc else { return }
        for seq in nack.lostSequenceNumbers {
            if let packet = history[Int(seq) % history.count], packet.sequenceNumber == seq {
                out.retransmissions.append(packet)
                retransmitted += 1
            }
        }
    }
}
