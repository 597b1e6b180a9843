import FuzzDriver

/// libFuzzer entry: any bytes either parse as a DCEP message (RFC 8832 §5) or throw a typed
/// error; what parses writes back to exactly the bytes it came from (the format has no padding or
/// reserved bits the parser drops), and parses again to the same message.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzDCEP(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    guard let message = try? DCEPMessage(parsing: bytes) else { return 0 }
    let written = message.serialized()
    guard let again = try? DCEPMessage(parsing: written) else {
        preconditionFailure("the DCEP writer produced bytes its parser refuses")
    }
    precondition(again == message, "DCEP write → parse changed the message")
    precondition(again.serialized() == written, "DCEP write → parse → write is not stable")
    // Unknown reliability parameters are kept, so an OPEN is echoed byte for byte except that the
    // parameter of a reliable channel is not carried (RFC 8832 §5.1: ignored, and written as 0).
    if case .open(let p) = message, p.reliability == .reliable {
        precondition(written[..<4] == bytes[..<4] && written[8...] == bytes[8...], "DCEP OPEN rewritten")
    } else {
        precondition(written == bytes, "DCEP write changed the bytes")
    }
    return 0
}

/// The executable's entry point (see `runLibFuzzer`).
@_cdecl("FuzzDCEP_main")
public func FuzzDCEPMain(_ argc: Int32, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> Int32
{
    runLibFuzzer(argc, argv) { data, size in fuzzDCEP(data!, size) }
}
