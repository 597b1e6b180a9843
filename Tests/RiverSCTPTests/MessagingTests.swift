import Testing

@testable import RiverSCTP

extension LiveAssociationTests {
    @Suite struct Messaging {
        @Test func channelsOpenFromBothSidesWithParityByDTLSRole() async throws {
            let pair = try LoopbackPair()
            let ids = try await pair.run { pair in
                let river = try pair.client.openChannel(label: "river")
                let results = try pair.server.openChannel(
                    DataChannelParameters(label: "results", protocol: "json"))
                let second = try pair.server.openChannel(label: "second")
                return [river.id, results.id, second.id]
            }
            // RFC 8832 §6: the DTLS client picks even ids, the DTLS server odd ones.
            #expect(ids == [0, 1, 3])
            #expect(try await pair.connect())
            #expect(try await pair.wait { $0.opened[.server]?.count == 1 && $0.opened[.client]?.count == 2 })
            let seen = try await pair.run { pair in
                (
                    pair.opened[.server]!.map { "\($0.id):\($0.label):\($0.openedByPeer)" },
                    pair.opened[.client]!.map {
                        "\($0.id):\($0.label):\($0.parameters.protocol):\($0.state)"
                    },
                    pair.client.channels[0]!.state, pair.client.channels[0]!.acknowledged
                )
            }
            #expect(seen.0 == ["0:river:true"])
            #expect(seen.1 == ["1:results:json:open", "3:second::open"])
            #expect(seen.2 == .open)
            #expect(try await pair.wait { $0.client.channels[0]!.acknowledged })
            #expect(try await pair.run { $0.offQueueCallbacks } == 0)
            try await pair.shutdown()
        }

        @Test func mixedMessagesUpTo256KiBArriveInOrderByteIdentical() async throws {
            let pair = try LoopbackPair()
            var messages = mixedMessages(count: 300, seed: 1)
            messages.append(.binary(randomBytes(256 << 10, seed: 2)))
            messages.append(.text(String(repeating: "x", count: 256 << 10)))
            messages.append(.binary([]))
            let toSend = messages
            try await pair.run { pair in
                let channel = try pair.client.openChannel(label: "river")
                for message in toSend { try channel.send(message) }
            }
            #expect(try await pair.wait(seconds: 60) { $0.received[.server]?.count == toSend.count })
            let got = try await pair.run { $0.received[.server]!.map(\.message) }
            #expect(got.count == messages.count)
            for (index, (sent, received)) in zip(messages, got).enumerated() where sent != received {
                Issue.record(
                    "message \(index) differs: sent \(sent.kind) \(sent.payload.count) B, got \(received.kind) \(received.payload.count) B"
                )
                break
            }
            // The server echoes everything back on the same channel, the way `serve --reflect` will.
            try await pair.run { pair in
                let channel = pair.server.channels[0]!
                for message in toSend { try channel.send(message) }
            }
            #expect(try await pair.wait(seconds: 60) { $0.received[.client]?.count == toSend.count })
            #expect(try await pair.run { $0.received[.client]!.map(\.message) } == messages)
            let stats = try await pair.run { ($0.client.statistics, $0.server.statistics) }
            #expect(stats.0.messagesSent == messages.count && stats.1.messagesReceived == messages.count)
            #expect(stats.1.bytesReceived == messages.reduce(0) { $0 + $1.payload.count })
            #expect(try await pair.run { $0.offQueueCallbacks } == 0)
            try await pair.shutdown()
        }

        @Test func emptyMessagesTravelWithTheEmptyPPIDs() async throws {
            let pair = try LoopbackPair()
            try await pair.run { pair in
                let channel = try pair.client.openChannel(label: "e")
                try channel.send(.text(""))
                try channel.send(.binary([]))
                try channel.send(.text("a"))
                try channel.send(.binary([1]))
            }
            #expect(try await pair.wait { $0.received[.server]?.count == 4 })
            #expect(
                try await pair.run { $0.received[.server]!.map(\.message) } == [
                    .text(""), .binary([]), .text("a"), .binary([1]),
                ])
            let ppids = try await pair.run { dataChunks(in: $0.packetsFrom[.client]!).map(\.ppid) }
            // DCEP OPEN, then the four messages (RFC 8831 §8: 56/57 empty, 51/53 otherwise).
            #expect(ppids.filter { $0 != 50 } == [56, 57, 51, 53])
            try await pair.shutdown()
        }

        @Test func channelParametersReachThePeerAndDriveSCTP() async throws {
            let pair = try LoopbackPair()
            let kinds: [DataChannelParameters] = [
                .init(label: "ordered-reliable"),
                .init(label: "unordered", ordered: false),
                .init(label: "rtx", ordered: false, reliability: .maxRetransmits(2)),
                .init(
                    label: "ttl", ordered: true, reliability: .maxPacketLifeTime(milliseconds: 500),
                    priority: 128),
            ]
            try await pair.run { pair in for k in kinds { _ = try pair.client.openChannel(k) } }
            #expect(try await pair.wait { $0.opened[.server]?.count == kinds.count })
            #expect(try await pair.run { $0.opened[.server]!.map(\.parameters) } == kinds)
            // Once acknowledged, the unordered channels send with the U bit (RFC 4960 §3.3.1).
            #expect(try await pair.wait { p in p.client.channels.values.allSatisfy(\.acknowledged) })
            try await pair.run { pair in
                for id: UInt16 in [0, 2, 4, 6] { try pair.client.channels[id]!.send(.text("m\(id)")) }
            }
            #expect(try await pair.wait { $0.received[.server]?.count == 4 })
            let chunks = try await pair.run {
                dataChunks(in: $0.packetsFrom[.client]!).filter { $0.ppid == 51 }
            }
            #expect(chunks.map(\.stream) == [0, 2, 4, 6])
            #expect(chunks.map(\.unordered) == [false, true, true, false])
            try await pair.shutdown()
        }

        @Test func partiallyReliableChannelGivesUpOnLostMessagesReliableOneDoesNot() async throws {
            let pair = try LoopbackPair()
            try await pair.run { pair in
                _ = try pair.client.openChannel(label: "reliable")
                _ = try pair.client.openChannel(
                    .init(label: "lossy", ordered: false, reliability: .maxRetransmits(0)))
            }
            #expect(try await pair.wait { $0.opened[.server]?.count == 2 })
            #expect(try await pair.wait { p in p.client.channels.values.allSatisfy(\.acknowledged) })
            let count = 200
            try await pair.run { pair in
                pair.dropRate[.client] = 0.2
                for i in 0..<count {
                    try pair.client.channels[2]!.send(.text("lossy \(i)"))
                    try pair.client.channels[0]!.send(.text("reliable \(i)"))
                }
            }
            #expect(
                try await pair.wait(seconds: 90) {
                    $0.received[.server]!.filter { $0.channel == 0 }.count == count
                })
            try await pair.run { $0.dropRate[.client] = 0 }
            let (reliable, lossy) = try await pair.run { pair in
                let r = pair.received[.server]!
                return (
                    r.filter { $0.channel == 0 }.map(\.message), r.filter { $0.channel == 2 }.map(\.message)
                )
            }
            #expect(reliable == (0..<count).map { .text("reliable \($0)") })
            // maxRetransmits 0 over 20 % loss: some messages are gone for good (RFC 3758), none twice.
            #expect(lossy.count < count)
            #expect(lossy.count > count / 2)
            #expect(Set(lossy).count == lossy.count)
            #expect(Set(lossy).isSubset(of: Set((0..<count).map { DataChannelMessage.text("lossy \($0)") })))
            try await pair.shutdown()
        }

        @Test func lifetimeLimitedMessagesExpireWhileTheLinkIsDown() async throws {
            let pair = try LoopbackPair()
            try await pair.run { pair in
                _ = try pair.client.openChannel(label: "reliable")
                _ = try pair.client.openChannel(
                    .init(label: "ttl", reliability: .maxPacketLifeTime(milliseconds: 50)))
            }
            #expect(try await pair.wait { $0.opened[.server]?.count == 2 })
            #expect(try await pair.wait { p in p.client.channels.values.allSatisfy(\.acknowledged) })
            try await pair.run { pair in
                pair.dropRate[.client] = 1
                for i in 0..<20 { try pair.client.channels[2]!.send(.text("ttl \(i)")) }
            }
            try await Task.sleep(for: .milliseconds(300))
            try await pair.run { pair in
                pair.dropRate[.client] = 0
                try pair.client.channels[0]!.send(.text("after"))
            }
            // The reliable message gets through once the expired ones are skipped (FORWARD-TSN).
            #expect(
                try await pair.wait(seconds: 60) {
                    $0.received[.server]?.contains { $0.channel == 0 } == true
                })
            try await Task.sleep(for: .milliseconds(200))
            #expect(try await pair.run { $0.received[.server]!.filter { $0.channel == 2 }.count } == 0)
            try await pair.shutdown()
        }

        @Test(arguments: [UInt32(1160), 1000])
        func outgoingPacketsFitTheMTUAndCarryValidChecksums(mtu: UInt32) async throws {
            var config = (client: SCTPConfiguration(role: .client), server: SCTPConfiguration(role: .server))
            config.client.mtu = mtu
            config.server.mtu = mtu
            let pair = try LoopbackPair(client: config.client, server: config.server)
            try await pair.run { pair in
                let channel = try pair.client.openChannel(label: "big")
                try channel.send(.binary(randomBytes(200_000, seed: 3)))
            }
            #expect(try await pair.wait { $0.received[.server]?.count == 1 })
            let packets = try await pair.run { $0.packetsFrom[.client]! + $0.packetsFrom[.server]! }
            #expect(packets.count > 150)
            var scratch: [UInt8] = []
            // Full packets really use the budget: the limit is met, not undershot by a header.
            #expect(packets.map(\.count).max()! > Int(mtu) - 16)
            for packet in packets {
                #expect(packet.count <= Int(mtu))
                #expect(
                    packet.withUnsafeBytes {
                        SCTPPacketCheck.validate($0, localPort: 5000, scratch: &scratch)
                    } == nil)
            }
            try await pair.shutdown()
        }
    }
}
