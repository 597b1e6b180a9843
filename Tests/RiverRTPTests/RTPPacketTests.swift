import Testing

@testable import RiverRTP

@Test(arguments: [
    RTPPacket(payloadType: 96, sequenceNumber: 1, timestamp: 2, ssrc: 3, payload: [1, 2, 3]),
    RTPPacket(
        marker: true, payloadType: 127, sequenceNumber: 65535, timestamp: .max, ssrc: 0xDEAD_BEEF,
        csrcs: [1, 2], extensionProfile: 0xBEDE, extensionData: [0x10, 0xAA, 0, 0], payload: [],
        paddingSize: 4),
])
func roundTrip(packet: RTPPacket) throws {
    let bytes = packet.serialized()
    #expect(bytes.count == packet.headerSize + packet.payload.count + Int(packet.paddingSize))
    #expect(try RTPPacket(parsing: bytes) == packet)
}

@Test func parsesAKnownHeader() throws {
    // V=2, X=1, CC=1; M=1, PT=96; seq 0x1234; ts 0x01020304; ssrc 0x0A0B0C0D; csrc 7;
    // one-byte extension: id 1 len 2 (bytes 5,6,7) + pad.
    let bytes: [UInt8] = [
        0x91, 0xE0, 0x12, 0x34, 1, 2, 3, 4, 0x0A, 0x0B, 0x0C, 0x0D, 0, 0, 0, 7,
        0xBE, 0xDE, 0, 1, 0x12, 5, 6, 7, 0xFF,
    ]
    let packet = try RTPPacket(parsing: bytes)
    #expect(packet.marker && packet.payloadType == 96 && packet.sequenceNumber == 0x1234)
    #expect(packet.timestamp == 0x0102_0304 && packet.ssrc == 0x0A0B_0C0D && packet.csrcs == [7])
    #expect(packet.payload == [0xFF])
    let elements = packet.extensionElements
    #expect(elements.count == 1 && elements[0].id == 1 && elements[0].data == [5, 6, 7])
}

@Test func parsesFromASliceWithNonZeroStart() throws {
    let packet = RTPPacket(payloadType: 100, sequenceNumber: 9, timestamp: 8, ssrc: 7, payload: [4, 5])
    let framed = [0xEE, 0xEE] + packet.serialized()
    #expect(try RTPPacket(parsing: framed[2...]) == packet)
}

@Test(arguments: [
    [UInt8](),
    [0x80, 96, 0, 1, 0, 0, 0, 1, 0, 0, 0],  // 11 bytes
    [0x40, 96, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1],  // version 1
    [0x81, 96, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1],  // CSRC count overruns
    [0x90, 96, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0xBE, 0xDE, 0, 9],  // extension overruns
    [0xA0, 96, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 200],  // padding overruns
    [0xA0, 96, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0],  // padding count zero
])
func rejectsMalformed(bytes: [UInt8]) {
    #expect(throws: RTPParseError.self) { try RTPPacket(parsing: bytes) }
}
