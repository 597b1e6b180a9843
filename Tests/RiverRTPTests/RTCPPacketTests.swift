import RiverTestSupport
import Testing

@testable import RiverRTP

@Suite struct RTCPPacketTests {
    static let report = RTCPReceptionReport(
        ssrc: 0x1122_3344, fractionLost: 25, totalLost: -3, highestSequence: 0x0001_FFFE, jitter: 812,
        lastSenderReport: 0xAABB_CCDD, delaySinceLastSenderReport: 65_536)

    static let samples: [RTCPPacket] = [
        .senderReport(
            RTCPSenderReport(
                ssrc: 1, ntpTime: 0xE8F0_1234_8000_0000, rtpTime: 90_000, packetCount: 10, octetCount: 12_000,
                reports: [report])),
        .senderReport(RTCPSenderReport(ssrc: 2, ntpTime: 0, rtpTime: 0, packetCount: 0, octetCount: 0)),
        .receiverReport(RTCPReceiverReport(ssrc: 3, reports: [report, report])),
        .receiverReport(RTCPReceiverReport(ssrc: 4)),
        .sourceDescription(RTCPSourceDescription(ssrc: 5, cname: "river")),
        .sourceDescription(
            RTCPSourceDescription(chunks: [
                .init(
                    ssrc: 6,
                    items: [
                        .init(type: 1, text: Array("abcd".utf8)), .init(type: 6, text: Array("tool".utf8)),
                    ]),
                .init(ssrc: 7, items: []),
            ])),
        .goodbye(RTCPGoodbye(sources: [8, 9])),
        .goodbye(RTCPGoodbye(sources: [10], reason: "session closed")),
        .pictureLossIndication(RTCPPictureLossIndication(senderSSRC: 11, mediaSSRC: 12)),
        .fullIntraRequest(
            RTCPFullIntraRequest(senderSSRC: 13, entries: [.init(ssrc: 14, sequenceNumber: 200)])),
        .nack(RTCPGenericNACK(senderSSRC: 15, mediaSSRC: 16, lostSequenceNumbers: [100, 101, 117, 200])),
        .remb(RTCPReceiverEstimatedMaximumBitrate(senderSSRC: 17, bitrate: 2_500_000, ssrcs: [18, 19])),
        .unknown(RTCPRawPacket(count: 15, packetType: 205, body: [0, 0, 0, 20, 0, 0, 0, 21, 1, 2, 3, 4])),
        .unknown(RTCPRawPacket(count: 0, packetType: 207, body: [0, 0, 0, 22])),
    ]

    @Test(arguments: samples)
    func eachPacketRoundTrips(_ packet: RTCPPacket) throws {
        let bytes = packet.serialized()
        #expect(bytes.count % 4 == 0)
        #expect(bytes[0] >> 6 == 2)
        #expect((Int(bytes[2]) << 8 | Int(bytes[3]) + 1) * 4 == bytes.count)
        #expect(try RTCPPacket.parseCompound(bytes) == [packet])
    }

    @Test func compoundRoundTripsInOrder() throws {
        let bytes = RTCPPacket.serializeCompound(Self.samples)
        #expect(try RTCPPacket.parseCompound(bytes) == Self.samples)
    }

    // MARK: exact wire bytes (RFC layouts worked by hand)

    @Test func pliBytes() {
        let bytes = RTCPPacket.pictureLossIndication(.init(senderSSRC: 1, mediaSSRC: 0xDEAD_BEEF))
            .serialized()
        #expect(bytes == [0x81, 206, 0, 2, 0, 0, 0, 1, 0xDE, 0xAD, 0xBE, 0xEF])
    }

    @Test func nackBytes() {
        // Lost 100, 101, 103 and 116: PID 100, BLP bits 0 (101), 2 (103), 15 (116).
        let nack = RTCPGenericNACK(senderSSRC: 1, mediaSSRC: 2, lostSequenceNumbers: [100, 101, 103, 116])
        #expect(nack.pairs == [.init(packetID: 100, lostBitmask: 0x8005)])
        #expect(
            RTCPPacket.nack(nack).serialized() == [
                0x81, 205, 0, 3, 0, 0, 0, 1, 0, 0, 0, 2, 0, 100, 0x80, 0x05,
            ])
    }

    @Test func rembBytes() {
        // 2,500,000 = 156,250 << 4: exponent 4, mantissa 0x2625A.
        let remb = RTCPReceiverEstimatedMaximumBitrate(
            senderSSRC: 1, bitrate: 2_500_000, ssrcs: [0x0A0B_0C0D])
        #expect(
            RTCPPacket.remb(remb).serialized() == [
                0x8F, 206, 0, 5, 0, 0, 0, 1, 0, 0, 0, 0, 0x52, 0x45, 0x4D, 0x42, 1, 0x12, 0x62, 0x5A, 0x0A,
                0x0B, 0x0C,
                0x0D,
            ])
    }

    @Test func firBytes() {
        let fir = RTCPFullIntraRequest(senderSSRC: 1, entries: [.init(ssrc: 2, sequenceNumber: 7)])
        #expect(
            RTCPPacket.fullIntraRequest(fir).serialized() == [
                0x84, 206, 0, 4, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 2, 7, 0, 0, 0,
            ])
    }

    @Test func sdesBytesEndWithNullAndPadding() {
        // SSRC, CNAME item (1, 5, "river"), null, pad to a word: 4 + 7 + 1 = 12 bytes of body.
        let bytes = RTCPPacket.sourceDescription(RTCPSourceDescription(ssrc: 9, cname: "river")).serialized()
        #expect(bytes == [0x81, 202, 0, 3, 0, 0, 0, 9, 1, 5, 0x72, 0x69, 0x76, 0x65, 0x72, 0])
    }

    @Test func receptionReportCarriesSignedLoss() throws {
        let bytes = RTCPPacket.receiverReport(RTCPReceiverReport(ssrc: 1, reports: [Self.report]))
            .serialized()
        // fraction 25, then -3 as 24-bit two's complement.
        #expect(Array(bytes[12..<16]) == [25, 0xFF, 0xFF, 0xFD])
        guard case .receiverReport(let rr) = try RTCPPacket.parseCompound(bytes)[0] else {
            Issue.record("not a receiver report")
            return
        }
        #expect(rr.reports[0].totalLost == -3)
    }

    // MARK: NACK helpers

    @Test func nackBuildsAndExpandsAcrossWrapAround() {
        let lost: [UInt16] = [65_530, 65_531, 65_535, 0, 3, 9, 40, 41, 56, 57]
        let nack = RTCPGenericNACK(senderSSRC: 1, mediaSSRC: 2, lostSequenceNumbers: lost)
        #expect(nack.pairs.count == 3)  // 65530…9 (distance ≤ 16 across the wrap), 40…56, 57
        #expect(nack.pairs[0].packetID == 65_530)
        #expect(nack.lostSequenceNumbers == lost)
    }

    @Test func nackOfALongBurstUsesAPairPer17() {
        let lost = (1000..<1100).map { UInt16($0) }
        let nack = RTCPGenericNACK(senderSSRC: 1, mediaSSRC: 2, lostSequenceNumbers: lost)
        #expect(nack.pairs.count == 6)  // ceil(100 / 17)
        #expect(nack.lostSequenceNumbers == lost)
        #expect(nack.pairs.allSatisfy { $0.lostBitmask == 0xFFFF || $0.packetID == 1085 })
    }

    @Test func nackIgnoresDuplicates() {
        let nack = RTCPGenericNACK(senderSSRC: 1, mediaSSRC: 2, lostSequenceNumbers: [5, 5, 6, 6])
        #expect(nack.lostSequenceNumbers == [5, 6])
    }

    // MARK: REMB

    @Test(arguments: [UInt64(0), 1, 262_143, 262_144, 1_000_000, 2_500_000, 30_000_000, 1 << 40])
    func rembKeepsBitrateWithinMantissaPrecision(_ bitrate: UInt64) throws {
        let bytes = RTCPPacket.remb(.init(senderSSRC: 1, bitrate: bitrate, ssrcs: [2])).serialized()
        guard case .remb(let remb) = try RTCPPacket.parseCompound(bytes)[0] else {
            Issue.record("not REMB")
            return
        }
        #expect(remb.bitrate <= bitrate)
        // 18-bit mantissa: the rounding loses less than 1 part in 2^17.
        #expect(bitrate - remb.bitrate <= bitrate >> 17)
        #expect(remb.ssrcs == [2])
    }

    @Test func applicationFeedbackThatIsNotREMBStaysRaw() throws {
        let body: [UInt8] = [0, 0, 0, 1, 0, 0, 0, 0] + Array("GOOG".utf8) + [0, 0, 0, 0]
        let packets = try RTCPPacket.parseCompound(
            RTCPPacket.unknown(.init(count: 15, packetType: 206, body: body)).serialized())
        #expect(packets == [.unknown(.init(count: 15, packetType: 206, body: body))])
    }

    // MARK: what browsers send

    @Test func chromiumStyleCompoundWithTransportCCIsParsed() throws {
        // RR + SDES + REMB + a transport-cc feedback (PT 205 FMT 15) + PLI, as a receiving browser
        // sends them; the transport-cc body is opaque to river.
        let transportCC: [UInt8] = [
            0, 0, 0, 1, 0, 0, 0, 2, 0, 5, 0, 3, 0, 0, 1, 0x2A, 0x20, 0x03, 0x04, 0x08,
        ]
        let packets: [RTCPPacket] = [
            .receiverReport(RTCPReceiverReport(ssrc: 1, reports: [Self.report])),
            .sourceDescription(RTCPSourceDescription(ssrc: 1, cname: "3i2VLtqPEj+OuUCX")),
            .remb(RTCPReceiverEstimatedMaximumBitrate(senderSSRC: 1, bitrate: 1_200_000, ssrcs: [2])),
            .unknown(RTCPRawPacket(count: 15, packetType: 205, body: transportCC)),
            .pictureLossIndication(RTCPPictureLossIndication(senderSSRC: 1, mediaSSRC: 2)),
        ]
        let parsed = try RTCPPacket.parseCompound(RTCPPacket.serializeCompound(packets))
        #expect(parsed.count == 5)
        #expect(parsed[3] == packets[3])
        #expect(parsed[4] == packets[4])
    }

    @Test func paddingOnTheLastPacketIsRemoved() throws {
        var bytes = RTCPPacket.pictureLossIndication(.init(senderSSRC: 1, mediaSSRC: 2)).serialized()
        bytes[0] |= 0x20
        bytes += [0, 0, 0, 4]
        bytes[3] = 3
        #expect(
            try RTCPPacket.parseCompound(bytes) == [
                .pictureLossIndication(.init(senderSSRC: 1, mediaSSRC: 2))
            ])
    }

    // MARK: malformed input

    @Test func malformedInputGivesTypedErrors() {
        let pli = RTCPPacket.pictureLossIndication(.init(senderSSRC: 1, mediaSSRC: 2)).serialized()
        #expect(throws: RTCPParseError.truncated(packet: 0, "empty datagram")) {
            try RTCPPacket.parseCompound([UInt8]())
        }
        #expect(throws: RTCPParseError.truncated(packet: 1, "2 bytes left, header needs 4")) {
            try RTCPPacket.parseCompound(pli + [0x80, 200])
        }
        #expect(throws: RTCPParseError.truncated(packet: 0, "length says 12 bytes, 11 left")) {
            try RTCPPacket.parseCompound(pli.dropLast())
        }
        #expect(throws: RTCPParseError.badVersion(packet: 0, 1)) {
            try RTCPPacket.parseCompound([0x41] + pli.dropFirst())
        }
        var badPad = pli
        badPad[0] |= 0x20
        badPad[11] = 0
        #expect(throws: RTCPParseError.badPadding(packet: 0, 0)) { try RTCPPacket.parseCompound(badPad) }
        // An SR claiming two report blocks with room for none.
        var sr = RTCPPacket.senderReport(
            .init(ssrc: 1, ntpTime: 0, rtpTime: 0, packetCount: 0, octetCount: 0)
        )
        .serialized()
        sr[0] = 0x82
        #expect(
            throws: RTCPParseError.malformed(
                packet: 0, type: 200, "sender report with 2 reports does not fit 24 bytes")
        ) {
            try RTCPPacket.parseCompound(sr)
        }
        // A PLI with no body.
        #expect(throws: RTCPParseError.malformed(packet: 0, type: 206, "PLI of 0 bytes")) {
            try RTCPPacket.parseCompound([0x81, 206, 0, 0])
        }
        // A NACK whose FCI is not whole pairs cannot happen (lengths are words), but a short body can.
        #expect(throws: RTCPParseError.malformed(packet: 0, type: 205, "generic NACK of 4 bytes")) {
            try RTCPPacket.parseCompound([0x81, 205, 0, 1, 0, 0, 0, 1])
        }
        // An SDES chunk whose item overruns the packet.
        #expect(
            throws: RTCPParseError.malformed(packet: 0, type: 202, "SDES with 1 chunks does not fit 8 bytes")
        ) {
            try RTCPPacket.parseCompound([0x81, 202, 0, 2, 0, 0, 0, 1, 1, 9, 0x61, 0x62])
        }
    }

    /// Found by FuzzRTCPPacket: padding that leaves a profile extension of a ragged length used to
    /// parse, then trap when written back.
    @Test func reportWithRaggedProfileExtensionIsRefused() {
        let bytes: [UInt8] = [
            0xA0, 0xC8, 0x00, 0x07, 0x00, 0x00, 0x3B, 0xC8, 0x00, 0x81, 0x07, 0x00, 0x00, 0x00, 0x00, 0x00,
            0x00, 0x00, 0x00, 0x81, 0xCE, 0x11, 0x00, 0xD8, 0x00, 0x00, 0x02, 0x00, 0x00, 0x43, 0x80, 0x01,
        ]
        #expect(throws: RTCPParseError.self) { try RTCPPacket.parseCompound(bytes) }
        for packet in RTCPPacket.parsePrefix(bytes).packets {
            _ = packet.serialized()  // whatever parses must write back
        }
    }

    @Test func parsePrefixKeepsPacketsBeforeTheDamage() {
        let pli = RTCPPacket.pictureLossIndication(.init(senderSSRC: 1, mediaSSRC: 2))
        let rr = RTCPPacket.receiverReport(.init(ssrc: 1))
        let bytes = RTCPPacket.serializeCompound([rr, pli]) + [0x81, 206, 0, 2, 0, 0]
        let (packets, error) = RTCPPacket.parsePrefix(bytes)
        #expect(packets == [rr, pli])
        #expect(error == .truncated(packet: 2, "length says 12 bytes, 6 left"))
        let whole = RTCPPacket.parsePrefix(RTCPPacket.serializeCompound([rr, pli]))
        #expect(whole.packets == [rr, pli])
        #expect(whole.error == nil)
    }

    @Test func randomAndTruncatedInputNeverCrashes() throws {
        var rng = SplitMix64(seed: 11)
        let valid = RTCPPacket.serializeCompound(Self.samples)
        var parsedSome = 0
        for round in 0..<5_000 {
            var bytes: [UInt8]
            if round % 2 == 0 {
                bytes = (0..<Int(rng.next() % 80)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
                if !bytes.isEmpty { bytes[0] = 0x80 | bytes[0] & 0x3F }
            } else {
                bytes = Array(valid.prefix(Int(rng.next() % UInt64(valid.count + 1))))
                if !bytes.isEmpty {
                    bytes[Int(rng.next() % UInt64(bytes.count))] ^= UInt8(truncatingIfNeeded: rng.next())
                }
            }
            if let packets = try? RTCPPacket.parseCompound(bytes) {
                parsedSome += 1
                // Whatever parses must serialize to something that parses to the same packets.
                #expect(try RTCPPacket.parseCompound(RTCPPacket.serializeCompound(packets)) == packets)
            }
        }
        #expect(parsedSome > 0)
    }
}

@Suite struct NTPTimeTests {
    @Test func unixTimesMapToNTP() {
        // 1970-01-01 is 2,208,988,800 s after 1900-01-01.
        let oneAndAHalf: UInt64 = 2_208_988_801 << 32 | 0x8000_0000
        #expect(NTPTime.from(unixSeconds: 0) == UInt64(2_208_988_800) << 32)
        #expect(NTPTime.from(unixSeconds: 1.5) == oneAndAHalf)
        #expect(
            NTPTime.middle32(oneAndAHalf) == UInt32(truncatingIfNeeded: UInt64(2_208_988_801) << 16) | 0x8000)
    }

    /// A BYE reason longer than its one-byte length is cut at a character boundary, so it reads
    /// back as written and writing it again gives the same bytes (found by FuzzRTCPPacket).
    @Test func longGoodbyeReasonIsCutAtACharacterBoundary() throws {
        let bye = RTCPPacket.goodbye(RTCPGoodbye(sources: [1], reason: String(repeating: "é", count: 128)))
        let written = bye.serialized()
        let parsed = try RTCPPacket.parseCompound(written)
        #expect(parsed == [.goodbye(RTCPGoodbye(sources: [1], reason: String(repeating: "é", count: 127)))])
        #expect(RTCPPacket.serializeCompound(parsed) == written)
    }
}
