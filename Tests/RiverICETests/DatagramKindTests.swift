import Testing

@testable import RiverICE

@Suite struct DatagramKindTests {
    @Test func firstByteRangesFollowRFC7983() {
        for byte in 0...255 {
            let kind = DatagramKind.classify([UInt8(byte), 96])
            let expected: DatagramKind =
                switch byte {
                case 0...3: .stun
                case 16...19: .zrtp
                case 20...63: .dtls
                case 64...79: .turnChannel
                case 128...191: .rtp
                default: .unknown
                }
            #expect(kind == expected, "first byte \(byte)")
        }
    }

    @Test func rtcpIsTellsApartByPacketType() {
        // RFC 5761 §4: RTCP packet types 192–223 (SR 200, RR 201, RTPFB 205, PSFB 206).
        for packetType: UInt8 in [192, 200, 201, 202, 203, 205, 206, 223] {
            #expect(DatagramKind.classify([0x80, packetType]) == .rtcp)
        }
        // RTP with marker bit set and payload type 96–127 (224–255) or 0–63 (128–191 with marker).
        for second: UInt8 in [96, 102, 0x80 | 102, 0x80 | 35, 224, 255, 0, 191] {
            #expect(DatagramKind.classify([0x80, second]) == .rtp)
        }
    }

    @Test func realPacketsAreClassified() {
        let id = STUNMessage.randomTransactionID()
        #expect(
            DatagramKind.classify(STUNMessage(messageClass: .request, transactionID: id).serialized())
                == .stun)
        // DTLS 1.2 ClientHello record header: content type 22.
        #expect(DatagramKind.classify([22, 0xfe, 0xfd, 0, 0]) == .dtls)
        #expect(DatagramKind.classify([UInt8]()) == .unknown)
        #expect(DatagramKind.classify([0x80]) == .unknown)
        #expect(DatagramKind.classify([0, 0x81, 201, 0][1...]) == .rtcp)
    }
}
