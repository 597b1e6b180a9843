import NIOCore
import RiverCore

/// Who may open a session now, decided before anything is allocated for the offer: a cap on live
/// sessions, a cap on live sessions per source address, and a rate of WHIP POSTs per address (a
/// token bucket each). Sans-IO: the caller passes the time and the peer's address, and tells it
/// when a session it admitted has ended.
///
/// Per-address buckets are kept only while they matter: one that has refilled is as good as none,
/// so when the table reaches ``Limits/trackedAddresses`` such buckets are forgotten, and an address
/// with no live session and a full bucket costs nothing.
struct Admission: Sendable {
    struct Limits: Sendable, Equatable {
        /// Live sessions in all (`--max-sessions`).
        var sessions = 64
        /// Live sessions from one source address (`--max-sessions-per-address`).
        var sessionsPerAddress = 8
        /// WHIP POSTs a second from one address, sustained, and the burst on top.
        var postsPerSecond = 2.0
        var postBurst = 10.0
        var trackedAddresses = 4096
    }

    enum Verdict: Equatable {
        case admitted
        /// Every session slot is taken: 503 with Retry-After.
        case full
        /// This address holds its share of sessions: 429.
        case addressFull
        /// This address posts too fast: 429 with Retry-After (seconds until a token is back).
        case tooFast(retryAfter: Int)

        /// The label of `river_sessions_refused_total{reason}`.
        var reason: String {
            switch self {
            case .admitted: "admitted"
            case .full: "full"
            case .addressFull: "addressFull"
            case .tooFast: "tooFast"
            }
        }
    }

    /// The key a peer is counted under: its IPv4 address, or the /64 of an IPv6 one (one host
    /// commonly holds a whole /64, so per-address limits on full IPv6 addresses would not bind).
    static func key(of address: SocketAddress) -> String? {
        switch address {
        case .v4: return address.ipAddress
        case .v6(let v6):
            let bytes = withUnsafeBytes(of: v6.address.sin6_addr) { Array($0) }
            if bytes[0..<10].allSatisfy({ $0 == 0 }) && bytes[10] == 0xff && bytes[11] == 0xff {
                return bytes[12...].map(String.init).joined(separator: ".")
            }
            return stride(from: 0, to: 8, by: 2).map {
                String(UInt16(bytes[$0]) << 8 | UInt16(bytes[$0 + 1]), radix: 16)
            }
            .joined(separator: ":") + "::/64"
        default: return nil
        }
    }

    private struct Peer {
        var tokens: Double
        var refilledAt: Instant
        var sessions = 0
    }

    let limits: Limits
    private(set) var sessions = 0
    private var peers: [String: Peer] = [:]

    init(_ limits: Limits = .init()) {
        self.limits = limits
    }

    /// Takes a POST token for `address` and, when admitted, a session slot, until ``ended(address:)``.
    mutating func admit(address: String, now: Instant) -> Verdict {
        if peers[address] == nil && peers.count >= limits.trackedAddresses { forgetIdle(now: now) }
        var peer = peers[address] ?? Peer(tokens: limits.postBurst, refilledAt: now)
        refill(&peer, now: now)
        guard peer.tokens >= 1 else {
            peers[address] = peer
            let wait = (1 - peer.tokens) / limits.postsPerSecond
            return .tooFast(retryAfter: max(1, Int(wait.rounded(.up))))
        }
        peer.tokens -= 1
        defer { peers[address] = peer }
        guard sessions < limits.sessions else { return .full }
        guard peer.sessions < limits.sessionsPerAddress else { return .addressFull }
        peer.sessions += 1
        sessions += 1
        return .admitted
    }

    /// A session admitted for `address` has ended (or was never created).
    mutating func ended(address: String) {
        guard var peer = peers[address], peer.sessions > 0 else { return }
        peer.sessions -= 1
        sessions -= 1
        peers[address] = peer
    }

    /// Live sessions from `address`.
    func sessions(from address: String) -> Int { peers[address]?.sessions ?? 0 }

    /// Addresses the table holds now.
    var trackedCount: Int { peers.count }

    private func refill(_ peer: inout Peer, now: Instant) {
        guard now > peer.refilledAt else { return }
        let elapsed = (now - peer.refilledAt).seconds
        peer.tokens = min(limits.postBurst, peer.tokens + elapsed * limits.postsPerSecond)
        peer.refilledAt = now
    }

    private mutating func forgetIdle(now: Instant) {
        peers = peers.filter { _, peer in
            var peer = peer
            refill(&peer, now: now)
            return peer.sessions > 0 || peer.tokens < limits.postBurst
        }
    }
}
