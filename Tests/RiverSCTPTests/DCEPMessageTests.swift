import RiverTestSupport
import Testing

@testable import RiverSCTP

@Suite struct DCEPMessageTests {
    /// A DATA_CHANNEL_OPEN for `new RTCDataChannel("river")` as Chromium sends it: reliable,
    /// ordered, priority 256 (RFC 8832 §5.1 layout, written out by hand from the RFC).
    static let chromiumOpen: [UInt8] = [
        0x03, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x05, 0x00, 0x00,
        0x72, 0x69, 0x76, 0x65, 0x72,
    ]

    @Test func parsesAChromiumStyleOpen() throws {
        let message = try DCEPMessage(parsing: Self.chromiumOpen)
        #expect(message == .open(DataChannelParameters(label: "river")))
        #expect(message.serialized() == Self.chromiumOpen)
    }

    @Test(arguments: [
        DataChannelParameters(label: "a", protocol: "json", ordered: true, reliability: .reliable),
        DataChannelParameters(label: "", ordered: false, reliability: .reliable, priority: 512),
        DataChannelParameters(label: "rtx", ordered: true, reliability: .maxRetransmits(0)),
        DataChannelParameters(label: "rtx-u", ordered: false, reliability: .maxRetransmits(7)),
        DataChannelParameters(
            label: "ttl", ordered: true, reliability: .maxPacketLifeTime(milliseconds: 150)),
        DataChannelParameters(
            label: "ttl-u ✓", protocol: "π", ordered: false,
            reliability: .maxPacketLifeTime(milliseconds: 0xFFFF_FFFF)),
    ])
    func openRoundTrips(parameters: DataChannelParameters) throws {
        let bytes = DCEPMessage.open(parameters).serialized()
        #expect(try DCEPMessage(parsing: bytes) == .open(parameters))
    }

    @Test func channelTypeBitsFollowRFC8832() {
        let types = [
            (DataChannelParameters(label: "", ordered: true, reliability: .reliable), UInt8(0x00)),
            (DataChannelParameters(label: "", ordered: false, reliability: .reliable), 0x80),
            (DataChannelParameters(label: "", ordered: true, reliability: .maxRetransmits(1)), 0x01),
            (DataChannelParameters(label: "", ordered: false, reliability: .maxRetransmits(1)), 0x81),
            (
                DataChannelParameters(
                    label: "", ordered: true, reliability: .maxPacketLifeTime(milliseconds: 1)), 0x02
            ),
            (
                DataChannelParameters(
                    label: "", ordered: false, reliability: .maxPacketLifeTime(milliseconds: 1)), 0x82
            ),
        ]
        for (parameters, type) in types {
            #expect(DCEPMessage.open(parameters).serialized()[1] == type)
        }
        #expect(
            DCEPMessage.open(.init(label: "", reliability: .maxRetransmits(0x0102_0304))).serialized()[4..<8]
                == [1, 2, 3, 4])
    }

    @Test func ackIsOneByte() throws {
        #expect(DCEPMessage.ack.serialized() == [0x02])
        #expect(try DCEPMessage(parsing: [0x02]) == .ack)
    }

    @Test(arguments: [
        ([UInt8](), DCEPError.empty),
        ([0x07], .unknownMessageType(0x07)),
        ([0x02, 0x00], .badLength(type: 0x02, length: 2)),
        ([0x03, 0x00], .badLength(type: 0x03, length: 2)),
        (
            [0x03, 0x00, 0x01, 0x00, 0, 0, 0, 0, 0x00, 0x09, 0x00, 0x00, 0x72],
            .lengthMismatch(label: 9, protocol: 0, available: 1)
        ),
        (
            [0x03, 0x00, 0x01, 0x00, 0, 0, 0, 0, 0x00, 0x00, 0x00, 0x01],
            .lengthMismatch(label: 0, protocol: 1, available: 0)
        ),
        ([0x03, 0x05, 0x01, 0x00, 0, 0, 0, 0, 0x00, 0x00, 0x00, 0x00], .unknownChannelType(0x05)),
        ([0x03, 0x00, 0x01, 0x00, 0, 0, 0, 0, 0x00, 0x01, 0x00, 0x00, 0xFF], .invalidUTF8(field: "label")),
        (
            [0x03, 0x00, 0x01, 0x00, 0, 0, 0, 0, 0x00, 0x00, 0x00, 0x01, 0xC3],
            .invalidUTF8(field: "protocol")
        ),
    ])
    func rejectsMalformedMessages(bytes: [UInt8], expected: DCEPError) {
        #expect(throws: expected) { try DCEPMessage(parsing: bytes) }
    }

    @Test func randomBytesNeverCrashTheParser() {
        var rng = SplitMix64(seed: 8832)
        var parsed = 0
        for _ in 0..<20_000 {
            var bytes = rng.bytes(Int(rng.next() % 40))
            if !bytes.isEmpty, rng.next() % 2 == 0 { bytes[0] = 0x03 }
            if (try? DCEPMessage(parsing: bytes)) != nil { parsed += 1 }
        }
        // Some random inputs are valid OPENs; the point is that none traps.
        #expect(parsed < 20_000)
    }

    @Test func payloadProtocolIdentifiersMatchRFC8831() {
        #expect(PayloadProtocolIdentifier.encode(.text("hi")) == (51, Array("hi".utf8)))
        #expect(PayloadProtocolIdentifier.encode(.binary([1])) == (53, [1]))
        #expect(PayloadProtocolIdentifier.encode(.text("")) == (56, [0]))
        #expect(PayloadProtocolIdentifier.encode(.binary([])) == (57, [0]))
        #expect(PayloadProtocolIdentifier.decode(ppid: 56, payload: [0]) == .text(""))
        #expect(PayloadProtocolIdentifier.decode(ppid: 57, payload: [0]) == .binary([]))
        #expect(PayloadProtocolIdentifier.decode(ppid: 52, payload: [1]) == nil)
        #expect(PayloadProtocolIdentifier.decode(ppid: 54, payload: [1]) == nil)
        #expect(PayloadProtocolIdentifier.decode(ppid: 99, payload: [1]) == nil)
    }
}
