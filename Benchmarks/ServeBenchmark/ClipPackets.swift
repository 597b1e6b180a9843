import Foundation
import RiverRTP

/// The recorded clip, packetized once before any session starts: per frame, the serialized RTP
/// packets with sequence numbers from 0, timestamps `frame × 3000` and SSRC 0.
///
/// Sessions loop it and only patch sequence number, timestamp and SSRC into a copy of each
/// packet before SRTP-protecting it, so the load generator's per-packet path is a copy, twelve
/// byte writes, one protect and one `send`: with 16 sessions on two cores it must stay small
/// next to the server it measures.
struct ClipPackets: Sendable {
    /// 90 kHz RTP clock at 30 frames/s.
    static let ticksPerFrame: UInt32 = 3000
    static let framesPerSecond = 30

    let frames: [[[UInt8]]]
    let bytes: Int

    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    /// Reads an Annex-B file with access unit delimiters (as `scripts/make_h264_fixtures.sh`
    /// writes them), splits it into access units and packetizes them (packetization-mode 1).
    /// The delimiters themselves stay out of the packets, as a browser's encoder sends none.
    init(path: String, payloadType: UInt8) throws {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw Failure(description: "\(path) missing: run scripts/make_h264_fixtures.sh")
        }
        let stream = [UInt8](data)
        var units: [[UInt8]] = []
        var current: [UInt8] = []
        for range in AnnexB.nalUnitRanges(in: stream) {
            if H264NALType.of(stream[range.lowerBound]) == H264NALType.aud {
                if !current.isEmpty { units.append(current) }
                current = []
                continue
            }
            current += AnnexB.startCode
            current += stream[range]
        }
        if !current.isEmpty { units.append(current) }
        guard !units.isEmpty else { throw Failure(description: "\(path) holds no H264 access units") }
        var packetizer = H264Packetizer(payloadType: payloadType, ssrc: 0)
        var frames: [[[UInt8]]] = []
        for (index, unit) in units.enumerated() {
            let packets = try packetizer.packetize(
                annexB: unit, timestamp: UInt32(index) * Self.ticksPerFrame)
            frames.append(packets.map { $0.serialized() })
        }
        self.frames = frames
        bytes = data.count
    }

    var packetCount: Int { frames.reduce(0) { $0 + $1.count } }
    var bitrate: Int { bytes * 8 * Self.framesPerSecond / frames.count }
}
