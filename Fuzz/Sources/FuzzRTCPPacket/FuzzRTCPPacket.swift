import FuzzDriver
import RiverRTP

#if canImport(Glibc)
    import Glibc
#endif

/// libFuzzer entry: any bytes either parse as a compound RTCP datagram or throw a typed error; what
/// parses is written back into bytes that parse again and re-serialize identically.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzRTCPPacket(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    guard let packets = try? RTCPPacket.parseCompound(bytes) else { return 0 }
    // Raw packets of unknown types whose unpadded body is not whole words are written zero-padded
    // (see RTCPPacket.serialized), so the first write may differ from the input; after it, writing
    // and parsing must be a fixed point.
    let written = RTCPPacket.serializeCompound(packets)
    guard let again = try? RTCPPacket.parseCompound(written) else {
        preconditionFailure("RTCP writer produced bytes its parser refuses")
    }
    precondition(RTCPPacket.serializeCompound(again) == written, "RTCP write → parse → write is not stable")
    for case .nack(let nack) in packets { _ = nack.lostSequenceNumbers }
    return 0
}

/// The executable's entry point (see `runLibFuzzer`).
@_cdecl("FuzzRTCPPacket_main")
public func FuzzRTCPPacketMain(_ argc: Int32, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?)
    -> Int32
{
    runLibFuzzer(argc, argv) { data, size in fuzzRTCPPacket(data!, size) }
}
