import RiverTestSupport
import Testing

@testable import RiverSCTP

/// Tests that run real usrsctp associations in this process. Serialized, because some assert on
/// process-wide counts (`SCTPAssociation.liveCount`, usrsctp's established gauge).
@Suite(.serialized, .timeLimit(.minutes(2))) enum LiveAssociationTests {}

/// (stream, PPID, unordered) of every DATA chunk in SCTP packets (RFC 4960 §3.3.1).
func dataChunks(in packets: [[UInt8]]) -> [(stream: UInt16, ppid: UInt32, unordered: Bool)] {
    var chunks: [(UInt16, UInt32, Bool)] = []
    for packet in packets {
        var offset = 12
        while offset + 4 <= packet.count {
            let type = packet[offset]
            let flags = packet[offset + 1]
            let length = Int(packet[offset + 2]) << 8 | Int(packet[offset + 3])
            guard length >= 4 else { break }
            if type == 0, offset + 16 <= packet.count {
                let stream = UInt16(packet[offset + 8]) << 8 | UInt16(packet[offset + 9])
                let ppid = packet[(offset + 12)..<(offset + 16)].reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
                chunks.append((stream, ppid, flags & 0x04 != 0))
            }
            offset += (length + 3) & ~3
        }
    }
    return chunks
}

/// Messages 0 B to 64 KiB, mixed text and binary, plus every multiple of 1000 bytes up to a few.
func mixedMessages(count: Int, seed: UInt64, maxSize: Int = 64 << 10) -> [DataChannelMessage] {
    var rng = SplitMix64(seed: seed)
    return (0..<count).map { i in
        let size: Int
        switch i % 10 {
        case 0: size = 0
        case 1: size = maxSize
        case 2, 3: size = Int(rng.next() % UInt64(maxSize + 1))
        default: size = Int(rng.next() % 1500)
        }
        if i % 2 == 0 {
            // Printable ASCII and multi-byte characters, cut to whole characters near `size`.
            var s = ""
            while s.utf8.count < size {
                s.append(i % 4 == 0 ? "é" : Character(UnicodeScalar(UInt8(32 + rng.next() % 90))))
            }
            return .text(s)
        }
        return .binary(rng.bytes(size))
    }
}

func randomBytes(_ count: Int, seed: UInt64) -> [UInt8] {
    var rng = SplitMix64(seed: seed)
    return rng.bytes(count)
}
