import Testing

@testable import RiverSDP

/// The candidates river announces: UDP ones first, then passive TCP ones (RFC 6544) that rank
/// below every UDP one, so a peer that reaches us over UDP never picks TCP.
@Suite struct HostCandidateTests {
    @Test func tcpCandidatesArePassiveAndRankBelowUDP() {
        let candidates = HostCandidate.list(
            addresses: ["192.0.2.1", "fd00::1"], port: 50_000, tcpPort: 50_000)
        #expect(candidates.map(\.transport) == [.udp, .udp, .tcpPassive, .tcpPassive])
        let lines = candidates.enumerated().map { $0.element.attributeValue(index: $0.offset) }
        #expect(
            lines[2]
                == "3 1 tcp \(lines[2].split(separator: " ")[3]) 192.0.2.1 50000 typ host tcptype passive")
        let priorities = lines.map { UInt32($0.split(separator: " ")[3])! }
        #expect(priorities[0] > priorities[1])
        #expect(priorities[2] > priorities[3])
        #expect(priorities[2...].allSatisfy { tcp in priorities[..<2].allSatisfy { $0 > tcp } })
        // Foundations differ across transports (RFC 8445 §5.1.1.3).
        #expect(Set(lines.map { $0.split(separator: " ")[0] }).count == 4)
    }

    @Test func withoutATCPPortOnlyUDP() {
        let candidates = HostCandidate.list(
            addresses: ["192.0.2.1"], publicAddresses: ["203.0.113.9"], port: 1)
        #expect(candidates == [HostCandidate(address: "203.0.113.9", port: 1)])
    }
}
