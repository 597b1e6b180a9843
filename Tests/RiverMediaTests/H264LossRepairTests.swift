import CFFmpeg
import RiverCore
import RiverMedia
import RiverRTP
import RiverTestSupport
import Testing

/// A seeded lossy path between a sender and the frame builder, with a sender that answers NACKs.
///
/// Pictures leave every 1/30 s, their packets 0.2 ms apart, and arrive 5 ms later. Each original is
/// lost with probability `loss`, delayed by 1–3 ms (so it lands behind later packets) with
/// probability `reorder`, and delivered twice with probability `duplicate`. Retransmissions arrive
/// 20 ms after the NACK (one round trip) and are never lost. The first and last packets always arrive:
/// a receiver can only see a gap between two packets it has.
struct LossyPath {
    var loss: Double
    var reorder = 0.05
    var duplicate = 0.02
    var retransmit: Bool
    var seed: UInt64

    struct Result {
        var units: [H264AccessUnit] = []
        var lost: Set<UInt16> = []
        var nacked: [UInt16: Int] = [:]  // sequence number → times asked for
        var plis: [PLIReason] = []
        var dropped = 0
        var skipped = 0
        var duplicatesSent = 0
        var reordered = 0
    }

    func run(_ packets: [RTPPacket], configuration: H264FrameBuilder.Configuration = .init()) throws -> Result
    {
        var rng = SplitMix64(seed: seed)
        var result = Result()
        var arrivals: [(at: Instant, order: Int, packet: RTPPacket)] = []
        var order = 0
        func deliver(_ p: RTPPacket, at t: Instant) {
            arrivals.append((t, order, p))
            order += 1
        }
        let bySequence = Dictionary(packets.map { ($0.sequenceNumber, $0) }, uniquingKeysWith: { a, _ in a })
        let base = packets[0].timestamp
        var lastTimestamp = base
        var k = 0
        for (i, p) in packets.enumerated() {
            if p.timestamp != lastTimestamp {
                k = 0
                lastTimestamp = p.timestamp
            }
            let picture = Int(p.timestamp &- base) / 3000
            let sent = Instant.microseconds(UInt64(picture * 33_333 + k * 200))
            k += 1
            let edge = i == 0 || i == packets.count - 1
            if !edge && Double.random(in: 0..<1, using: &rng) < loss {
                result.lost.insert(p.sequenceNumber)
                continue
            }
            var at = sent + .milliseconds(5)
            if Double.random(in: 0..<1, using: &rng) < reorder {
                at += .microseconds(Int.random(in: 1000...3000, using: &rng))
                result.reordered += 1
            }
            deliver(p, at: at)
            if Double.random(in: 0..<1, using: &rng) < duplicate {
                deliver(p, at: at + .microseconds(300))
                result.duplicatesSent += 1
            }
        }
        var builder = try H264FrameBuilder(configuration: configuration)
        func handle(_ events: [H264FrameBuilderEvent], at now: Instant) {
            for event in events {
                switch event {
                case .accessUnit(let unit): result.units.append(unit)
                case .nack(let seqs):
                    for s in seqs {
                        result.nacked[s, default: 0] += 1
                        if retransmit, let p = bySequence[s] { deliver(p, at: now + .milliseconds(20)) }
                    }
                case .pli(let reason): result.plis.append(reason)
                case .dropped: result.dropped += 1
                case .skipped: result.skipped += 1
                }
            }
        }
        // Event loop over simulated time: the next arrival or the builder's next deadline.
        var now = Instant.zero
        var steps = 0
        while true {
            steps += 1
            // A builder whose deadline never moves past `now` would spin here forever.
            try #require(steps < 100 * packets.count, "simulation made no progress at \(now)")
            arrivals.sort { ($0.at, $0.order) < ($1.at, $1.order) }
            let nextArrival = arrivals.first?.at
            let deadline = builder.nextDeadline
            if let d = deadline, nextArrival == nil || d < nextArrival! {
                now = Swift.max(now, d)
                handle(builder.tick(now: now), at: now)
                if arrivals.isEmpty && builder.nextDeadline == deadline { break }  // nothing left to wait for
                continue
            }
            guard let next = nextArrival else { break }
            let a = arrivals.removeFirst()
            now = Swift.max(now, next)
            handle(builder.push(a.packet, now: now), at: now)
        }
        return result
    }
}

@Suite struct H264LossRepairTests {
    init() { av_log_set_level(AV_LOG_FATAL) }

    static let seeds: [(loss: Double, seed: UInt64)] = [
        (0.01, 1), (0.02, 2), (0.03, 3), (0.05, 5), (0.05, 55),
    ]

    @Test(arguments: seeds)
    func nacksNameExactlyTheLostPacketsAndRetransmissionsMakeItWhole(loss: Double, seed: UInt64) throws {
        let units = try H264Fixtures.accessUnits("clip-a")
        let reference = try H264Fixtures.referenceMD5s("clip-a.framemd5")
        let packets = try H264Fixtures.ourPackets(units)
        let path = LossyPath(loss: loss, retransmit: true, seed: seed)
        let result = try path.run(packets)
        #expect(!result.lost.isEmpty && result.reordered > 0 && result.duplicatesSent > 0)
        #expect(Set(result.nacked.keys) == result.lost, "NACKs name exactly the lost packets")
        #expect(
            result.nacked.values.allSatisfy { $0 == 1 },
            "one NACK each when the retransmission comes back in time")
        #expect(!result.plis.contains(.lossNotRepaired))
        #expect(result.dropped == 0)
        let frames = try decodeAll(result.units)
        #expect(frames.count == reference.count)
        #expect(frames.map(\.md5) == reference, "with retransmissions the output is bit-identical")
    }

    @Test(arguments: seeds)
    func withoutRetransmissionsAPLIGoesOutAndNoCorruptFrameIsDecoded(loss: Double, seed: UInt64) throws {
        let units = try H264Fixtures.accessUnits("clip-a")
        let reference = try H264Fixtures.referenceMD5s("clip-a.framemd5")
        let packets = try H264Fixtures.ourPackets(units)
        let configuration = H264FrameBuilder.Configuration()
        let path = LossyPath(loss: loss, retransmit: false, seed: seed)
        let result = try path.run(packets, configuration: configuration)
        #expect(Set(result.nacked.keys) == result.lost)
        let maxAsks = 1 + configuration.lossRepair.maxNackRetries
        #expect(
            result.nacked.values.allSatisfy { $0 >= 2 && $0 <= maxAsks }, "retries happen and are bounded")
        #expect(result.plis.contains(.lossNotRepaired), "an unrepaired gap asks for a keyframe")
        #expect(result.dropped > 0)
        // Every unit handed out decodes without error to exactly the reference picture for its time.
        let decoder = try H264Decoder()
        var decoded = 0
        for unit in result.units {
            let index = Int(unit.timestamp &- packets[0].timestamp) / 3000
            for frame in try decoder.decode(unit.annexB, rtpTimestamp: unit.timestamp) {
                #expect(md5Hex(frame.data) == reference[index], "picture \(index) must not be corrupt")
                decoded += 1
            }
        }
        #expect(
            decoded > 0 && decoded < reference.count,
            "pictures from keyframes after the loss decode, others wait")
        #expect(decoder.errors == 0)
    }
}
