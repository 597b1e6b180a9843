/// One coded picture as an Annex-B byte stream, ready for a decoder, with the RTP timestamp all its
/// packets shared.
public struct H264AccessUnit: Sendable, Equatable {
    public var timestamp: UInt32
    /// NAL units, each after a 4-byte start code. Parameter sets the stream sent earlier (or the SDP
    /// carried) are inserted before an IDR slice that came without them.
    public var annexB: [UInt8]
    /// True when the unit holds an IDR slice: a decoder can start (or recover) here.
    public var isKeyframe: Bool
    public var firstSequenceNumber: UInt16
    public var lastSequenceNumber: UInt16

    public init(
        timestamp: UInt32, annexB: [UInt8], isKeyframe: Bool, firstSequenceNumber: UInt16,
        lastSequenceNumber: UInt16
    ) {
        self.timestamp = timestamp
        self.annexB = annexB
        self.isKeyframe = isKeyframe
        self.firstSequenceNumber = firstSequenceNumber
        self.lastSequenceNumber = lastSequenceNumber
    }
}

/// Why a payload or an access unit was refused. Each case says where (sequence number, timestamp).
public enum H264DepacketizerError: Error, Equatable, Sendable, CustomStringConvertible {
    case emptyPayload(sequenceNumber: UInt16)
    /// A NAL unit type the negotiated packetization mode does not allow (RFC 6184 §6.2, §6.3), or one
    /// of the interleaved-mode types (STAP-B, MTAP, FU-B) river does not negotiate.
    case typeNotAllowed(type: UInt8, mode: H264PacketizationMode, sequenceNumber: UInt16)
    /// A STAP-A whose length fields overrun the packet (RFC 6184 §5.7.1).
    case badAggregate(sequenceNumber: UInt16, offset: Int)
    /// FU-A fragments that do not form one NAL unit: a missing start or end, or S and E both set
    /// (RFC 6184 §5.8).
    case badFragment(sequenceNumber: UInt16, why: String)
    /// Packets of this access unit were lost and never repaired.
    case packetsLost(timestamp: UInt32)
    /// The unit grew past ``H264Depacketizer/maxUnitBytes`` before its marker bit (or a new
    /// timestamp) ended it: a peer that never sets the marker would otherwise grow it without end.
    case unitTooLarge(timestamp: UInt32, limit: Int)
    case badSpropParameterSets(String)

    public var description: String {
        switch self {
        case .emptyPayload(let seq): "H264 RTP packet \(seq) has an empty payload"
        case .typeNotAllowed(let type, let mode, let seq):
            "H264 RTP packet \(seq): NAL type \(type) not allowed in packetization-mode \(mode.rawValue)"
        case .badAggregate(let seq, let offset):
            "H264 RTP packet \(seq): STAP-A length at byte \(offset) overruns"
        case .badFragment(let seq, let why): "H264 RTP packet \(seq): FU-A \(why)"
        case .packetsLost(let ts): "H264 access unit \(ts): packets lost"
        case .unitTooLarge(let ts, let limit): "H264 access unit \(ts): larger than \(limit) bytes"
        case .badSpropParameterSets(let why): "bad sprop-parameter-sets: \(why)"
        }
    }
}

/// What the depacketizer made of the packets so far.
public enum H264DepacketizerOutput: Sendable, Equatable {
    /// A complete access unit.
    case accessUnit(H264AccessUnit)
    /// An access unit that must not reach a decoder as if whole, and why.
    case dropped(timestamp: UInt32, H264DepacketizerError)
}

/// Rebuilds H.264 access units from RTP payloads (RFC 6184): single NAL unit packets (§5.6), STAP-A
/// (§5.7.1) and FU-A (§5.8), in packetization modes 0 and 1.
///
/// Feed packets in sequence order (after an ``RTPReorderBuffer``) and tell it about unrepaired gaps
/// with ``packetsLost()``. A unit ends at the marker bit (RFC 6184 §5.1) or when the timestamp
/// changes; a unit with a gap, a broken fragment or a bad aggregate is reported as
/// ``H264DepacketizerOutput/dropped(timestamp:_:)`` and never as a unit.
///
/// A unit is bounded by ``maxUnitBytes``: past it the unit is reported dropped at once (so the
/// owner can ask for a key frame while the oversized unit is still arriving), its bytes are
/// released, and the rest of its packets are ignored until its marker or a new timestamp.
///
/// Per packet the work is one copy of the payload bytes into the unit's buffer (the decoder needs them
/// contiguous), done with `memcpy`-backed appends from an unsafe buffer, no per-byte closures.
public struct H264Depacketizer: Sendable {
    public let mode: H264PacketizationMode
    /// The latest sequence and picture parameter sets seen in band or given in the SDP.
    public private(set) var sps: [UInt8]?
    public private(set) var pps: [UInt8]?
    /// Units given out whole, and units dropped.
    public private(set) var unitsEmitted = 0
    public private(set) var unitsDropped = 0
    /// Of ``unitsDropped``, those that grew past ``maxUnitBytes``.
    public private(set) var unitsTooLarge = 0
    /// The most Annex-B bytes one unit may hold. 4 MiB is far above any picture a browser sends
    /// (a 1080p IDR at a high bitrate is a few hundred KiB) and keeps a session's worst case small.
    public let maxUnitBytes: Int
    public static let defaultMaxUnitBytes = 4 << 20
    /// Bytes of the open unit held now.
    public var bufferedBytes: Int { buffer.count }

    private var buffer: [UInt8] = []
    private var open = false  // a unit has packets and has not been emitted
    private var timestamp: UInt32 = 0
    private var firstSequence: UInt16 = 0
    private var lastSequence: UInt16 = 0
    private var failure: H264DepacketizerError?
    /// ``failure`` was already given out (an oversized unit is reported when it overflows, not when
    /// it ends).
    private var failureReported = false
    private var inFragment = false
    private var hasSPS = false
    private var hasPPS = false
    private var hasIDR = false
    /// An unrepaired gap came before the next packet: whichever unit that packet belongs to (and an
    /// open one it does not continue) lost packets.
    private var lossPending = false
    private let initialCapacity = 64 * 1024

    /// - Parameter spropParameterSets: the fmtp value, if the SDP had one; its SPS and PPS are used
    ///   until the stream sends its own.
    ///   - maxUnitBytes: the bound on one access unit (see the type's note).
    public init(
        mode: H264PacketizationMode = .nonInterleaved, spropParameterSets: String? = nil,
        maxUnitBytes: Int = H264Depacketizer.defaultMaxUnitBytes
    ) throws(H264DepacketizerError) {
        self.mode = mode
        self.maxUnitBytes = max(1, maxUnitBytes)
        if let sprop = spropParameterSets {
            for nal in try parseSpropParameterSets(sprop) {
                switch H264NALType.of(nal[0]) {
                case H264NALType.sps: sps = nal
                case H264NALType.pps: pps = nal
                default: break
                }
            }
        }
        buffer.reserveCapacity(initialCapacity)
    }

    /// Records that packets between the previous one and the next were lost for good.
    public mutating func packetsLost() {
        lossPending = true
    }

    /// Adds the next packet in sequence order; returns what it completed (at most two outputs: the
    /// previous unit, closed by a timestamp change, and this one, closed by its marker).
    public mutating func push(_ packet: RTPPacket) -> [H264DepacketizerOutput] {
        var out: [H264DepacketizerOutput] = []
        push(packet, into: &out)
        return out
    }

    /// Like ``push(_:)`` but appends to a caller's array, so a caller can reuse one per stream.
    public mutating func push(_ packet: RTPPacket, into out: inout [H264DepacketizerOutput]) {
        // Padding only (RFC 3550 §5.1): senders probe bandwidth with these on the media SSRC when no
        // RTX stream is negotiated (Chromium does); they carry no media and belong to no unit.
        if packet.payload.isEmpty && packet.paddingSize > 0 { return }
        if open && packet.timestamp != timestamp {
            if lossPending { fail(.packetsLost(timestamp: timestamp)) }
            finish(into: &out)
        }
        if !open {
            open = true
            timestamp = packet.timestamp
            firstSequence = packet.sequenceNumber
        }
        if lossPending {
            lossPending = false
            fail(.packetsLost(timestamp: timestamp))
        }
        lastSequence = packet.sequenceNumber
        if failure == nil {
            packet.payload.withUnsafeBufferPointer { add(payload: $0, sequenceNumber: packet.sequenceNumber) }
            if buffer.count > maxUnitBytes { overflow(into: &out) }
        }
        if packet.marker { finish(into: &out) }
    }

    /// Gives out the open unit, if any, as if its last packet had the marker bit.
    public mutating func flush() -> H264DepacketizerOutput? {
        var out: [H264DepacketizerOutput] = []
        if open { finish(into: &out) }
        return out.first
    }

    private mutating func fail(_ error: H264DepacketizerError) {
        if failure == nil { failure = error }
    }

    /// The open unit passed ``maxUnitBytes``: report it now and let its bytes go; the packets still
    /// to come of it are ignored (``failure`` is set) until it ends.
    private mutating func overflow(into out: inout [H264DepacketizerOutput]) {
        let error = H264DepacketizerError.unitTooLarge(timestamp: timestamp, limit: maxUnitBytes)
        failure = error
        failureReported = true
        unitsDropped += 1
        unitsTooLarge += 1
        out.append(.dropped(timestamp: timestamp, error))
        buffer = []
        buffer.reserveCapacity(initialCapacity)
    }

    private mutating func finish(into out: inout [H264DepacketizerOutput]) {
        if failure == nil && inFragment {
            failure = .badFragment(
                sequenceNumber: lastSequence, why: "unit ends inside a fragmented NAL unit")
        }
        if let failure {
            if !failureReported {
                unitsDropped += 1
                out.append(.dropped(timestamp: timestamp, failure))
            }
        } else if !buffer.isEmpty {
            unitsEmitted += 1
            // Hand the buffer over and start a fresh one: one allocation per unit, no copy.
            let unit = H264AccessUnit(
                timestamp: timestamp, annexB: buffer, isKeyframe: hasIDR, firstSequenceNumber: firstSequence,
                lastSequenceNumber: lastSequence)
            buffer = []
            buffer.reserveCapacity(Swift.max(initialCapacity, unit.annexB.count))
            out.append(.accessUnit(unit))
        }
        buffer.removeAll(keepingCapacity: true)
        open = false
        failure = nil
        failureReported = false
        inFragment = false
        hasSPS = false
        hasPPS = false
        hasIDR = false
    }

    private mutating func add(payload p: UnsafeBufferPointer<UInt8>, sequenceNumber seq: UInt16) {
        guard p.count > 0 else { return fail(.emptyPayload(sequenceNumber: seq)) }
        let type = H264NALType.of(p[0])
        switch type {
        case 1...23:
            if inFragment {
                return fail(.badFragment(sequenceNumber: seq, why: "end missing before a new NAL unit"))
            }
            appendNAL(UnsafeBufferPointer(rebasing: p[...]))
        case H264NALType.stapA where mode == .nonInterleaved:
            if inFragment {
                return fail(.badFragment(sequenceNumber: seq, why: "end missing before a STAP-A"))
            }
            var i = 1
            while i < p.count {
                guard i + 2 <= p.count else { return fail(.badAggregate(sequenceNumber: seq, offset: i)) }
                let size = Int(p[i]) << 8 | Int(p[i + 1])
                guard size > 0, i + 2 + size <= p.count else {
                    return fail(.badAggregate(sequenceNumber: seq, offset: i))
                }
                appendNAL(UnsafeBufferPointer(rebasing: p[(i + 2)..<(i + 2 + size)]))
                i += 2 + size
            }
        case H264NALType.fuA where mode == .nonInterleaved:
            guard p.count >= 3 else {
                return fail(.badFragment(sequenceNumber: seq, why: "shorter than 3 bytes"))
            }
            let header = p[1]
            let start = header & 0x80 != 0
            let end = header & 0x40 != 0
            if start && end {
                return fail(.badFragment(sequenceNumber: seq, why: "start and end bits both set"))
            }
            if start {
                if inFragment {
                    return fail(.badFragment(sequenceNumber: seq, why: "end missing before a new start"))
                }
                // The reconstructed NAL header: F and NRI from the FU indicator, type from the FU header.
                let nalHeader = p[0] & 0xE0 | header & 0x1F
                beginNAL(type: H264NALType.of(nalHeader), header: nalHeader)
                buffer.append(contentsOf: UnsafeBufferPointer(rebasing: p[2...]))
                inFragment = true
            } else {
                guard inFragment else { return fail(.badFragment(sequenceNumber: seq, why: "start missing")) }
                buffer.append(contentsOf: UnsafeBufferPointer(rebasing: p[2...]))
                if end { inFragment = false }
            }
        default:
            fail(.typeNotAllowed(type: type, mode: mode, sequenceNumber: seq))
        }
    }

    /// Appends one whole NAL unit and remembers parameter sets.
    private mutating func appendNAL(_ nal: UnsafeBufferPointer<UInt8>) {
        let type = H264NALType.of(nal[0])
        beginNAL(type: type, header: nal[0])
        buffer.append(contentsOf: UnsafeBufferPointer(rebasing: nal[1...]))
        if type == H264NALType.sps {
            if sps == nil || !sps!.elementsEqual(nal) { sps = Array(nal) }
        } else if type == H264NALType.pps {
            if pps == nil || !pps!.elementsEqual(nal) { pps = Array(nal) }
        }
    }

    /// Writes the start code and header byte of a NAL unit; before the first IDR slice of a unit that
    /// came without parameter sets, writes the remembered ones (a decoder joining at this IDR needs them).
    private mutating func beginNAL(type: UInt8, header: UInt8) {
        switch type {
        case H264NALType.sps: hasSPS = true
        case H264NALType.pps: hasPPS = true
        case H264NALType.idr:
            if !hasIDR {
                hasIDR = true
                if !hasSPS, let sps {
                    buffer.append(contentsOf: AnnexB.startCode)
                    buffer.append(contentsOf: sps)
                    hasSPS = true
                }
                if !hasPPS, let pps {
                    buffer.append(contentsOf: AnnexB.startCode)
                    buffer.append(contentsOf: pps)
                    hasPPS = true
                }
            }
        default: break
        }
        buffer.append(contentsOf: AnnexB.startCode)
        buffer.append(header)
    }
}
