import FuzzDriver
import RiverRTP

/// libFuzzer entry: any bytes either parse as RTP or throw a typed error; what parses survives a
/// serialize → parse round trip unchanged, and its header extension elements can be read.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzRTPPacket(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let bytes = UnsafeBufferPointer(start: data, count: size)
    guard let packet = try? RTPPacket(parsing: Array(bytes)) else { return 0 }
    _ = packet.extensionElements
    let again = try? RTPPacket(parsing: packet.serialized())
    precondition(again == packet, "RTP round trip changed the packet")
    return 0
}

/// The executable's entry point (see `runLibFuzzer`).
@_cdecl("FuzzRTPPacket_main")
public func FuzzRTPPacketMain(_ argc: Int32, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?)
    -> Int32
{
    runLibFuzzer(argc, argv) { data, size in fuzzRTPPacket(data!, size) }
}
