/// Why an access unit could not be packetized.
public enum H264PacketizerError: Error, Equatable, Sendable, CustomStringConvertible {
    /// Packetization mode 0 carries each NAL unit whole (RFC 6184 §6.2); this one is larger than the
    /// payload limit.
    case nalUnitTooLarge(size: Int, limit: Int)
    case noNALUnits

    public var description: String {
        switch self {
        case .nalUnitTooLarge(let size, let limit):
            "NAL unit of \(size) bytes exceeds \(limit) bytes and packetization-mode 0 cannot fragment it"
        case .noNALUnits: "access unit holds no NAL units (no Annex-B start code)"
        }
    }
}

/// Splits Annex-B access units into RTP packets (RFC 6184): single NAL unit packets, FU-A fragments
/// for NAL units larger than the payload limit (§5.8) and, optionally, STAP-A aggregates of small
/// consecutive NAL units such as SPS + PPS (§5.7.1). The last packet of a unit has the marker bit.
public struct H264Packetizer: Sendable {
    public let payloadType: UInt8
    public let ssrc: UInt32
    /// Largest RTP payload, in bytes (the MTU less IP, UDP, SRTP and RTP header room).
    public let maxPayloadSize: Int
    public let mode: H264PacketizationMode
    public let aggregate: Bool
    /// Sequence number of the next packet.
    public var sequenceNumber: UInt16

    public init(
        payloadType: UInt8, ssrc: UInt32, initialSequenceNumber: UInt16 = 0, maxPayloadSize: Int = 1188,
        mode: H264PacketizationMode = .nonInterleaved, aggregate: Bool = true
    ) {
        precondition(maxPayloadSize >= 16, "payload limit too small for FU-A")
        self.payloadType = payloadType
        self.ssrc = ssrc
        self.sequenceNumber = initialSequenceNumber
        self.maxPayloadSize = maxPayloadSize
        self.mode = mode
        self.aggregate = aggregate && mode == .nonInterleaved
    }

    /// The packets for one access unit (Annex-B bytes) sampled at `timestamp`.
    public mutating func packetize(annexB: [UInt8], timestamp: UInt32) throws(H264PacketizerError)
        -> [RTPPacket]
    {
        let ranges = AnnexB.nalUnitRanges(in: annexB)
        guard !ranges.isEmpty else { throw .noNALUnits }
        var payloads: [[UInt8]] = []
        var stap: [UInt8] = []  // STAP-A being filled, empty when none
        var stapCount = 0

        func closeStap() {
            if stapCount == 1 {
                // One NAL unit alone goes as a single NAL unit packet: drop the STAP header and length.
                payloads.append(Array(stap[3...]))
            } else if stapCount > 1 {
                payloads.append(stap)
            }
            stap = []
            stapCount = 0
        }

        for r in ranges {
            let size = r.count
            if size <= maxPayloadSize {
                if aggregate {
                    if stapCount > 0 && stap.count + 2 + size > maxPayloadSize { closeStap() }
                    if 1 + 2 + size <= maxPayloadSize {
                        if stapCount == 0 { stap.append(0) }  // header: fixed up below
                        // F is the OR of the units' F bits, NRI their maximum (RFC 6184 §5.7).
                        let h = annexB[r.lowerBound]
                        stap[0] =
                            (stap[0] | h) & 0x80 | Swift.max(stap[0] & 0x60, h & 0x60) | H264NALType.stapA
                        stap.append(UInt8(size >> 8))
                        stap.append(UInt8(truncatingIfNeeded: size))
                        stap.append(contentsOf: annexB[r])
                        stapCount += 1
                        continue
                    }
                }
                closeStap()
                payloads.append(Array(annexB[r]))
                continue
            }
            guard mode == .nonInterleaved else { throw .nalUnitTooLarge(size: size, limit: maxPayloadSize) }
            closeStap()
            let header = annexB[r.lowerBound]
            let indicator = header & 0xE0 | H264NALType.fuA
            var i = r.lowerBound + 1
            let fragment = maxPayloadSize - 2
            while i < r.upperBound {
                let end = Swift.min(i + fragment, r.upperBound)
                var fu = [UInt8]()
                fu.reserveCapacity(2 + end - i)
                var fuHeader = header & 0x1F
                if i == r.lowerBound + 1 { fuHeader |= 0x80 }
                if end == r.upperBound { fuHeader |= 0x40 }
                fu.append(indicator)
                fu.append(fuHeader)
                fu.append(contentsOf: annexB[i..<end])
                payloads.append(fu)
                i = end
            }
        }
        closeStap()

        var packets: [RTPPacket] = []
        packets.reserveCapacity(payloads.count)
        for (index, payload) in payloads.enumerated() {
            packets.append(
                RTPPacket(
                    marker: index == payloads.count - 1, payloadType: payloadType,
                    sequenceNumber: sequenceNumber,
                    timestamp: timestamp, ssrc: ssrc, payload: payload))
            sequenceNumber &+= 1
        }
        return packets
    }
}
