import NIOCore
import RiverCore
import Testing

@testable import RiverServe

/// Admission on a virtual clock: the session caps, the per-address POST rate, and a table that
/// forgets addresses which no longer matter.
@Suite struct AdmissionTests {
    let t0 = Instant.seconds(1000)

    @Test func sessionsAreCappedInAllAndPerAddress() {
        var admission = Admission(
            .init(sessions: 3, sessionsPerAddress: 2, postsPerSecond: 100, postBurst: 100))
        #expect(admission.admit(address: "a", now: t0) == .admitted)
        #expect(admission.admit(address: "a", now: t0) == .admitted)
        #expect(admission.admit(address: "a", now: t0) == .addressFull)
        #expect(admission.admit(address: "b", now: t0) == .admitted)
        #expect(admission.admit(address: "c", now: t0) == .full)
        #expect(admission.sessions == 3)
        admission.ended(address: "a")
        #expect(admission.sessions(from: "a") == 1)
        #expect(admission.admit(address: "c", now: t0) == .admitted)
        // Ending more than was admitted changes nothing.
        admission.ended(address: "zzz")
        #expect(admission.sessions == 3)
    }

    @Test func postsFromOneAddressAreRateLimitedAndRefill() {
        var admission = Admission(
            .init(sessions: 100, sessionsPerAddress: 100, postsPerSecond: 2, postBurst: 4))
        for _ in 0..<4 { #expect(admission.admit(address: "a", now: t0) == .admitted) }
        #expect(admission.admit(address: "a", now: t0) == .tooFast(retryAfter: 1))
        // Another address is not slowed by the first.
        #expect(admission.admit(address: "b", now: t0) == .admitted)
        // Refused posts cost a token too once there is one: 0.5 s gives one token.
        #expect(admission.admit(address: "a", now: t0 + .milliseconds(500)) == .admitted)
        #expect(admission.admit(address: "a", now: t0 + .milliseconds(500)) == .tooFast(retryAfter: 1))
        #expect(admission.admit(address: "a", now: t0 + .seconds(10)) == .admitted)
    }

    @Test func ipv6PeersAreCountedByTheirSlash64() throws {
        let one = try SocketAddress(ipAddress: "2001:db8:1:2::1", port: 1)
        let other = try SocketAddress(ipAddress: "2001:db8:1:2:ffff::9", port: 2)
        let elsewhere = try SocketAddress(ipAddress: "2001:db8:1:3::1", port: 1)
        #expect(Admission.key(of: one) == Admission.key(of: other))
        #expect(Admission.key(of: one) != Admission.key(of: elsewhere))
        #expect(Admission.key(of: try SocketAddress(ipAddress: "192.0.2.4", port: 1)) == "192.0.2.4")
        #expect(Admission.key(of: try SocketAddress(ipAddress: "::ffff:192.0.2.4", port: 1)) == "192.0.2.4")
    }

    @Test func theAddressTableForgetsIdleAddresses() {
        var admission = Admission(
            .init(
                sessions: 10_000, sessionsPerAddress: 1, postsPerSecond: 1, postBurst: 1, trackedAddresses: 8)
        )
        for i in 0..<8 {
            #expect(admission.admit(address: "p\(i)", now: t0) == .admitted)
            admission.ended(address: "p\(i)")
        }
        // Later, every earlier bucket has refilled and holds no session: a new address makes room.
        #expect(admission.admit(address: "new", now: t0 + .seconds(5)) == .admitted)
        #expect(admission.trackedCount <= 2)
    }
}
