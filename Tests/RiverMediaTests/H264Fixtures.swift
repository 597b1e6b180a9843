import CFFmpeg
import Foundation
import RiverCore
import RiverMedia
import RiverRTP
import RiverTestSupport
import Testing

/// The clips `scripts/make_h264_fixtures.sh` writes into `fixtures/h264` (run by `scripts/setup.sh`).
enum H264Fixtures {
    static func bytes(_ name: String) throws -> [UInt8] { try H264Clips.bytes(name) }
    static func accessUnits(_ clip: String) throws -> [[UInt8]] { try H264Clips.accessUnits(clip) }

    /// MD5s (hex) of every frame in `ffmpeg -f framemd5` output, in order.
    static func referenceMD5s(_ name: String) throws -> [String] {
        let text = String(decoding: try bytes(name), as: UTF8.self)
        return text.split(whereSeparator: \.isNewline).filter { !$0.hasPrefix("#") }.map {
            String($0.split(separator: ",").last!.trimmingCharacters(in: .whitespaces))
        }
    }

    /// ffmpeg's RTP muxer output: 4-byte big-endian length, then the datagram.
    static func ffmpegPackets(_ clip: String) throws -> [RTPPacket] {
        let data = try bytes("\(clip).ffrtp")
        var packets: [RTPPacket] = []
        var i = 0
        while i + 4 <= data.count {
            let n = Int(data[i]) << 24 | Int(data[i + 1]) << 16 | Int(data[i + 2]) << 8 | Int(data[i + 3])
            packets.append(try RTPPacket(parsing: data[(i + 4)..<(i + 4 + n)]))
            i += 4 + n
        }
        return packets
    }

    /// The SDP fmtp parameters ffmpeg wrote for the capture.
    static func fmtp(_ clip: String) throws -> (mode: H264PacketizationMode, sprop: String) {
        let sdp = String(decoding: try bytes("\(clip).sdp"), as: UTF8.self)
        let line = try #require(sdp.split(whereSeparator: \.isNewline).first { $0.hasPrefix("a=fmtp:") })
        var mode = H264PacketizationMode.singleNAL
        var sprop = ""
        for param in line.drop(while: { $0 != " " }).split(separator: ";") {
            let kv = param.trimmingCharacters(in: .whitespaces).split(separator: "=", maxSplits: 1)
            guard kv.count == 2 else { continue }
            if kv[0] == "packetization-mode" { mode = kv[1] == "1" ? .nonInterleaved : .singleNAL }
            if kv[0] == "sprop-parameter-sets" { sprop = String(kv[1]) }
        }
        return (mode, sprop)
    }

    /// Our packetizer's packets for a clip: one timestamp per picture, 30 fps at 90 kHz.
    static func ourPackets(
        _ units: [[UInt8]], firstSequence: UInt16 = 65000, firstTimestamp: UInt32 = 4_294_000_000,
        mode: H264PacketizationMode = .nonInterleaved
    ) throws -> [RTPPacket] {
        var packetizer = H264Packetizer(
            payloadType: 102, ssrc: 0x1234, initialSequenceNumber: firstSequence, maxPayloadSize: 1188,
            mode: mode)
        var packets: [RTPPacket] = []
        for (i, unit) in units.enumerated() {
            packets += try packetizer.packetize(annexB: unit, timestamp: firstTimestamp &+ UInt32(i) * 3000)
        }
        return packets
    }
}

/// Hex MD5 of bytes, with libavutil (the same hash `-f framemd5` prints).
func md5Hex(_ bytes: [UInt8]) -> String {
    var digest = [UInt8](repeating: 0, count: 16)
    bytes.withUnsafeBufferPointer { src in av_md5_sum(&digest, src.baseAddress, src.count) }
    return digest.map { String(format: "%02x", $0) }.joined()
}

/// Decodes units in order; returns (rtp timestamp, width, height, md5) per picture.
func decodeAll(_ units: [H264AccessUnit], decoder: H264Decoder = try! H264Decoder()) throws
    -> [(timestamp: UInt32, width: Int, height: Int, md5: String)]
{
    var out: [(UInt32, Int, Int, String)] = []
    for unit in units {
        for frame in try decoder.decode(unit.annexB, rtpTimestamp: unit.timestamp) {
            out.append((frame.rtpTimestamp, frame.width, frame.height, md5Hex(frame.data)))
        }
    }
    return out
}

/// Feeds packets in order to a frame builder with no loss; returns the units and other events.
func buildUnits(_ packets: [RTPPacket], configuration: H264FrameBuilder.Configuration = .init()) throws
    -> (units: [H264AccessUnit], others: [H264FrameBuilderEvent])
{
    var builder = try H264FrameBuilder(configuration: configuration)
    var units: [H264AccessUnit] = []
    var others: [H264FrameBuilderEvent] = []
    for (i, packet) in packets.enumerated() {
        for event in builder.push(packet, now: .microseconds(UInt64(200 * i))) {
            if case .accessUnit(let au) = event { units.append(au) } else { others.append(event) }
        }
    }
    return (units, others)
}
