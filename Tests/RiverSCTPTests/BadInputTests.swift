import CUsrsctp
import RiverTestSupport
import Testing

@testable import RiverSCTP

extension LiveAssociationTests {
    @Suite struct BadInput {
        /// Hostile DCEP and PPIDs from a peer inside a working association: each is dropped and
        /// counted in the right counter, and the association keeps working.
        @Test func malformedDCEPAndUnknownPPIDsAreCountedNotFatal() async throws {
            let pair = try LoopbackPair()
            try await pair.run { pair in _ = try pair.client.openChannel(label: "river") }
            #expect(try await pair.wait { $0.opened[.server]?.count == 1 })
            let open = DCEPMessage.open(DataChannelParameters(label: "x")).serialized()
            let hostile: [(stream: UInt16, ppid: UInt32, payload: [UInt8])] = [
                (2, 50, [0x03, 0x00]),  // truncated OPEN
                (4, 50, [0x03, 0, 1, 0, 0, 0, 0, 0, 0xFF, 0xFF, 0, 0, 0x61]),  // label runs past the end
                (6, 50, [0x07]),  // unknown DCEP type
                (8, 50, [0x03, 0x05, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0]),  // unknown channel type
                (3, 50, open),  // OPEN on an odd id: only the DTLS server may use those
                (10, 50, [0x02]),  // ACK nobody waited for
                (0, 50, open),  // OPEN on an id already in use
                (12, 50, [0x02, 0x00]),  // ACK with trailing bytes
                (14, 50, [0x03, 0, 1, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0xFF]),  // label not UTF-8
                (0, 99, [1, 2, 3]),  // unknown PPID on an open channel
                (0, 52, [1]),  // deprecated "string partial" PPID
                (0, 54, [1]),  // deprecated "binary partial" PPID
                (16, 51, Array("nobody".utf8)),  // data on a stream without a channel
            ]
            try await pair.run { pair in
                for h in hostile {
                    pair.client.enqueueRaw(stream: h.stream, ppid: h.ppid, payload: h.payload)
                }
                try pair.client.channels[0]!.send(.text("still fine"))
            }
            #expect(try await pair.wait { $0.received[.server]?.count == 1 })
            let result = try await pair.run {
                ($0.server.statistics, $0.server.openChannelCount, $0.received[.server]!)
            }
            #expect(result.0.malformedDCEP == 9)
            #expect(result.0.unknownPPID == 3)
            #expect(result.0.messagesWithoutChannel == 1)
            #expect(result.1 == 1)
            #expect(result.2.map(\.message) == [.text("still fine")])
            // And the other direction still works too.
            try await pair.run { pair in try pair.server.channels[0]!.send(.text("pong")) }
            #expect(try await pair.wait { $0.received[.client]?.count == 1 })
            try await pair.shutdown()
        }

        /// A peer may not make us hold a channel per stream id: OPENs past `maxChannels` are
        /// refused (no ACK, the stream reset, counted), and the channels within it keep working.
        @Test func opensPastTheChannelCapAreRefusedAndCounted() async throws {
            var server = SCTPConfiguration(role: .server)
            server.maxChannels = 3
            let pair = try LoopbackPair(server: server)
            try await pair.run { pair in
                for i in 0..<6 { _ = try pair.client.openChannel(label: "c\(i)") }
            }
            #expect(try await pair.wait { $0.server.statistics.channelsRefused == 3 })
            // The refused ones close on the client once their streams are reset.
            #expect(try await pair.wait { $0.channelsClosed[.client]?.count == 3 })
            let (opened, count) = try await pair.run {
                ($0.opened[.server]?.count ?? 0, $0.server.openChannelCount)
            }
            #expect(opened == 3 && count == 3)
            // Our own opens count against the same cap.
            let refusedLocally = try await pair.run { pair in
                (try? pair.server.openChannel(label: "ours")) == nil
            }
            #expect(refusedLocally)
            try await pair.run { pair in try pair.client.channels[0]!.send(.text("still fine")) }
            #expect(try await pair.wait { $0.received[.server]?.count == 1 })
            try await pair.shutdown()
        }

        /// What the association queues for sending is bounded across channels, not only per
        /// channel.
        @Test func sendsPastTheAssociationsBudgetFailAndAreCounted() async throws {
            var server = SCTPConfiguration(role: .server)
            server.sendBufferSize = 64 << 10
            server.maxBufferedAmount = 256 << 10
            let pair = try LoopbackPair(server: server)
            try await pair.run { pair in
                _ = try pair.client.openChannel(label: "a")
                _ = try pair.client.openChannel(label: "b")
            }
            #expect(try await pair.wait { $0.opened[.server]?.count == 2 })
            let failures = try await pair.run { pair in
                let channels = pair.opened[.server]!
                var failures = 0
                for i in 0..<40 {
                    do {
                        try channels[i % 2].send(.binary([UInt8](repeating: 1, count: 60 << 10)))
                    } catch {
                        failures += 1
                    }
                }
                return failures
            }
            #expect(failures > 0)
            let statistics = try await pair.run { $0.server.statistics }
            #expect(statistics.sendsOverBudget == failures)
            try await pair.shutdown()
        }

        /// SCTP garbage inside what would be valid DTLS: random bytes, truncated and bit-flipped
        /// copies of real packets, wrong ports; then packets with valid checksums and random
        /// chunks. Nothing crashes, checksum and length failures are counted, the victim keeps
        /// working after the first kind, and a second session never notices any of it.
        @Test func sctpGarbageIsDroppedAndCountedAndOtherSessionsAreUnaffected() async throws {
            let victim = try LoopbackPair()
            let bystander = try LoopbackPair()
            for pair in [victim, bystander] {
                try await pair.run { pair in _ = try pair.client.openChannel(label: "river") }
                #expect(try await pair.wait { $0.opened[.server]?.count == 1 })
            }
            let garbageCount = try await victim.run { pair -> Int in
                var rng = SplitMix64(seed: 4960)
                let real = pair.packetsFrom[.client]!
                var fed = 0
                for i in 0..<600 {
                    var packet: [UInt8]
                    switch i % 4 {
                    case 0: packet = rng.bytes(Int(rng.next() % 1500))
                    case 1: packet = Array(real[i % real.count].prefix(Int(rng.next() % 16)))
                    case 2:
                        packet = real[i % real.count]
                        let bit = Int(rng.next() % UInt64(packet.count * 8))
                        if bit / 8 == 2 || bit / 8 == 3 {
                            packet[8] ^= 1
                        } else {
                            packet[bit / 8] ^= UInt8(1 << (bit % 8))
                        }
                    default:
                        packet = real[i % real.count]
                        packet[3] ^= 0x10  // destination port 5000 -> another port
                    }
                    pair.server.receive(packet)
                    fed += 1
                }
                return fed
            }
            #expect(try await victim.run { $0.server.statistics.malformedPackets } == garbageCount)
            try await victim.run { pair in try pair.client.channels[0]!.send(.text("after garbage")) }
            #expect(try await victim.wait { $0.received[.server]?.last?.message == .text("after garbage") })

            // Deeper: well-formed packets (ports, checksum, even the right verification tag) with
            // random chunks. This reaches usrsctp's parser; the association may legitimately die
            // of it (a forged ABORT or FORWARD-TSN may do that), the process may not.
            try await victim.run { pair in
                var rng = SplitMix64(seed: 6458)
                let tag = Array(pair.packetsFrom[.client]!.last!.dropFirst(4).prefix(4))
                for i in 0..<2000 {
                    var packet: [UInt8] =
                        [0x13, 0x88, 0x13, 0x88] + (i % 3 == 0 ? rng.bytes(4) : tag) + [0, 0, 0, 0]
                    for _ in 0..<(1 + Int(rng.next() % 3)) {
                        let body = rng.bytes(Int(rng.next() % 64))
                        let types: [UInt8] = [
                            0, 3, 4, 5, 9, 0x0C, 0x40, 0x80, 0x82, 0xC0,
                            UInt8(truncatingIfNeeded: rng.next()),
                        ]
                        let type = types[Int(rng.next() % UInt64(types.count))]
                        let length = 4 + body.count
                        packet +=
                            [
                                type, UInt8(truncatingIfNeeded: rng.next()), UInt8(length >> 8),
                                UInt8(length & 0xFF),
                            ] + body
                        packet += [UInt8](repeating: 0, count: (4 - length % 4) % 4)
                    }
                    let crc = packet.withUnsafeMutableBytes { usrsctp_crc32c($0.baseAddress, $0.count) }
                    withUnsafeBytes(of: crc) { packet.replaceSubrange(8..<12, with: $0) }
                    pair.server.receive(packet)
                }
            }
            // The bystander session never saw any of it and still works both ways.
            try await bystander.run { pair in
                try pair.client.channels[0]!.send(.text("ping"))
                try pair.server.channels[0]!.send(.text("pong"))
            }
            #expect(
                try await bystander.wait {
                    $0.received[.server]?.count == 1 && $0.received[.client]?.count == 1
                })
            let untouched = try await bystander.run {
                ($0.server.statistics, $0.client.statistics, $0.server.state)
            }
            #expect(
                untouched.0.malformedPackets == 0 && untouched.0.malformedDCEP == 0
                    && untouched.0.unknownPPID == 0)
            #expect(untouched.1.malformedPackets == 0)
            #expect(untouched.2 == .connected)
            try await victim.shutdown()
            try await bystander.shutdown()
        }
    }
}
