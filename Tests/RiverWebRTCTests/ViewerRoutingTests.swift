import NIOCore
import RiverDTLS
import RiverRTP
import RiverSession
import Testing

@testable import RiverWebRTC

/// A publisher and its viewers (WHEP) on one real ``WebRTCServer``, each a ``FakePeer`` on its own
/// UDP socket: the shell hands the publisher's stream to each viewer, sends a viewer's key-frame
/// request upstream, holds the cap, and ends viewers with their publisher but never the reverse.
@Suite struct ViewerRoutingTests {
    struct Party {
        let peer: FakePeer
        let session: SessionConfiguration
        let log = EventLog()
    }

    static func party(on server: WebRTCServer, id: String, viewing: String? = nil, maxViewers: Int = 2)
        async throws -> Party
    {
        let peer = try await FakePeer(
            server: server.localAddress, certificate: try DTLSCertificate(commonName: id))
        var session = peer.sessionConfiguration(id: id)
        session.viewer = viewing != nil
        let party = Party(peer: peer, session: session)
        try await server.open(
            session, viewing: viewing.map { ($0, maxViewers) }, onEvent: party.log.handler)
        return party
    }

    @Test func viewersGetThePublishersStreamAsTheirOwnAndLeaveWithoutDisturbingIt() async throws {
        let server = try await WebRTCServer.bind(.init(host: "127.0.0.1", port: 0))
        let publisher = try await Self.party(on: server, id: "publisher")
        let first = try await Self.party(on: server, id: "first", viewing: "publisher")
        let second = try await Self.party(on: server, id: "second", viewing: "publisher")
        defer {
            Task {
                for party in [publisher, first, second] { await party.peer.close() }
                try? await server.shutdown()
            }
        }
        // The cap (2 here) holds, and only a live session can be watched.
        await #expect(throws: ViewerRefused.tooManyViewers(limit: 2)) {
            _ = try await Self.party(on: server, id: "third", viewing: "publisher")
        }
        await #expect(throws: ViewerRefused.noSuchSession) {
            _ = try await Self.party(on: server, id: "stray", viewing: "nobody")
        }
        #expect(try await server.viewerCount(of: "publisher") == 2)
        for party in [publisher, first, second] { try await party.peer.connect(to: party.session) }
        #expect(await waitUntil { [publisher, first, second].allSatisfy { $0.log.contains(.connected) } })
        // Every packet sent after the first (a viewer starts after a frame's end) reaches both.
        for sequence: UInt16 in 1...5 { try await publisher.peer.sendRTP(sequence: sequence) }
        var published: [RTPPacket] = []
        for _ in 1...5 { if let p = try await publisher.peer.receiveRTP() { published.append(p) } }
        #expect(published.count == 5)
        for viewer in [first, second] {
            var got: [RTPPacket] = []
            while let p = try await viewer.peer.receiveRTP(timeout: .milliseconds(500)) { got.append(p) }
            #expect(got.count >= 4, "\(viewer.session.id) got \(got.count)")
            #expect(got.allSatisfy { $0.ssrc == viewer.session.outgoingSSRC })
            #expect(got.map(\.timestamp) == published.suffix(got.count).map(\.timestamp))
            #expect(got.map(\.payload) == published.suffix(got.count).map(\.payload))
        }

        // A viewer's key-frame request reaches the publisher's browser as a PLI on its stream.
        try await first.peer.sendRTCP([
            .pictureLossIndication(.init(senderSSRC: 1, mediaSSRC: first.session.outgoingSSRC))
        ])
        let pli = try await publisher.peer.receiveRTCP {
            $0.contains {
                if case .pictureLossIndication(let p) = $0 { p.mediaSSRC == FakePeer.ssrc } else { false }
            }
        }
        #expect(pli != nil, "no PLI upstream")

        // The first viewer leaves: the publisher and the second viewer carry on.
        #expect(try await server.closeSession(id: "first"))
        #expect(await waitUntil { first.log.closeReasons == [.local] })
        #expect(try await server.viewerCount(of: "publisher") == 1)
        try await publisher.peer.sendRTP(sequence: 6)
        #expect(
            try await publisher.peer.receiveRTP()?.sequenceNumber
                == published.last.map { $0.sequenceNumber &+ 1 })
        #expect(try await second.peer.receiveRTP()?.payload == Array(repeating: 6, count: 200))
        #expect(!publisher.log.isClosed)

        // The publisher ends: so does its remaining viewer, and nothing is left.
        #expect(try await server.closeSession(id: "publisher"))
        #expect(await waitUntil { second.log.closeReasons == [.publisherClosed] })
        #expect(try await server.sessionCount() == 0)
        #expect(try await server.routeCount() == 0)
    }
}
