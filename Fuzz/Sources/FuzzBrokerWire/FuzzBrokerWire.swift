import FuzzDriver

/// libFuzzer entry for the broker's header frames (docs/protocol.md). The input is a control
/// byte, a 4-byte body length, then the header frame. Control bits 0–1 are the frame count;
/// bit 7 replaces it with the count the type byte asks for, bit 6 takes the body length from a
/// REQUEST's `byteCount`, so the fuzzer gets past those checks to the fields behind them.
///
/// Properties: decoding never traps; what decodes encodes to a header of the type's fixed size (no
/// bigger than the input: nothing the decoder returns is sized by a length field beyond the bytes
/// present) that decodes to the same message and encodes to the same bytes;
/// `requestID(ofUndecodable:)` reads any bytes; every message kind is reached by the seeds.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzBrokerWire(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    guard size >= 5 else { return 0 }
    let control = data[0]
    var bodyCount = Int(data[1]) << 24 | Int(data[2]) << 16 | Int(data[3]) << 8 | Int(data[4])
    let header = UnsafeRawBufferPointer(start: data + 5, count: size - 5)
    var frameCount = Int(control & 3)
    if control & 0x80 != 0, header.count >= 4, let type = MessageType(rawValue: header[3]) {
        frameCount = type.frameCount
    }
    if control & 0x40 != 0, header.count >= 64 {
        bodyCount = (60..<64).reduce(0) { $0 << 8 | Int(header[$1]) }
    }
    _ = WireCodec.requestID(ofUndecodable: header)
    guard let message = try? WireCodec.decode(header: header, frameCount: frameCount, bodyCount: bodyCount)
    else { return 0 }
    let written = WireCodec.encode(message)
    precondition(
        written.count <= header.count, "encoded \(message.type) is longer than the header it came from")
    let again = written.withUnsafeBytes {
        try? WireCodec.decode(header: $0, frameCount: frameCount, bodyCount: bodyCount)
    }
    guard let again else {
        preconditionFailure("the wire encoder wrote a \(message.type) header its decoder refuses")
    }
    precondition(again == message, "wire decode → encode → decode changed the \(message.type)")
    precondition(WireCodec.encode(again) == written, "wire encode → decode → encode is not stable")
    // Byte-writing into a NIO buffer shares `encode(_:into:)`; the array writer is the same path.
    var writer = ByteWriter(capacity: 0)
    WireCodec.encode(again, into: &writer)
    precondition(writer.buffer == written, "encode(_:into:) differs from encode(_:)")
    return 0
}

/// The executable's entry point (see `runLibFuzzer`).
@_cdecl("FuzzBrokerWire_main")
public func FuzzBrokerWireMain(_ argc: Int32, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?)
    -> Int32
{
    runLibFuzzer(argc, argv) { data, size in fuzzBrokerWire(data!, size) }
}
