import RiverDTLS
import RiverSession
import Testing

@testable import RiverWebRTC

/// One session cannot take another's address: a valid check for session B sent from A's address
/// (B's holder spoofing A's source) is not answered, and A keeps its media.
@Suite struct AddressOwnershipTests {
    @Test func aCheckFromAnotherSessionsAddressIsDroppedAndCounted() async throws {
        let server = try await WebRTCServerTests.startServer()
        let victim = try await FakePeer(
            server: server.localAddress, certificate: try DTLSCertificate(commonName: "v"))
        let attacker = try await FakePeer(
            server: server.localAddress, certificate: try DTLSCertificate(commonName: "x"))
        defer {
            Task {
                await victim.close()
                await attacker.close()
                try? await server.shutdown()
            }
        }
        let victimLog = EventLog()
        let attackerLog = EventLog()
        let a = try await WebRTCServerTests.session(on: server, for: victim, id: "victim", log: victimLog)
        let b = try await WebRTCServerTests.session(
            on: server, for: attacker, id: "attacker", log: attackerLog)
        try await victim.connect(to: a)
        // The attacker's own valid, nominating check, arriving from the victim's address.
        try await victim.send(attacker.bindingRequest(to: b))
        #expect(await waitUntil { (try? await server.counters().droppedAddressInUse) == 1 })
        #expect(attackerLog.authenticatedAddresses.isEmpty)
        let sent = try await victim.sendRTP(sequence: 1)
        try WebRTCServerTests.expectReflection(try await victim.receiveRTP(), of: sent, on: a)
        #expect(try await server.addressCount() == 1)
    }
}
