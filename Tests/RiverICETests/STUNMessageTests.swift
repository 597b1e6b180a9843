import Testing

@testable import RiverICE

@Suite struct STUNMessageTests {
    @Test func roundTripsEveryClassAndAttribute() throws {
        let id = STUNMessage.randomTransactionID()
        for messageClass in [STUNClass.request, .indication, .successResponse, .errorResponse] {
            let message = STUNMessage(
                messageClass: messageClass, transactionID: id,
                attributes: [
                    .username("a:b"), .priority(7), .useCandidate, .iceControlling(1), .software("river"),
                    .errorCode(487, reason: "Role Conflict"),
                    .xorMappedAddress(TransportAddress("10.1.2.3", port: 9)!, transactionID: id),
                ])
            let parsed = try STUNMessage(
                parsing: message.serialized(integrityKey: [1, 2, 3], fingerprint: true))
            #expect(parsed.messageClass == messageClass)
            #expect(parsed.method == .binding)
            #expect(Array(parsed.attributes.prefix(7)) == message.attributes)
            #expect(parsed.useCandidate)
            #expect(parsed.iceControlling == 1)
            #expect(parsed.errorCode?.code == 487)
            #expect(parsed.errorCode?.reason == "Role Conflict")
            #expect(parsed.xorMappedAddress == TransportAddress("10.1.2.3", port: 9))
            #expect(parsed.checkIntegrity(key: [1, 2, 3]))
            #expect(parsed.checkFingerprint())
        }
    }

    @Test func typeBitsFollowRFC8489Section5() throws {
        // Binding success response is 0x0101, error response 0x0111, indication 0x0011.
        let id = [UInt8](repeating: 0, count: 12)
        #expect(
            STUNMessage(messageClass: .successResponse, transactionID: id).serialized().prefix(2) == [
                0x01, 0x01,
            ])
        #expect(
            STUNMessage(messageClass: .errorResponse, transactionID: id).serialized().prefix(2) == [
                0x01, 0x11,
            ])
        #expect(
            STUNMessage(messageClass: .indication, transactionID: id).serialized().prefix(2) == [0x00, 0x11])
        // A method with high bits (0x0F0F) survives the interleaving.
        let odd = STUNMessage(
            method: STUNMethod(rawValue: 0x0F0F), messageClass: .errorResponse, transactionID: id)
        let parsed = try STUNMessage(parsing: odd.serialized())
        #expect(parsed.method.rawValue == 0x0F0F)
        #expect(parsed.messageClass == .errorResponse)
    }

    @Test func attributesAfterIntegrityAreIgnoredExceptFingerprint() throws {
        let id = STUNMessage.randomTransactionID()
        var bytes = STUNMessage(messageClass: .request, transactionID: id, attributes: [.username("a:b")])
            .serialized(integrityKey: [9], fingerprint: false)
        // Append SOFTWARE after MESSAGE-INTEGRITY and fix the length.
        STUNAttribute.software("late").append(to: &bytes)
        bytes[3] = UInt8(bytes.count - 20)
        let parsed = try STUNMessage(parsing: bytes)
        #expect(parsed.software == nil)
        #expect(parsed.checkIntegrity(key: [9]))
    }

    @Test(arguments: [
        ([UInt8](), STUNParseError.truncated("header needs 20 bytes, got 0")),
        ([0x80] + [UInt8](repeating: 0, count: 19), .notSTUN("first two bits are not zero")),
        ([0, 1, 0, 0] + [UInt8](repeating: 0, count: 16), .notSTUN("no magic cookie")),
        (
            [0, 1, 0, 3, 0x21, 0x12, 0xa4, 0x42] + [UInt8](repeating: 0, count: 12),
            .badLength("message length 3 is not a multiple of 4")
        ),
        (
            [0, 1, 0, 8, 0x21, 0x12, 0xa4, 0x42] + [UInt8](repeating: 0, count: 12),
            .badLength("message length 8 but 0 bytes follow the header")
        ),
        (
            [0, 1, 0, 4, 0x21, 0x12, 0xa4, 0x42] + [UInt8](repeating: 0, count: 12) + [0, 6, 0, 9],
            .truncated("attribute 0x6 of 9 bytes at byte 20")
        ),
        (
            [0, 1, 0, 8, 0x21, 0x12, 0xa4, 0x42] + [UInt8](repeating: 0, count: 12) + [
                0, 8, 0, 4, 1, 2, 3, 4,
            ],
            .badAttribute("MESSAGE-INTEGRITY of 4 bytes")
        ),
    ])
    func malformedMessagesAreTypedErrors(_ bytes: [UInt8], _ expected: STUNParseError) {
        #expect(throws: expected) { try STUNMessage(parsing: bytes) }
        #expect(!STUNMessage.isSTUN(bytes) || bytes.count >= 20)
    }

    @Test func nothingMayFollowFingerprint() {
        let id = STUNMessage.randomTransactionID()
        var bytes = STUNMessage(messageClass: .request, transactionID: id).serialized(fingerprint: true)
        STUNAttribute.software("x").append(to: &bytes)
        bytes[3] = UInt8(bytes.count - 20)
        #expect(throws: STUNParseError.badAttribute("attribute after FINGERPRINT at byte 28")) {
            try STUNMessage(parsing: bytes)
        }
    }

    @Test func isSTUNRecognisesChecksOnly() {
        let id = STUNMessage.randomTransactionID()
        #expect(STUNMessage.isSTUN(STUNMessage(messageClass: .request, transactionID: id).serialized()))
        #expect(!STUNMessage.isSTUN([0x16, 0xfe, 0xfd] + [UInt8](repeating: 0, count: 30)))
        #expect(!STUNMessage.isSTUN([UInt8](repeating: 0, count: 20)))
    }

    @Test func transportAddressParsesAndPrints() {
        #expect(TransportAddress("127.0.0.1", port: 1)?.ip == [127, 0, 0, 1])
        #expect(TransportAddress("::1", port: 2)?.ip == [UInt8](repeating: 0, count: 15) + [1])
        #expect(TransportAddress("not an ip", port: 3) == nil)
        #expect(TransportAddress("10.0.0.1", port: 5000)?.description == "10.0.0.1:5000")
        #expect(TransportAddress("fd00::2", port: 9)?.description == "[fd00:0:0:0:0:0:0:2]:9")
    }
}
