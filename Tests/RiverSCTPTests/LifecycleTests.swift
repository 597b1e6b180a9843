import Testing

@testable import RiverSCTP

extension LiveAssociationTests {
    @Suite struct Lifecycle {
        @Test func closingAChannelFromEitherSideResetsBothDirectionsAndFreesTheID() async throws {
            let pair = try LoopbackPair()
            try await pair.run { pair in
                _ = try pair.client.openChannel(label: "from-client")
                _ = try pair.server.openChannel(label: "from-server")
            }
            #expect(try await pair.wait { $0.opened[.server]?.count == 1 && $0.opened[.client]?.count == 1 })
            #expect(try await pair.run { ($0.client.openChannelCount, $0.server.openChannelCount) } == (2, 2))

            // The client closes its own channel; a message queued just before still arrives.
            try await pair.run { pair in
                let channel = pair.client.channels[0]!
                try channel.send(.text("last words"))
                channel.close()
                #expect(channel.state == .closing)
                #expect(throws: DataChannelError.closed(channel: 0)) { try channel.send(.text("too late")) }
            }
            #expect(
                try await pair.wait { $0.channelsClosed[.client] == [0] && $0.channelsClosed[.server] == [0] }
            )
            #expect(try await pair.run { $0.received[.server]!.map(\.message) } == [.text("last words")])

            // The server closes the client's... no: the server closes its own, the client answers.
            try await pair.run { pair in pair.server.channels[1]!.close() }
            #expect(
                try await pair.wait {
                    $0.channelsClosed[.client] == [0, 1] && $0.channelsClosed[.server] == [0, 1]
                })
            #expect(try await pair.run { ($0.client.openChannelCount, $0.server.openChannelCount) } == (0, 0))

            // A peer's channel can also be closed by the side that did not open it.
            try await pair.run { pair in _ = try pair.client.openChannel(label: "again") }
            #expect(try await pair.wait { $0.opened[.server]?.count == 2 })
            let reused = try await pair.run { pair in
                let channel = pair.server.channels[0]!
                channel.close()
                return channel.label
            }
            #expect(reused == "again")  // id 0 was free again
            #expect(
                try await pair.wait {
                    $0.channelsClosed[.client] == [0, 1, 0] && $0.channelsClosed[.server] == [0, 1, 0]
                })
            #expect(try await pair.run { ($0.client.openChannelCount, $0.server.openChannelCount) } == (0, 0))
            #expect(try await pair.run { $0.offQueueCallbacks } == 0)
            try await pair.shutdown()
        }

        @Test func closingTheSessionFreesTheAssociationOnBothEnds() async throws {
            let baseline = SCTPAssociation.liveCount
            let establishedBaseline = SCTPAssociation.usrsctpEstablishedCount
            let pair = try LoopbackPair()
            #expect(SCTPAssociation.liveCount == baseline + 2)
            try await pair.run { pair in _ = try pair.client.openChannel(label: "river") }
            #expect(try await pair.connect())
            #expect(SCTPAssociation.usrsctpEstablishedCount == establishedBaseline + 2)

            // The server's session ends: its close sends an ABORT, the client learns of it.
            let afterServerClose = try await pair.run { pair in
                pair.server.close()
                return SCTPAssociation.liveCount
            }
            #expect(afterServerClose == baseline + 1)
            #expect(try await pair.wait { $0.closedReasons[.client] == [.peerClosed] })
            let clientState = try await pair.run {
                ($0.client.state, $0.client.openChannelCount, $0.channelsClosed[.client])
            }
            #expect(clientState.0 == .closed)
            #expect(clientState.1 == 0)
            #expect(clientState.2 == [0])
            #expect(SCTPAssociation.liveCount == baseline)
            // usrsctp itself let go of both associations, not just our bookkeeping.
            #expect(
                try await pair.wait { _ in SCTPAssociation.usrsctpEstablishedCount == establishedBaseline })
            // Sending on a closed association is refused, not crashed.
            let refused = try await pair.run { pair -> Bool in
                do {
                    _ = try pair.client.openChannel(label: "x")
                    return false
                } catch let error as DataChannelError { return error == .associationClosed }
            }
            #expect(refused)
            try await pair.shutdown()
        }

        @Test func pausedReadingHoldsMessagesInSCTPUntilResumed() async throws {
            let pair = try LoopbackPair()
            try await pair.run { pair in _ = try pair.client.openChannel(label: "river") }
            #expect(try await pair.wait { $0.opened[.server]?.count == 1 })
            try await pair.run { pair in
                pair.server.isReadingPaused = true
                for i in 0..<50 {
                    try pair.client.channels[0]!.send(.binary([UInt8](repeating: UInt8(i), count: 10_000)))
                }
            }
            try await Task.sleep(for: .milliseconds(300))
            #expect(try await pair.run { $0.received[.server]?.count ?? 0 } == 0)
            try await pair.run { $0.server.isReadingPaused = false }
            #expect(try await pair.wait { $0.received[.server]?.count == 50 })
            let order = try await pair.run { $0.received[.server]!.map { $0.message.payload[0] } }
            #expect(order == (0..<50).map { UInt8($0) })
            try await pair.shutdown()
        }

        @Test func echoWithASmallBufferPausesReadingInsteadOfGrowing() async throws {
            var server = SCTPConfiguration(role: .server)
            server.sendBufferSize = 32 << 10
            server.bufferedAmountLimit = 64 << 10
            server.bufferedAmountLowThreshold = 16 << 10
            let pair = try LoopbackPair(server: server)
            let messages = (0..<300).map { i in
                DataChannelMessage.binary([UInt8](repeating: UInt8(i % 256), count: 8_000 + i))
            }
            try await pair.run { pair in
                pair.echoServer = true
                let channel = try pair.client.openChannel(label: "river")
                channel.bufferedAmountLimit = 16 << 20
                for message in messages { try channel.send(message) }
            }
            #expect(try await pair.wait(seconds: 60) { $0.received[.client]?.count == messages.count })
            #expect(try await pair.run { $0.received[.client]!.map(\.message) } == messages)
            // The echo hit its limit and waited for low water rather than buffering everything.
            #expect(try await pair.run { $0.lowWater[.server]?.isEmpty == false })
            #expect(try await pair.run { $0.server.isReadingPaused } == false)
            try await pair.shutdown()
        }

        @Test func manySessionsComeAndGoWithoutLeaking() async throws {
            let channelBaseline = SCTPAssociation.channelCount
            let baseline = SCTPAssociation.liveCount
            let establishedBaseline = SCTPAssociation.usrsctpEstablishedCount
            for round in 0..<20 {
                let pair = try LoopbackPair()
                try await pair.run { pair in try pair.client.openChannel(label: "r\(round)").send(.text("hi"))
                }
                #expect(try await pair.wait { $0.received[.server]?.count == 1 })
                try await pair.shutdown()
            }
            #expect(SCTPAssociation.liveCount == baseline)
            #expect(SCTPAssociation.channelCount == channelBaseline)
            #expect(
                try await LoopbackPair.waitUntil {
                    SCTPAssociation.usrsctpEstablishedCount == establishedBaseline
                })
        }

        @Test func bufferedAmountIsBoundedAndReportsLowWater() async throws {
            var server = SCTPConfiguration(role: .server)
            server.sendBufferSize = 64 << 10
            server.bufferedAmountLimit = 256 << 10
            server.bufferedAmountLowThreshold = 64 << 10
            let pair = try LoopbackPair(server: server)
            try await pair.run { pair in _ = try pair.server.openChannel(label: "results") }
            #expect(try await pair.wait { $0.opened[.client]?.count == 1 })

            // The browser stops reading (nothing comes back from it): we may only queue up to the limit.
            let accepted = try await pair.run { pair -> (Int, Int, Bool) in
                pair.hold(.client, true)
                let channel = pair.server.channels[1]!
                var accepted = 0
                var refusedWithBufferFull = false
                for i in 0..<100 {
                    do {
                        try channel.send(.binary([UInt8](repeating: UInt8(i), count: 32 << 10)))
                        accepted += 1
                    } catch DataChannelError.bufferFull(let amount, let limit) {
                        refusedWithBufferFull = amount <= limit && limit == 256 << 10
                        break
                    }
                }
                return (accepted, channel.bufferedAmount, refusedWithBufferFull)
            }
            #expect(accepted.2)
            #expect(accepted.1 <= 256 << 10)
            #expect(accepted.1 > (256 << 10) - (32 << 10))
            // usrsctp took about its send buffer's worth; the rest waited in our queue.
            #expect(accepted.0 < 20)
            #expect(try await pair.run { $0.lowWater[.server] ?? [] }.isEmpty)

            try await pair.run { $0.hold(.client, false) }
            #expect(try await pair.wait(seconds: 60) { $0.received[.client]?.count == accepted.0 })
            #expect(try await pair.run { $0.lowWater[.server] } == [1])
            #expect(try await pair.run { $0.server.channels[1]!.bufferedAmount } == 0)
            let order = try await pair.run { $0.received[.client]!.map { $0.message.payload.first! } }
            #expect(order == (0..<accepted.0).map { UInt8($0) })
            try await pair.shutdown()
        }

        @Test func messagesLargerThanTheLimitsAreRefusedOrDropped() async throws {
            var client = SCTPConfiguration(role: .client)
            client.peerMaxMessageSize = 0  // pretend the peer allows anything
            var server = SCTPConfiguration(role: .server)
            server.maxMessageSize = 64 << 10
            let pair = try LoopbackPair(client: client, server: server)
            try await pair.run { pair in
                let channel = try pair.client.openChannel(label: "big")
                try channel.send(.binary([UInt8](repeating: 1, count: 100 << 10)))
                try channel.send(.binary([UInt8](repeating: 2, count: 64 << 10)))
                // The server honours the client's (default 256 KiB) max-message-size.
                _ = try pair.server.openChannel(label: "s")
            }
            #expect(try await pair.wait { $0.received[.server]?.count == 1 })
            #expect(try await pair.run { $0.received[.server]![0].message.payload.first } == 2)
            #expect(try await pair.run { $0.server.statistics.oversizedMessages } == 1)
            let refusal = try await pair.run { pair -> DataChannelError? in
                do {
                    try pair.server.channels[1]!.send(.binary([UInt8](repeating: 0, count: (256 << 10) + 1)))
                    return nil
                } catch let error as DataChannelError { return error }
            }
            #expect(refusal == .messageTooLarge(size: (256 << 10) + 1, limit: 256 << 10))
            try await pair.shutdown()
        }
    }
}

extension LoopbackPair {
    /// Polls a process-wide condition (generous timeout for a loaded CI box).
    static func waitUntil(seconds: Double = 20, _ condition: @Sendable () -> Bool) async throws -> Bool {
        let deadline = ContinuousClock.now + .milliseconds(Int(seconds * 1000))
        while ContinuousClock.now < deadline {
            if condition() { return true }
            try await Task.sleep(for: .milliseconds(10))
        }
        return condition()
    }
}
