import NIOCore
import RiverDTLS
import RiverRTP
import Testing

@testable import RiverWebRTC

@Suite struct WebRTCServerTests {
    static func startServer(consent: Duration = .seconds(10)) async throws -> WebRTCServer {
        try await WebRTCServer.bind(.init(host: "127.0.0.1", port: 0, consentTimeout: consent))
    }

    /// Creates and registers a session expecting `peer`'s certificate.
    static func session(on server: WebRTCServer, for peer: FakePeer, id: String, log: EventLog) async throws
        -> PeerConnection
    {
        let connection = try server.makePeerConnection(
            id: id, remoteUfrag: peer.ufrag,
            remoteFingerprint: peer.certificate.fingerprint)
        try await server.eventLoop.submit {
            log.attach(to: connection)
            server.register(connection)
        }.get()
        return connection
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
        let connection = try await Self.session(on: server, for: peer, id: "a", log: log)
        try await peer.connect(to: connection)
        #expect(peer.srtp != nil)
        #expect(await waitUntil { log.contains("connected") })

        let sent = try await peer.sendRTP(sequence: 1)
        #expect(await waitUntil { log.packets.withLockedValue { $0 } == [sent] })

        let back = RTPPacket(
            payloadType: 96, sequenceNumber: 7, timestamp: 1, ssrc: 0xABCD, payload: [1, 2, 3])
        try await server.eventLoop.submit { connection.send(rtp: back) }.get()
        let secured = try #require(await peer.receive(.rtp))
        #expect(try RTPPacket(parsing: try #require(peer.srtp).unprotectRTP(secured)) == back)

        // DTLS application data (what SCTP rides on) both ways.
        let client = try #require(peer.dtls)
        try client.send(Array("ping".utf8))
        for datagram in client.takeOutgoing() { try await peer.send(datagram) }
        #expect(await waitUntil { log.contains("data ping") })
        try await server.eventLoop.submit { try connection.send(applicationData: Array("pong".utf8)) }.get()
        let record = try #require(await peer.receive(.dtls))
        #expect(client.receive(record) == [.applicationData(Array("pong".utf8))])

        try await server.eventLoop.submit { connection.close() }.get()
        #expect(await waitUntil { log.contains("closed local") })
        #expect(try await server.sessionCount() == 0)
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
        let connection = try await Self.session(on: server, for: peer, id: "n", log: log)
        try await peer.connect(to: connection)
        let packet = RTPPacket(payloadType: 96, sequenceNumber: 1, timestamp: 1, ssrc: 5, payload: [4])
        func sendFromServer() async throws {
            try await server.eventLoop.submit { connectionSend(connection, packet) }.get()
        }
        // A valid check from another address (same peer, another candidate) without USE-CANDIDATE
        // is answered, but media stays on the nominated pair.
        try await second.send(second.bindingRequest(to: connection, nominate: false, asUfrag: peer.ufrag))
        #expect(await second.receive(.stun) != nil)
        try await sendFromServer()
        #expect(await peer.receive(.rtp) != nil)
        #expect(await second.receive(.rtp, timeout: .milliseconds(300)) == nil)
        // Nominating the new pair moves media there.
        try await second.send(second.bindingRequest(to: connection, nominate: true, asUfrag: peer.ufrag))
        #expect(await second.receive(.stun) != nil)
        try await sendFromServer()
        #expect(await second.receive(.rtp) != nil)
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
        _ = try await healthy.sendRTP(sequence: 1)
        #expect(await waitUntil { healthyLog.packets.withLockedValue { $0.count } == 1 })

        // STUN with a wrong password, without MESSAGE-INTEGRITY, or naming no session: no answer.
        try await attacker.send(attacker.bindingRequest(to: b, password: "wrong-password-0123456789"))
        try await attacker.send(attacker.bindingRequest(to: b, integrity: false))
        try await attacker.send(attacker.bindingRequest(to: a))  // a's ufrag, but the attacker's remote ufrag
        #expect(await attacker.receive(.stun, timeout: .milliseconds(500)) == nil)
        let rejected = try await server.eventLoop.submit { b.counters.stunRejected + a.counters.stunRejected }
            .get()
        #expect(rejected == 3)

        // Random datagrams from an unknown address are dropped and counted.
        for length in [0, 1, 7, 19, 64, 1200] {
            try await attacker.send((0..<length).map { _ in UInt8.random(in: 0...255) })
        }
        for first: UInt8 in [0x80, 22, 0x00, 0xC0] {
            try await attacker.send([first] + (0..<30).map { _ in UInt8.random(in: 0...255) })
        }
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

        // The wrong-fingerprint peer authenticates ICE but fails DTLS: only its session closes.
        let impostor = try DTLSCertificate(commonName: "impostor")
        let wrongPeer = FakePeerIdentity(peer: attacker, certificate: impostor)
        try await wrongPeer.connect(to: b)
        #expect(await waitUntil { attackerLog.contains("closed dtlsFailed") })

        // The healthy session still works both ways.
        let later = try await healthy.sendRTP(sequence: 3)
        #expect(await waitUntil { healthyLog.packets.withLockedValue { $0.last } == later })
        #expect(!healthyLog.contains("closed"))
        try await server.eventLoop.submit {
            connectionSend(
                a, RTPPacket(payloadType: 96, sequenceNumber: 1, timestamp: 1, ssrc: 5, payload: [4]))
        }.get()
        #expect(await healthy.receive(.rtp) != nil)
        let counters = try await server.counters()
        #expect(counters.droppedUnknownKind + counters.droppedUnrouted >= 8)
        #expect(try await server.sessionCount() == 1)
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
        let connection = try await Self.session(on: server, for: peer, id: "random", log: log)
        try await peer.connect(to: connection)
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
        #expect(await waitUntil { log.packets.withLockedValue { $0.last } == later })
        #expect(!log.contains("closed"))
        let dropped = try await server.eventLoop.submit { connection.counters.dropped }.get()
        #expect(dropped > 1000, "only \(dropped) of 3000 random datagrams were counted")
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
        let connection = try await Self.session(on: server, for: peer, id: "silent", log: log)
        try await peer.connect(to: connection)
        #expect(await waitUntil { log.contains("connected") })
        #expect(await waitUntil(timeout: .seconds(10)) { log.contains("closed consentExpired") })
        #expect(try await server.routeCount() == 0)
    }

    @Test func fiftyConnectDisconnectCyclesEndWithZeroSessions() async throws {
        let server = try await Self.startServer()
        defer { Task { try? await server.shutdown() } }
        let certificate = try DTLSCertificate(commonName: "cycler")
        for cycle in 0..<50 {
            let peer = try await FakePeer(server: server.localAddress, certificate: certificate)
            let log = EventLog()
            let connection = try await Self.session(on: server, for: peer, id: "c\(cycle)", log: log)
            try await peer.connect(to: connection)
            #expect(peer.srtp != nil, "cycle \(cycle) did not connect")
            if cycle % 2 == 0 {
                try await server.eventLoop.submit { connection.close() }.get()
            } else {
                // The peer hangs up with DTLS close_notify.
                let client = try #require(peer.dtls)
                client.close()
                for datagram in client.takeOutgoing() { try await peer.send(datagram) }
            }
            #expect(await waitUntil { log.contains("closed") }, "cycle \(cycle) did not close")
            await peer.close()
        }
        #expect(try await server.sessionCount() == 0)
        #expect(try await server.routeCount() == 0)
    }
}

private func connectionSend(_ connection: PeerConnection, _ packet: RTPPacket) {
    connection.send(rtp: packet)
}

/// Re-uses a peer's socket and ufrag with a different certificate (the wrong-fingerprint attacker).
struct FakePeerIdentity {
    let peer: FakePeer
    let certificate: DTLSCertificate

    func connect(to connection: PeerConnection) async throws {
        let impostor = try await FakePeer(server: peer.server, certificate: certificate)
        defer { Task { await impostor.close() } }
        // Same ICE ufrag as the real peer so ICE passes; only DTLS can tell them apart.
        try await impostor.send(bindingRequestFrom(peer: peer, via: connection))
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

    private func bindingRequestFrom(peer: FakePeer, via connection: PeerConnection) -> [UInt8] {
        peer.bindingRequest(to: connection)
    }
}
