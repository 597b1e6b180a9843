import RiverCore

/// Generic NACK, PT 205 FMT 1 (RFC 4585 §6.2.1): the receiver lists lost RTP sequence numbers
/// so the sender can retransmit them. Each FCI entry is a packet id (PID) plus a 16-bit mask
/// (BLP) of the 16 sequence numbers after it.
public struct RTCPGenericNACK: Sendable, Equatable {
    static let format: UInt8 = 1
    public var senderSSRC: UInt32
    public var mediaSSRC: UInt32
    public var pairs: [Pair]

    public struct Pair: Sendable, Equatable {
        /// The first lost sequence number.
        public var packetID: UInt16
        /// Bit i set: `packetID + i + 1` is lost too.
        public var lostBitmask: UInt16

        public init(packetID: UInt16, lostBitmask: UInt16) {
            self.packetID = packetID
            self.lostBitmask = lostBitmask
        }
    }

    public init(senderSSRC: UInt32, mediaSSRC: UInt32, pairs: [Pair]) {
        self.senderSSRC = senderSSRC
        self.mediaSSRC = mediaSSRC
        self.pairs = pairs
    }

    /// Packs lost sequence numbers, given in ascending order modulo 2^16 (as a receiver finds gaps,
    /// wrap-around included), into as few PID/BLP pairs as that order allows.
    public init(senderSSRC: UInt32, mediaSSRC: UInt32, lostSequenceNumbers: [UInt16]) {
        var pairs: [Pair] = []
        for sequence in lostSequenceNumbers {
            if let last = pairs.last {
                let distance = sequence &- last.packetID
                if distance == 0 { continue }
                if distance <= 16 {
                    pairs[pairs.count - 1].lostBitmask |= 1 << (distance - 1)
                    continue
                }
            }
            pairs.append(Pair(packetID: sequence, lostBitmask: 0))
        }
        self.init(senderSSRC: senderSSRC, mediaSSRC: mediaSSRC, pairs: pairs)
    }

    /// Every sequence number the pairs name, in order.
    public var lostSequenceNumbers: [UInt16] {
        var out: [UInt16] = []
        for pair in pairs {
            out.append(pair.packetID)
            for bit in 0..<16 where pair.lostBitmask & (1 << bit) != 0 {
                out.append(pair.packetID &+ UInt16(bit + 1))
            }
        }
        return out
    }

    init?(body: [UInt8]) {
        var r = RTCPReader(body)
        guard let sender = r.u32(), let media = r.u32(), r.remaining % 4 == 0 else { return nil }
        var pairs: [Pair] = []
        while r.remaining >= 4 {
            pairs.append(Pair(packetID: r.u16()!, lostBitmask: r.u16()!))
        }
        self.init(senderSSRC: sender, mediaSSRC: media, pairs: pairs)
    }

    func appendBody(to out: inout [UInt8]) {
        appendUInt32(&out, senderSSRC)
        appendUInt32(&out, mediaSSRC)
        for pair in pairs {
            appendUInt16(&out, pair.packetID)
            appendUInt16(&out, pair.lostBitmask)
        }
    }
}
