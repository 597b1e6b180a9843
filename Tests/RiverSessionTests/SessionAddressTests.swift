import RiverCore
import RiverICE
import RiverRTP
import Testing

@testable import RiverSession

/// Where a session's media goes, against a peer that lies about addresses: consent per pair, a
/// nomination that moves media only once the new address proves itself, and a cap on addresses.
@Suite struct SessionAddressTests {
    static let elsewhere = TransportAddress(ip: [198, 51, 100, 9], port: 4_000)!

    func packet(_ sequence: UInt16) -> RTPPacket {
        RTPPacket(
            marker: true, payloadType: MemoryPeer.payloadType, sequenceNumber: sequence, timestamp: 9000,
            ssrc: MemoryPeer.ssrc, payload: [0x65, 1, 2, 3])
    }

    @Test func aSpoofedNominationDoesNotRedirectMedia() throws {
        let peer = try MemoryPeer()
        peer.expectsOtherAddresses = true
        try peer.connect()
        // A valid, nominating check "from" a third party: answered, but media stays.
        peer.send(peer.bindingRequest(nominate: true), from: Self.elsewhere)
        #expect(peer.engine.selectedAddress == MemoryPeer.address)
        #expect(peer.engine.pendingAddress == Self.elsewhere)
        try peer.send(rtp: packet(1))
        #expect(
            peer.sentElsewhere.allSatisfy { DatagramKind.classify($0.bytes) == .stun }, "media went elsewhere"
        )
        #expect(peer.rtpReceived.count == 1, "the reflection still comes to the peer")
        // Authenticated SRTP from the nominated address moves it.
        peer.send(try #require(peer.srtp).protectRTP(packet(2).serialized()), from: Self.elsewhere)
        #expect(peer.engine.selectedAddress == Self.elsewhere)
        #expect(peer.engine.pendingAddress == nil)
    }

    @Test func checksFromAnotherAddressDoNotKeepTheSelectedPairsConsent() throws {
        let peer = try MemoryPeer { $0.consentTimeout = .seconds(3) }
        peer.expectsOtherAddresses = true
        try peer.connect()
        let start = peer.now
        // The selected address goes silent; another (never carrying media) keeps checking.
        for _ in 0..<2 {
            peer.advance(by: .seconds(1))
            peer.send(peer.bindingRequest(nominate: false), from: Self.elsewhere)
        }
        #expect(!peer.events.contains(.closed(.consentExpired)))
        peer.advance(to: start + .seconds(3))
        #expect(peer.events.contains(.closed(.consentExpired)), "\(peer.events)")
    }

    @Test func addressesPerSessionAreCapped() throws {
        let peer = try MemoryPeer()
        peer.expectsOtherAddresses = true
        try peer.connect()
        for port in 1...20 {
            peer.send(
                peer.bindingRequest(nominate: false),
                from: TransportAddress(ip: [203, 0, 113, 1], port: UInt16(port))!)
        }
        // Eight addresses in all (the peer's own and seven more); the rest get no answer.
        #expect(peer.sentElsewhere.count == 7)
        #expect(peer.engine.authenticatedAddresses.count == 8)
        #expect(peer.engine.counters.stunRejected == 13)
    }
}
