import Testing

@testable import RiverRTP

private func packet(_ seq: UInt16, ts: UInt32 = 3000, marker: Bool = false, _ payload: [UInt8]) -> RTPPacket {
    RTPPacket(marker: marker, payloadType: 96, sequenceNumber: seq, timestamp: ts, ssrc: 1, payload: payload)
}

private let sps: [UInt8] = [0x67, 0x42, 0x00, 0x1F, 0xAB]
private let pps: [UInt8] = [0x68, 0xCE, 0x3C, 0x80]
private let idr: [UInt8] = [0x65, 0x88, 0x84, 0x00, 0x33]
private let slice: [UInt8] = [0x41, 0x9A, 0x02, 0x04]
private let sc = AnnexB.startCode

@Suite struct H264DepacketizerTests {
    @Test func singleNALUnitsEndAtTheMarker() throws {
        var d = try H264Depacketizer()
        #expect(d.push(packet(1, sps)).isEmpty)
        #expect(d.push(packet(2, pps)).isEmpty)
        let out = d.push(packet(3, marker: true, idr))
        #expect(
            out == [
                .accessUnit(
                    .init(
                        timestamp: 3000, annexB: sc + sps + sc + pps + sc + idr, isKeyframe: true,
                        firstSequenceNumber: 1, lastSequenceNumber: 3))
            ])
        #expect(d.sps == sps && d.pps == pps)
    }

    @Test func aTimestampChangeClosesAUnitWithoutMarker() throws {
        var d = try H264Depacketizer()
        #expect(d.push(packet(1, ts: 100, slice)).isEmpty)
        let out = d.push(packet(2, ts: 200, marker: true, slice))
        #expect(out.count == 2)
        guard case .accessUnit(let first) = out[0], case .accessUnit(let second) = out[1] else {
            Issue.record("expected two units, got \(out)")
            return
        }
        #expect(first.timestamp == 100 && second.timestamp == 200 && !first.isKeyframe)
    }

    @Test func stapAUnpacksEveryUnit() throws {
        var d = try H264Depacketizer()
        let stap = [0x78] + [0, UInt8(sps.count)] + sps + [0, UInt8(pps.count)] + pps
        #expect(d.push(packet(1, stap)).isEmpty)
        let out = d.push(packet(2, marker: true, idr))
        guard case .accessUnit(let unit) = out.first else {
            Issue.record("\(out)")
            return
        }
        #expect(unit.annexB == sc + sps + sc + pps + sc + idr)
    }

    @Test func fuAFragmentsJoin() throws {
        var d = try H264Depacketizer()
        let body: [UInt8] = Array(1...40)
        let nal: [UInt8] = [0x65] + body
        // FU indicator keeps F/NRI (0x60) with type 28; FU header S/E + type 5.
        _ = d.push(packet(1, [0x7C, 0x85] + body[0..<15]))
        _ = d.push(packet(2, [0x7C, 0x05] + body[15..<30]))
        let out = d.push(packet(3, marker: true, [0x7C, 0x45] + body[30...]))
        guard case .accessUnit(let unit) = out.first else {
            Issue.record("\(out)")
            return
        }
        #expect(unit.annexB == sc + nal && unit.isKeyframe)
    }

    @Test func rememberedParameterSetsGoBeforeALaterIDR() throws {
        var d = try H264Depacketizer()
        _ = d.push(packet(1, ts: 1, sps))
        _ = d.push(packet(2, ts: 1, pps))
        _ = d.push(packet(3, ts: 1, marker: true, idr))
        _ = d.push(packet(4, ts: 2, marker: true, slice))
        let out = d.push(packet(5, ts: 3, marker: true, idr))
        guard case .accessUnit(let unit) = out.first else {
            Issue.record("\(out)")
            return
        }
        #expect(unit.annexB == sc + sps + sc + pps + sc + idr)
    }

    @Test func spropParameterSetsSeedTheCache() throws {
        // Base64 of sps and pps above.
        var d = try H264Depacketizer(spropParameterSets: "Z0IAH6s=,aM48gA==")
        #expect(d.sps == sps && d.pps == pps)
        let out = d.push(packet(1, marker: true, idr))
        guard case .accessUnit(let unit) = out.first else {
            Issue.record("\(out)")
            return
        }
        #expect(unit.annexB == sc + sps + sc + pps + sc + idr)
        #expect(throws: H264DepacketizerError.self) { try H264Depacketizer(spropParameterSets: "Z0IA*H6s=") }
    }

    @Test func packetizationMode0RefusesAggregatesAndFragments() throws {
        var d = try H264Depacketizer(mode: .singleNAL)
        let out = d.push(packet(9, marker: true, [0x7C, 0x85, 1, 2]))
        #expect(
            out == [.dropped(timestamp: 3000, .typeNotAllowed(type: 28, mode: .singleNAL, sequenceNumber: 9))]
        )
    }

    @Test(
        arguments: [
            ([UInt8](), "empty"),
            ([0x78, 0, 9, 1, 2], "STAP-A length overruns"),
            ([0x78, 0], "STAP-A length field cut"),
            ([0x7C, 0xC5, 1], "FU-A with S and E"),
            ([0x7C, 0x05, 1], "FU-A without start"),
            ([0x7C, 0x85, 1], "FU-A without end"),
            ([0x79, 1, 2, 3], "STAP-B"),
            ([0x1F, 1], "reserved type 31"),
            ([0x00, 1], "type 0"),
        ] as [([UInt8], String)])
    func malformedUnitsAreDroppedWithAReason(payload: [UInt8], what: String) throws {
        var d = try H264Depacketizer()
        let out = d.push(packet(7, marker: true, payload))
        #expect(out.count == 1, "\(what)")
        guard case .dropped(let ts, let error) = out.first else {
            Issue.record("\(what): \(out)")
            return
        }
        #expect(ts == 3000 && error.description.contains("7"), "\(what): \(error)")
        #expect(d.unitsDropped == 1)
        // The next unit is unaffected.
        #expect(d.push(packet(8, ts: 6000, marker: true, slice)).count == 1)
    }

    @Test func lossDropsTheUnitItHitAndTheOneAfterAnOpenUnit() throws {
        var d = try H264Depacketizer()
        _ = d.push(packet(1, ts: 1, [0x7C, 0x85, 1]))
        d.packetsLost()  // the rest of unit 1 and maybe the start of unit 2 are gone
        let out = d.push(packet(5, ts: 2, marker: true, slice))
        #expect(
            out == [
                .dropped(timestamp: 1, .packetsLost(timestamp: 1)),
                .dropped(timestamp: 2, .packetsLost(timestamp: 2)),
            ])
        // Loss inside one unit only spoils that unit.
        _ = d.push(packet(6, ts: 3, [0x7C, 0x85, 1]))
        d.packetsLost()
        let mid = d.push(packet(8, ts: 3, marker: true, [0x7C, 0x45, 2]))
        #expect(mid == [.dropped(timestamp: 3, .packetsLost(timestamp: 3))])
        #expect(d.push(packet(9, ts: 4, marker: true, slice)).count == 1)
    }
}

@Suite struct H264PacketizerTests {
    @Test(arguments: [H264PacketizationMode.nonInterleaved, .singleNAL])
    func roundTripsThroughTheDepacketizer(mode: H264PacketizationMode) throws {
        let big: [UInt8] = [0x65] + (0..<5000).map { UInt8(truncatingIfNeeded: $0 * 7 + 1) }
        let unit = sc + sps + sc + pps + sc + (mode == .singleNAL ? Array(big[0..<900]) : big)
        var p = H264Packetizer(
            payloadType: 96, ssrc: 9, initialSequenceNumber: 65534, maxPayloadSize: 1000, mode: mode)
        let packets = try p.packetize(annexB: unit, timestamp: 77)
        #expect(packets.allSatisfy { $0.payload.count <= 1000 && $0.timestamp == 77 })
        #expect(
            packets.map(\.sequenceNumber)
                == (0..<packets.count).map { UInt16(truncatingIfNeeded: 65534 + $0) })
        #expect(packets.last!.marker && packets.dropLast().allSatisfy { !$0.marker })
        if mode == .nonInterleaved {
            #expect(H264NALType.of(packets[0].payload[0]) == H264NALType.stapA, "SPS and PPS aggregated")
            #expect(packets.dropFirst().allSatisfy { H264NALType.of($0.payload[0]) == H264NALType.fuA })
        } else {
            #expect(packets.count == 3)
        }
        var d = try H264Depacketizer(mode: mode)
        var out: [H264DepacketizerOutput] = []
        for packet in packets { d.push(packet, into: &out) }
        guard case .accessUnit(let au) = out.first, out.count == 1 else {
            Issue.record("\(out)")
            return
        }
        #expect(au.annexB == unit)
    }

    @Test func mode0RefusesOversizedUnits() {
        var p = H264Packetizer(payloadType: 96, ssrc: 9, maxPayloadSize: 100, mode: .singleNAL)
        #expect(throws: H264PacketizerError.nalUnitTooLarge(size: 201, limit: 100)) {
            try p.packetize(annexB: sc + [0x65] + [UInt8](repeating: 1, count: 200), timestamp: 0)
        }
        #expect(throws: H264PacketizerError.noNALUnits) { try p.packetize(annexB: [1, 2, 3], timestamp: 0) }
    }

    @Test func annexBSplitsThreeAndFourByteStartCodes() {
        let bytes: [UInt8] = [0, 0, 0, 1, 0x67, 1, 0, 0, 1, 0x68, 2, 0, 0, 0, 0, 1, 0x65, 0, 0, 3, 4]
        let ranges = AnnexB.nalUnitRanges(in: bytes)
        #expect(ranges.map { Array(bytes[$0]) } == [[0x67, 1], [0x68, 2], [0x65, 0, 0, 3, 4]])
    }
}
