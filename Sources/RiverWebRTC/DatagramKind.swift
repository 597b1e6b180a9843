/// What a datagram on the shared port carries, decided by its first byte (RFC 7983 §7) and,
/// for RTP versus RTCP, the second byte (RFC 5761 §4: RTCP packet types 192…223 would be RTP
/// payload types 64…95 with the marker bit, which RTP must not use).
public enum DatagramKind: Sendable, Equatable {
    case stun, dtls, rtp, rtcp
    /// Anything else (ZRTP, TURN channels, noise): dropped and counted.
    case unknown

    public init<Bytes: Collection<UInt8>>(classifying datagram: Bytes) where Bytes.Index == Int {
        guard let first = datagram.first else {
            self = .unknown
            return
        }
        switch first {
        case 0...3: self = datagram.count >= 20 ? .stun : .unknown
        case 20...63: self = .dtls
        case 128...191:
            guard datagram.count >= 2 else {
                self = .unknown
                return
            }
            let type = datagram[datagram.startIndex + 1]
            self = (192...223).contains(type) ? .rtcp : .rtp
        default: self = .unknown
        }
    }
}
