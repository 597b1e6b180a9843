import CUsrsctp

/// The cheap checks we run on a packet before usrsctp parses it: big enough for the SCTP common
/// header and one chunk header, addressed to our port, and a correct CRC32c (RFC 4960 §3.1,
/// RFC 3309). usrsctp would drop such packets too, but only into process-wide counters; checking
/// here lets each association count the garbage its own peer sent, and keeps most random bytes
/// away from a C parser.
enum SCTPPacketCheck {
    /// Why a packet was dropped before reaching usrsctp.
    enum Failure: Error, Equatable {
        case tooShort(Int)
        case wrongPort(UInt16)
        case badChecksum
    }

    /// Common header (12 bytes) plus one chunk header (4 bytes).
    static let minimumLength = 16

    /// Validates `packet`; `scratch` is a reusable buffer so the check does not allocate per packet.
    static func validate(
        _ packet: UnsafeRawBufferPointer, localPort: UInt16, scratch: inout [UInt8]
    ) -> Failure? {
        guard packet.count >= minimumLength else { return .tooShort(packet.count) }
        let destinationPort = UInt16(packet[2]) << 8 | UInt16(packet[3])
        guard destinationPort == localPort else { return .wrongPort(destinationPort) }
        // The checksum is computed with its own field zeroed; usrsctp_crc32c returns it in the byte
        // order it is stored in the header, so the raw field is compared as loaded.
        let stored = packet.loadUnaligned(fromByteOffset: 8, as: UInt32.self)
        if scratch.count < packet.count { scratch = [UInt8](repeating: 0, count: max(packet.count, 2048)) }
        let computed = scratch.withUnsafeMutableBytes { s -> UInt32 in
            s.copyMemory(from: packet)
            s.storeBytes(of: 0, toByteOffset: 8, as: UInt32.self)
            return usrsctp_crc32c(s.baseAddress, packet.count)
        }
        return computed == stored ? nil : .badChecksum
    }
}
