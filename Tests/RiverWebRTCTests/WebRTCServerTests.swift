import NIOCore
import RiverDTLS
import RiverICE
import RiverRTP
import RiverSCTP
import RiverSession
import Testing

@testable import RiverWebRTC

@Suite struct WebRTCServerTests {
    static func startServer(consent: Duration = .seconds(10)) async throws -> WebRTCServer {
        try await WebRTCServer.bind(.init(host: "127.0.0.1", port: 0, consentTimeout: consent))
    }

    /// Opens a reflect session expecting `peer`'s ufrag and certificate, its events going to `log`.
    @discardableResult
    static func session(
        on server: WebRTCServer, for peer: FakePeer, id: String, log: EventLog,
        configure: (inout SessionConfiguration) -> Void = { _ in }
    ) async throws -> SessionConfiguration {
        var session = peer.sessionConfiguration(id: id)
        configure(&session)
        try await server.open(session, onEvent: log.handler)
        return session
    }

    /// `sent` as a reflect session sends it back: the same packet on the session's outgoing SSRC,
    /// renumbered (the sequence is checked by the caller).
    static func expectReflection(
        _ back: RTPPacket?, of sent: RTPPacket, on session: SessionConfiguration,
        sourceLocation: SourceLocation = #_sourceLocation
    ) throws {
        let back = try #require(
            back, "packet \(sent.sequenceNumber) did not come back", sourceLocation: sourceLocation)
        var expected = sent
        expected.ssrc = session.outgoingSSRC
        expected.sequenceNumber = back.sequenceNumber
        #expect(back == expected, sourceLocation: sourceLocation)
    }

    static func counters(of id: String, on server: WebRTCServer) async throws -> SessionEngine.Counters {
        let live = try await server.sessionCounters()
        return try #require(live[id], "no live session \(id)")
    }

    @Test func connectsAndCarriesSRTPBothWays() async throws {
        let server = try await Self.startServer()
        let peer = try await FakePeer(
            server: server.localAddress, certificate: try DTLSCertificate(commonName: "peer"))
        defer {
            Task {
                await peer.close()
                try? await server.shutdown()
            }
        }
        let log = EventLog()
        let session = try await Self.session(on: server, for: peer, id: "a", log: log)
        #expect(try await server.sessionCount() == 1)
        #expect(try await server.routeCount() == 1, "the ufrag only, until a check authenticates")
        try await peer.connect(to: session)
        #expect(peer.srtp != nil)
        #expect(await waitUntil { log.contains(.connected) })
        #expect(log.contains(.addressAuthenticated(peer.transportAddress)))
        #expect(try await server.routeCount() == 2, "the ufrag and the peer's address")

        // SRTP both ways: the reflect session sends the stream straight back on its own SSRC.
        let first = try await peer.sendRTP(sequence: 1)
        let firstBack = try await peer.receiveRTP()
        try Self.expectReflection(firstBack, of: first, on: session)
        let second = try await peer.sendRTP(sequence: 2)
        let secondBack = try await peer.receiveRTP()
        try Self.expectReflection(secondBack, of: second, on: session)
        #expect(
            secondBack?.sequenceNumber == firstBack.map { $0.sequenceNumber &+ 1 }, "one continuous stream")

        // Another payload type than the negotiated one is not reflected.
        try await peer.sendRTP(sequence: 3, payloadType: 96)
        #expect(try await peer.receiveRTP(timeout: .milliseconds(300)) == nil)

        // SRTCP both ways: RR + REMB upstream on the browser's stream (armed at the engine's
        // deadline, no tick), and a PLI on our stream forwarded to the browser's.
        let report = try await peer.receiveRTCP {
            $0.contains { if case .receiverReport = $0 { true } else { false } }
        }
        let compound = try #require(report, "no receiver report")
        #expect(
            compound.contains {
                guard case .receiverReport(let rr) = $0 else { return false }
                return rr.ssrc == session.outgoingSSRC && rr.reports.map(\.ssrc) == [FakePeer.ssrc]
            })
        #expect(
            compound.contains {
                guard case .remb(let remb) = $0 else { return false }
                return remb.bitrate == session.rembBitrate && remb.ssrcs == [FakePeer.ssrc]
            })
        try await peer.sendRTCP([
            .pictureLossIndication(.init(senderSSRC: FakePeer.ssrc, mediaSSRC: session.outgoingSSRC))
        ])
        let forwarded = try await peer.receiveRTCP {
            $0.contains(
                .pictureLossIndication(.init(senderSSRC: session.outgoingSSRC, mediaSSRC: FakePeer.ssrc)))
        }
        #expect(forwarded != nil, "the PLI was not forwarded upstream")

        let counters = try await Self.counters(of: "a", on: server)
        #expect(counters.rtpReceived == 3)
        #expect(counters.rtpSent == 2)
        #expect(counters.rtcpReceived == 1)
        #expect(counters.stunAnswered == 1)
        #expect(counters.dropped == 0)

        #expect(try await server.closeSession(id: "a"))
        #expect(await waitUntil { log.contains(.closed(.local)) })
        #expect(log.closeReasons == [.local])
        #expect(try await server.sessionCount() == 0)
        #expect(try await server.routeCount() == 0)
        #expect(try await server.closeSession(id: "a") == false)
    }

    /// DTLS application data both ways, as SCTP: a reflect session with `echoDataChannels` echoes
    /// every message on the channel it came on and opens `river-server` itself.
    @Test func reflectSessionEchoesDataChannels() async throws {
        let server = try await Self.startServer()
        let peer = try await FakePeer(
            server: server.localAddress, certificate: try DTLSCertificate(commonName: "dc"))
        defer {
            Task {
                await peer.close()
                try? await server.shutdown()
            }
        }
        let baseline = SCTPAssociation.liveCount
        let log = EventLog()
        let session = try await Self.session(on: server, for: peer, id: "dc", log: log) {
            $0.dataChannels = SCTPConfiguration(role: .server)
            $0.echoDataChannels = true
        }
        try await peer.connect(to: session)
        #expect(peer.srtp != nil)
        let client = try peer.startDataChannels()
        let echo = try await client.openChannel(label: "echo")
        try await client.send(.text("ping"), on: echo)
        let binary = (0..<3000).map { UInt8(truncatingIfNeeded: $0) }
        try await client.send(.binary(binary), on: echo)
        #expect(try await waitUntil { try await client.run { $0.connected } })
        #expect(await waitUntil { log.contains(.channelOpened(label: "echo")) })
        let echoed = try await waitUntil {
            try await client.run { $0.received.filter { $0.label == "echo" }.count >= 2 }
        }
        #expect(echoed)
        let received = try await client.run { $0.received }
        #expect(
            received.filter { $0.label == "echo" }.map(\.message) == [.text("ping"), .binary(binary)])
        #expect(try await client.run { $0.opened } == ["river-server"])
        #expect(
            try await waitUntil {
                try await client.run { $0.received.filter { $0.label == "river-server" }.count == 20 }
            })

        // Media still flows beside the association.
        let sent = try await peer.sendRTP(sequence: 1)
        try Self.expectReflection(try await peer.receiveRTP(), of: sent, on: session)

        #expect(try await server.closeSession(id: "dc"))
        #expect(await waitUntil { log.contains(.closed(.local)) })
        // The session's ABORT ends the browser's association too.
        #expect(try await waitUntil { try await client.run { !$0.closeReasons.isEmpty } })
        try await client.close()
        #expect(await waitUntil { SCTPAssociation.liveCount == baseline }, "an association was left behind")
        #expect(try await server.routeCount() == 0)
    }

    @Test func mediaFollowsTheNominatedAddressOnly() async throws {
        let server = try await Self.startServer()
        let peer = try await FakePeer(
            server: server.localAddress, certificate: try DTLSCertificate(commonName: "p"))
        let second = try await FakePeer(server: server.localAddress, certificate: peer.certificate)
        defer {
            Task {
                await peer.close()
                await second.close()
                try? await server.shutdown()
            }
        }
        let log = EventLog()
        let session = try await Self.session(on: server, for: peer, id: "n", log: log)
        try await peer.connect(to: session)
        let srtp = try #require(peer.srtp)
        /// The reflection of a packet the peer sends, as `receiver` gets it (decrypted with the
        /// peer's keys: the second address is the same browser).
        func reflection(of sequence: UInt16, at receiver: FakePeer, timeout: Duration = .seconds(5))
            async throws
            -> RTPPacket?
        {
            try await peer.sendRTP(sequence: sequence)
            guard let secured = await receiver.receive(.rtp, timeout: timeout) else { return nil }
            return try RTPPacket(parsing: srtp.unprotectRTP(secured))
        }
        // A valid check from another address (same peer, another candidate) without USE-CANDIDATE
        // is answered, but media stays on the nominated pair.
        try await second.send(second.bindingRequest(to: session, nominate: false, asUfrag: peer.ufrag))
        #expect(await second.receive(.stun) != nil)
        #expect(await waitUntil { log.contains(.addressAuthenticated(second.transportAddress)) })
        #expect(try await reflection(of: 1, at: peer)?.ssrc == session.outgoingSSRC)
        #expect(await second.receive(.rtp, timeout: .milliseconds(300)) == nil)
        // Nominating the new pair alone does not move media: the check might be spoofed.
        try await second.send(second.bindingRequest(to: session, nominate: true, asUfrag: peer.ufrag))
        #expect(await second.receive(.stun) != nil)
        #expect(try await reflection(of: 2, at: peer)?.ssrc == session.outgoingSSRC)
        #expect(await second.receive(.rtp, timeout: .milliseconds(300)) == nil)
        // Authenticated SRTP from the nominated address does: media moves there.
        try await second.send(
            srtp.protectRTP(
                RTPPacket(
                    marker: true, payloadType: FakePeer.payloadType, sequenceNumber: 3, timestamp: 27_000,
                    ssrc: FakePeer.ssrc, payload: [1, 2, 3]
                ).serialized()))
        _ = await second.receive(.rtp, timeout: .seconds(2))  // the reflection of that packet
        #expect(try await reflection(of: 4, at: second)?.ssrc == session.outgoingSSRC)
        #expect(await peer.receive(.rtp, timeout: .milliseconds(300)) == nil)
        #expect(try await server.routeCount() == 3, "the ufrag and both addresses")
    }

    @Test func badInputNeitherCrashesNorDisturbsAHealthySession() async throws {
        let server = try await Self.startServer()
        let healthy = try await FakePeer(
            server: server.localAddress, certificate: try DTLSCertificate(commonName: "a"))
        let attacker = try await FakePeer(
            server: server.localAddress, certificate: try DTLSCertificate(commonName: "b"))
        defer {
            Task {
                await healthy.close()
                await attacker.close()
                try? await server.shutdown()
            }
        }
        let healthyLog = EventLog()
        let attackerLog = EventLog()
        let a = try await Self.session(on: server, for: healthy, id: "healthy", log: healthyLog)
        let b = try await Self.session(on: server, for: attacker, id: "attacker", log: attackerLog)
        try await healthy.connect(to: a)
        let first = try await healthy.sendRTP(sequence: 1)
        try Self.expectReflection(try await healthy.receiveRTP(), of: first, on: a)

        // STUN with a wrong password, without MESSAGE-INTEGRITY, or naming no session: no answer.
        try await attacker.send(attacker.bindingRequest(to: b, password: "wrong-password-0123456789"))
        try await attacker.send(attacker.bindingRequest(to: b, integrity: false))
        try await attacker.send(attacker.bindingRequest(to: a))  // a's ufrag, but the attacker's remote ufrag
        #expect(await attacker.receive(.stun, timeout: .milliseconds(500)) == nil)
        let rejectedB = try await Self.counters(of: "attacker", on: server).stunRejected
        let rejectedA = try await Self.counters(of: "healthy", on: server).stunRejected
        #expect(rejectedA == 1)
        #expect(rejectedB == 2)
        #expect(try await server.counters().stunRejected == 3)
        #expect(attackerLog.authenticatedAddresses.isEmpty)
        #expect(try await server.addressCount() == 1)  // the healthy peer's; failed checks keep none

        // Random datagrams from an unknown address are dropped and counted.
        let before = try await server.counters()
        for length in [0, 1, 7, 19, 64, 1200] {
            try await attacker.send((0..<length).map { _ in UInt8.random(in: 0...255) })
        }
        for first: UInt8 in [0x80, 22, 0x00, 0xC0] {
            try await attacker.send([first] + (0..<30).map { _ in UInt8.random(in: 0...255) })
        }
        #expect(
            await waitUntil {
                let now = (try? await server.counters()) ?? before
                return now.droppedUnknownKind + now.droppedUnrouted
                    - before.droppedUnknownKind - before.droppedUnrouted == 10
            })
        // The healthy peer's own address sends truncated RTP, RTCP and DTLS records.
        let good = try #require(healthy.srtp).protectRTP(
            RTPPacket(payloadType: 102, sequenceNumber: 2, timestamp: 0, ssrc: 1, payload: [9, 9, 9])
                .serialized())
        for truncated in [
            Array(good.prefix(5)), Array(good.prefix(14)), [0x81, 201, 0], [0x80, 200, 0, 6, 1, 2, 3, 4, 5],
            [22, 0xFE, 0xFD, 0, 0], [23, 0xFE, 0xFD] + [UInt8](repeating: 0, count: 20),
        ] {
            try await healthy.send(truncated)
        }
        // The four SRTP/SRTCP ones fail authentication in the healthy session and are counted.
        #expect(
            try await waitUntil { try await Self.counters(of: "healthy", on: server).droppedSRTP == 4 })

        // The wrong-fingerprint peer authenticates ICE but fails DTLS: only its session closes.
        let impostor = try DTLSCertificate(commonName: "impostor")
        let wrongPeer = FakePeerIdentity(peer: attacker, certificate: impostor)
        try await wrongPeer.connect(to: b)
        #expect(await waitUntil { attackerLog.failedDTLS })
        #expect(!attackerLog.contains(.connected))

        // The healthy session still works both ways.
        let later = try await healthy.sendRTP(sequence: 3)
        try Self.expectReflection(try await healthy.receiveRTP(), of: later, on: a)
        #expect(!healthyLog.isClosed)
        let counters = try await server.counters()
        #expect(counters.droppedUnknownKind + counters.droppedUnrouted >= 10)
        #expect(counters.droppedBySessions >= 4)
        #expect(counters.stunRejected == 3)
        #expect(try await server.sessionCount() == 1)
        let healthyCounters = try await Self.counters(of: "healthy", on: server)
        #expect(healthyCounters.rtpReceived == 2)
        #expect(healthyCounters.rtpSent == 2)
        #expect(healthyCounters.droppedSRTP == 4)
    }

    /// Random datagrams of every first-byte class from the peer's own, authenticated address reach
    /// the session's SRTP, SRTCP and DTLS code, not just the demux.
    @Test func randomDatagramsFromAnAuthenticatedAddressAreDroppedAndCounted() async throws {
        let server = try await Self.startServer()
        let peer = try await FakePeer(
            server: server.localAddress, certificate: try DTLSCertificate(commonName: "r"))
        defer {
            Task {
                await peer.close()
                try? await server.shutdown()
            }
        }
        let log = EventLog()
        let session = try await Self.session(on: server, for: peer, id: "random", log: log)
        try await peer.connect(to: session)
        var generator = SystemRandomNumberGenerator()
        for i in 0..<3000 {
            let length = Int.random(in: 1...1300, using: &generator)
            var datagram = (0..<length).map { _ in UInt8.random(in: 0...255, using: &generator) }
            // Bias towards the classes that reach parsers: RTP/RTCP (128…191) and DTLS (20…63).
            switch i % 3 {
            case 0: datagram[0] = 0x80 | (datagram[0] & 0x3F)
            case 1: datagram[0] = UInt8.random(in: 20...63, using: &generator)
            default: break
            }
            try await peer.send(datagram)
            if i % 200 == 0 { try await Task.sleep(for: .milliseconds(5)) }
        }
        let later = try await peer.sendRTP(sequence: 50)
        try Self.expectReflection(try await peer.receiveRTP(), of: later, on: session)
        #expect(!log.isClosed)
        let counters = try await Self.counters(of: "random", on: server)
        #expect(counters.dropped > 1000, "only \(counters.dropped) of 3000 random datagrams were counted")
        #expect(counters.rtpReceived == 1)
        #expect(try await server.counters().droppedBySessions == counters.dropped)
    }

    @Test func silentSessionExpiresAndFreesItsRoutes() async throws {
        let server = try await Self.startServer(consent: .seconds(1))
        let peer = try await FakePeer(
            server: server.localAddress, certificate: try DTLSCertificate(commonName: "s"))
        defer {
            Task {
                await peer.close()
                try? await server.shutdown()
            }
        }
        let log = EventLog()
        let session = try await Self.session(on: server, for: peer, id: "silent", log: log)
        try await peer.connect(to: session)
        #expect(await waitUntil { log.contains(.connected) })
        #expect(try await server.routeCount() == 2)
        #expect(await waitUntil(timeout: .seconds(10)) { log.contains(.closed(.consentExpired)) })
        #expect(log.closeReasons == [.consentExpired])
        #expect(try await server.sessionCount() == 0)
        #expect(try await server.routeCount() == 0)
        // Its address is no longer routed: media from it is dropped by the demux.
        let before = try await server.counters().droppedUnrouted
        try await peer.sendRTP(sequence: 1)
        #expect(await waitUntil { (try? await server.counters().droppedUnrouted) == before + 1 })
    }

    @Test func fiftyConnectDisconnectCyclesEndWithZeroSessions() async throws {
        let server = try await Self.startServer()
        defer { Task { try? await server.shutdown() } }
        let certificate = try DTLSCertificate(commonName: "cycler")
        for cycle in 0..<50 {
            let peer = try await FakePeer(server: server.localAddress, certificate: certificate)
            let log = EventLog()
            let id = "c\(cycle)"
            let session = try await Self.session(on: server, for: peer, id: id, log: log)
            try await peer.connect(to: session)
            #expect(peer.srtp != nil, "cycle \(cycle) did not connect")
            let expected: SessionCloseReason
            if cycle % 2 == 0 {
                #expect(try await server.closeSession(id: id))
                expected = .local
            } else {
                // The peer hangs up with DTLS close_notify.
                let client = try #require(peer.dtls)
                client.close()
                for datagram in client.takeOutgoing() { try await peer.send(datagram) }
                expected = .remoteClosed
            }
            #expect(await waitUntil { log.isClosed }, "cycle \(cycle) did not close")
            #expect(log.closeReasons == [expected], "cycle \(cycle)")
            await peer.close()
        }
        #expect(try await server.sessionCount() == 0)
        #expect(try await server.routeCount() == 0)
    }
}

/// Re-uses a peer's ufrag with a different certificate and socket (the wrong-fingerprint attacker).
struct FakePeerIdentity {
    let peer: FakePeer
    let certificate: DTLSCertificate

    func connect(to session: SessionConfiguration) async throws {
        let impostor = try await FakePeer(server: peer.server, certificate: certificate)
        defer { Task { await impostor.close() } }
        // Same ICE ufrag as the real peer so ICE passes; only DTLS can tell them apart.
        try await impostor.send(peer.bindingRequest(to: session))
        _ = await impostor.receive(.stun)
        let client = try DTLSEndpoint(role: .client, certificate: certificate, expectedPeerFingerprint: nil)
        _ = client.start()
        for _ in 0..<10 {
            for datagram in client.takeOutgoing() { try await impostor.send(datagram) }
            guard let reply = await impostor.receive(.dtls, timeout: .seconds(2)) else { break }
            _ = client.receive(reply)
        }
        for datagram in client.takeOutgoing() { try await impostor.send(datagram) }
    }
}
