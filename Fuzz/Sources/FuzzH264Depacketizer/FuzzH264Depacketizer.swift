import FuzzDriver
import RiverCore
import RiverRTP

/// libFuzzer entry: the input is a script of RTP packets for one H264 stream, run through the whole
/// receive path (reorder buffer, depacketizer, loss repair) with advancing time.
///
/// Byte 0 picks packetization mode 0 or 1 (bit 0) and a small unit bound, 4 KiB, or the default
/// (bit 1), so the oversized-unit path is reached by short inputs. Then each packet is: length L (2 bytes), flags (1 byte:
/// bit 0 marker, bits 1–2 timestamp step, bits 3–7 sequence step − 8, so steps go backwards too),
/// then L payload bytes. Invariants: nothing crashes, every unit given out is non-empty Annex-B that
/// starts with a start code, no larger than the bound, keyframe units hold an IDR slice, and any
/// SPS in a unit reads as a size of whole macroblocks or as nothing.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzH264Depacketizer(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let bytes = UnsafeBufferPointer(start: data, count: size)
    guard size > 0 else { return 0 }
    var configuration = H264FrameBuilder.Configuration()
    configuration.mode = bytes[0] & 1 == 0 ? .singleNAL : .nonInterleaved
    configuration.reorderCapacity = 64
    configuration.lossRepair.maxMissing = 64
    if bytes[0] & 2 != 0 { configuration.maxUnitBytes = 4096 }
    let limit = configuration.maxUnitBytes
    guard var builder = try? H264FrameBuilder(configuration: configuration) else { return 0 }
    var seq: UInt16 = 65500
    var ts: UInt32 = 0
    var now = Instant.zero
    var i = 1
    while i + 3 <= size {
        let length = Int(bytes[i]) << 8 | Int(bytes[i + 1])
        let flags = bytes[i + 2]
        i += 3
        let end = Swift.min(i + length, size)
        let payload = Array(bytes[i..<end])
        i = end
        seq &+= UInt16(bitPattern: Int16(flags >> 3) - 8)
        ts &+= UInt32((flags >> 1) & 3) * 3000
        now += .milliseconds(Int(flags >> 1 & 3) * 20)
        let packet = RTPPacket(
            marker: flags & 1 != 0, payloadType: 96, sequenceNumber: seq, timestamp: ts, ssrc: 1,
            payload: payload)
        check(builder.push(packet, now: now), limit: limit)
        if flags & 6 == 6 { check(builder.tick(now: now + .milliseconds(300)), limit: limit) }
    }
    check(builder.tick(now: now + .seconds(10)), limit: limit)
    return 0
}

private func check(_ events: [H264FrameBuilderEvent], limit: Int) {
    for case .accessUnit(let unit) in events {
        precondition(unit.annexB.count <= limit, "unit over the bound")
        // The SPS reader the decoder uses for --max-pixels takes whatever a unit carries.
        for range in AnnexB.nalUnitRanges(in: unit.annexB)
        where H264NALType.of(unit.annexB[range.lowerBound]) == H264NALType.sps {
            if let sps = H264SequenceParameterSet(nal: unit.annexB[range]) {
                precondition(sps.width >= 16 && sps.height >= 16, "SPS size below one macroblock")
            }
        }
        precondition(
            unit.annexB.count > 4 && Array(unit.annexB.prefix(4)) == AnnexB.startCode, "unit not Annex-B")
        if unit.isKeyframe {
            let types = AnnexB.nalUnitRanges(in: unit.annexB).map {
                H264NALType.of(unit.annexB[$0.lowerBound])
            }
            precondition(types.contains(H264NALType.idr), "keyframe without IDR slice")
        }
    }
}

/// The executable's entry point (see `runLibFuzzer`).
@_cdecl("FuzzH264Depacketizer_main")
public func FuzzH264DepacketizerMain(
    _ argc: Int32, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?
) -> Int32 {
    runLibFuzzer(argc, argv) { data, size in fuzzH264Depacketizer(data!, size) }
}
