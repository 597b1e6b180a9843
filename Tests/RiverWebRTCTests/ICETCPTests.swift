import NIOCore
import NIOPosix
import RiverDTLS
import RiverICE
import RiverSCTP
import RiverSession
import Testing

@testable import RiverWebRTC

/// ICE over TCP (RFC 6544, RFC 4571 framing) on real sockets of 127.0.0.1: a session whose pair is
/// a TCP connection carries SRTP and data channels like a UDP one, and connections that never
/// authenticate, go over the cap or send garbage cost nothing lasting.
@Suite struct ICETCPTests {
    static func tcpAddress(of server: WebRTCServer) throws -> SocketAddress {
        try SocketAddress(ipAddress: "127.0.0.1", port: try #require(server.tcpPort))
    }

    @Test func aSessionOverTCPCarriesSRTPAndDataChannels() async throws {
        let server = try await WebRTCServer.bind(.init(host: "127.0.0.1", port: 0))
        #expect(server.tcpPort == server.port, "by default the TCP port has the UDP port's number")
        let peer = try await FakePeer(
            server: try Self.tcpAddress(of: server), certificate: try DTLSCertificate(commonName: "tcp"),
            overTCP: true)
        defer {
            Task {
                await peer.close()
                try? await server.shutdown()
            }
        }
        let log = EventLog()
        let session = try await WebRTCServerTests.session(on: server, for: peer, id: "t", log: log) {
            $0.dataChannels = SCTPConfiguration(role: .server)
            $0.echoDataChannels = true
        }
        try await peer.connect(to: session)
        #expect(peer.srtp != nil, "DTLS over TCP did not connect")
        #expect(await waitUntil { log.contains(.connected) })
        #expect(try await server.tcpConnectionCount() == 1)

        let sent = try await peer.sendRTP(sequence: 1)
        try WebRTCServerTests.expectReflection(try await peer.receiveRTP(), of: sent, on: session)
        let report = try await peer.receiveRTCP {
            $0.contains { if case .receiverReport = $0 { true } else { false } }
        }
        #expect(report != nil, "no receiver report over TCP")

        let client = try peer.startDataChannels()
        let echo = try await client.openChannel(label: "echo")
        try await client.send(.text("over tcp"), on: echo)
        #expect(
            try await waitUntil {
                try await client.run {
                    $0.received.contains { $0.label == "echo" && $0.message == .text("over tcp") }
                }
            })

        let counters = try await WebRTCServerTests.counters(of: "t", on: server)
        #expect(counters.dropped == 0)
        #expect(try await server.closeSession(id: "t"))
        #expect(await waitUntil { log.contains(.closed(.local)) })
        // Ending the session closes its connection.
        #expect(try await waitUntil { try await server.tcpConnectionCount() == 0 })
        #expect(try await server.routeCount() == 0)
        try? await client.close()
    }

    @Test func aConnectionWithoutAValidCheckIsClosed() async throws {
        let server = try await WebRTCServer.bind(
            .init(host: "127.0.0.1", port: 0, tcpBindingTimeout: .milliseconds(300)))
        let peer = try await FakePeer(
            server: try Self.tcpAddress(of: server), certificate: try DTLSCertificate(commonName: "x"),
            overTCP: true)
        let silent = try await FakePeer(
            server: try Self.tcpAddress(of: server), certificate: try DTLSCertificate(commonName: "y"),
            overTCP: true)
        defer {
            Task {
                await peer.close()
                await silent.close()
                try? await server.shutdown()
            }
        }
        let log = EventLog()
        let session = try await WebRTCServerTests.session(on: server, for: peer, id: "w", log: log)
        // A check with the wrong password: answered with nothing, and the connection stays unbound.
        try await peer.send(peer.bindingRequest(to: session, password: "wrong-password-wrong-pw"))
        #expect(try await waitUntil { try await server.tcpConnectionCount() == 2 })
        #expect(
            try await waitUntil { try await server.tcpConnectionCount() == 0 }, "unbound connections stay")
        #expect(try await server.counters().tcpUnbound == 2)
        #expect(await waitUntil { !peer.channel.isActive && !silent.channel.isActive })
        #expect(try await server.sessionCount() == 1, "the session itself is not touched")
        #expect(log.authenticatedAddresses.isEmpty)
    }

    @Test func connectionsOverTheCapAreRefused() async throws {
        let server = try await WebRTCServer.bind(.init(host: "127.0.0.1", port: 0, maxTCPConnections: 2))
        var peers: [FakePeer] = []
        defer {
            let peers = peers
            Task {
                for peer in peers { await peer.close() }
                try? await server.shutdown()
            }
        }
        for name in ["a", "b", "c"] {
            peers.append(
                try await FakePeer(
                    server: try Self.tcpAddress(of: server),
                    certificate: try DTLSCertificate(commonName: name),
                    overTCP: true))
        }
        #expect(try await waitUntil { try await server.counters().tcpRefused == 1 })
        #expect(try await server.tcpConnectionCount() == 2)
        #expect(await waitUntil { peers.filter { $0.channel.isActive }.count == 2 })
    }

    @Test func garbageFramesAreDroppedAndCounted() async throws {
        let server = try await WebRTCServer.bind(.init(host: "127.0.0.1", port: 0))
        let peer = try await FakePeer(
            server: try Self.tcpAddress(of: server), certificate: try DTLSCertificate(commonName: "g"),
            overTCP: true)
        defer {
            Task {
                await peer.close()
                try? await server.shutdown()
            }
        }
        try await peer.send([0xFF, 1, 2, 3])  // no RFC 7983 kind
        try await peer.send([22, 254, 253, 0, 0])  // DTLS from a connection no session has bound
        try await peer.send([])  // an empty frame
        #expect(try await waitUntil { try await server.counters().received == 3 })
        let counters = try await server.counters()
        #expect(counters.droppedUnknownKind == 2)
        #expect(counters.droppedUnrouted == 1)
    }

    @Test func tcpCanBeOff() async throws {
        let server = try await WebRTCServer.bind(.init(host: "127.0.0.1", port: 0, tcp: .off))
        defer { Task { try? await server.shutdown() } }
        #expect(server.tcpPort == nil)
    }
}
