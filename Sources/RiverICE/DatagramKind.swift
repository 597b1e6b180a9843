/// What a datagram on the shared UDP port is, by its first byte (RFC 7983 §7, updating RFC 5764
/// §5.1.2): STUN 0–3, ZRTP 16–19, DTLS 20–63, TURN channel 64–79, RTP/RTCP 128–191.
public enum DatagramKind: Sendable, Equatable {
    case stun
    case zrtp
    case dtls
    case turnChannel
    case rtp
    /// RTCP (RFC 5761 §4: with rtcp-mux, packet types 192–223 in the second byte are RTCP).
    case rtcp
    case unknown

    /// Classifies `datagram`. Pure and allocation-free: runs on every packet.
    public static func classify<Bytes: RandomAccessCollection>(_ datagram: Bytes) -> DatagramKind
    where Bytes.Element == UInt8, Bytes.Index == Int {
        guard let first = datagram.first else { return .unknown }
        switch first {
        case 0...3: return .stun
        case 16...19: return .zrtp
        case 20...63: return .dtls
        case 64...79: return .turnChannel
        case 128...191:
            guard datagram.count >= 2 else { return .unknown }
            return (192...223).contains(datagram[datagram.startIndex + 1]) ? .rtcp : .rtp
        default: return .unknown
        }
    }
}
