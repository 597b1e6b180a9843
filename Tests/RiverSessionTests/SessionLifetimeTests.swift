import RiverCore
import Testing

@testable import RiverSession

/// A session's own deadlines: DTLS must connect in time, and a lifetime, if set, ends any session.
@Suite struct SessionLifetimeTests {
    @Test func aSessionThatNeverConnectsIsClosedAtItsConnectTimeout() throws {
        let peer = try MemoryPeer { $0.connectTimeout = .seconds(10) }
        let start = peer.now
        // Keepalives alone (valid STUN, consent kept fresh) do not hold a session that never connects.
        for _ in 0..<9 {
            peer.send(peer.bindingRequest())
            peer.advance(by: .seconds(1))
        }
        #expect(peer.engine.state == .new)
        #expect(!peer.events.contains { if case .closed = $0 { true } else { false } })
        peer.advance(to: start + .seconds(10))
        #expect(peer.events.contains(.closed(.connectTimeout)), "\(peer.events)")
    }

    @Test func aConnectedSessionOutlivesTheConnectTimeout() throws {
        let peer = try MemoryPeer { $0.connectTimeout = .seconds(2) }
        try peer.connect()
        for _ in 0..<10 {
            peer.send(peer.bindingRequest())
            peer.advance(by: .seconds(1))
        }
        #expect(!peer.events.contains { if case .closed = $0 { true } else { false } }, "\(peer.events)")
    }

    @Test func theLifetimeEndsEvenALiveSession() throws {
        let peer = try MemoryPeer { $0.maxLifetime = .seconds(5) }
        let start = peer.now
        try peer.connect()
        for _ in 0..<4 {
            peer.send(peer.bindingRequest())
            peer.advance(by: .seconds(1))
        }
        #expect(!peer.events.contains { if case .closed = $0 { true } else { false } })
        peer.advance(to: start + .seconds(5))
        #expect(peer.events.contains(.closed(.lifetimeExceeded)), "\(peer.events)")
    }
}
