import FuzzDriver

/// The association's local port, as `SCTPConfiguration` defaults it for WebRTC (RFC 8841: 5000).
private let localPort: UInt16 = 5000
/// Reused across inputs as the association reuses it across packets, so a short packet after a
/// long one runs with a scratch buffer larger than itself.
nonisolated(unsafe) private var scratch: [UInt8] = []

/// libFuzzer entry: `SCTPPacketCheck.validate` never traps, and accepts exactly the packets that
/// are long enough, addressed to our port and carry the CRC32c that an independent bitwise
/// implementation computes (RFC 4960 Appendix B). The first byte chooses whether the harness
/// writes the right checksum and port into the packet, so the accepting path is reached too.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzSCTPPacketCheck(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    guard size >= 1 else { return 0 }
    let mode = data[0]
    var packet = Array(UnsafeBufferPointer(start: data + 1, count: size - 1))
    if mode & 1 != 0, packet.count >= 4 {
        packet[2] = UInt8(localPort >> 8)
        packet[3] = UInt8(localPort & 0xFF)
    }
    if mode & 2 != 0, packet.count >= 12 {
        packet.replaceSubrange(8..<12, with: [0, 0, 0, 0])
        let crc = referenceCRC32c(packet)
        // RFC 4960 §6.8 / RFC 3309: the CRC is stored least significant byte first.
        packet.replaceSubrange(8..<12, with: [0, 8, 16, 24].map { UInt8(truncatingIfNeeded: crc >> $0) })
    }
    let failure = packet.withUnsafeBytes {
        SCTPPacketCheck.validate($0, localPort: localPort, scratch: &scratch)
    }
    let expected: SCTPPacketCheck.Failure?
    if packet.count < SCTPPacketCheck.minimumLength {
        expected = .tooShort(packet.count)
    } else if UInt16(packet[2]) << 8 | UInt16(packet[3]) != localPort {
        expected = .wrongPort(UInt16(packet[2]) << 8 | UInt16(packet[3]))
    } else {
        var zeroed = packet
        zeroed.replaceSubrange(8..<12, with: [0, 0, 0, 0])
        let crc = referenceCRC32c(zeroed)
        let stored = (0..<4).reduce(UInt32(0)) { $0 | UInt32(packet[8 + $1]) << (8 * $1) }
        expected = crc == stored ? nil : .badChecksum
    }
    precondition(
        failure == expected,
        "SCTP packet check said \(String(describing: failure)), expected \(String(describing: expected))")
    return 0
}

/// CRC32c (Castagnoli, reflected polynomial 0x82F63B78), one bit at a time: slow, and shares
/// nothing with usrsctp's table-driven code.
private func referenceCRC32c(_ bytes: [UInt8]) -> UInt32 {
    var crc: UInt32 = 0xFFFF_FFFF
    for byte in bytes {
        crc ^= UInt32(byte)
        for _ in 0..<8 { crc = crc & 1 != 0 ? (crc >> 1) ^ 0x82F6_3B78 : crc >> 1 }
    }
    return ~crc
}

/// The executable's entry point (see `runLibFuzzer`).
@_cdecl("FuzzSCTPPacketCheck_main")
public func FuzzSCTPPacketCheckMain(
    _ argc: Int32, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?
) -> Int32 {
    runLibFuzzer(argc, argv) { data, size in fuzzSCTPPacketCheck(data!, size) }
}
