import ArgumentParser
import RiverServe

/// Admission caps and session lifetimes, shared by `serve` and `up` (see `Admission`).
struct SessionLimitOptions: ParsableArguments {
    @Option(help: "Live sessions at most; more offers get 503 with Retry-After.")
    var maxSessions = 64

    @Option(help: "Live sessions from one address (an IPv6 /64) at most; more get 429.")
    var maxSessionsPerAddress = 8

    @Option(
        help: "WHIP offers a second from one address, sustained (bursts of 5 times that, at least 10, pass).")
    var maxOffersPerSecond = 2.0

    @Option(help: "Viewers (WHEP) of one session at most; more get 429. Each counts as a session too.")
    var maxViewers = 4

    @Option(help: "Close every session this many seconds after it started (default: no limit).")
    var maxSessionSeconds: Int?

    func validate() throws {
        guard maxSessions >= 1 else { throw ValidationError("--max-sessions must be at least 1") }
        guard maxSessionsPerAddress >= 1 else {
            throw ValidationError("--max-sessions-per-address must be at least 1")
        }
        guard maxViewers >= 0 else { throw ValidationError("--max-viewers must be at least 0") }
        guard maxOffersPerSecond > 0 else { throw ValidationError("--max-offers-per-second must be above 0") }
        guard (maxSessionSeconds ?? 1) >= 1 else {
            throw ValidationError("--max-session-seconds must be at least 1")
        }
    }

    var limits: SessionService.Limits {
        var limits = SessionService.Limits()
        limits.sessions = maxSessions
        limits.sessionsPerAddress = maxSessionsPerAddress
        limits.viewersPerSession = maxViewers
        limits.maxLifetime = maxSessionSeconds.map { .seconds($0) }
        limits.postsPerSecond = maxOffersPerSecond
        limits.postBurst = max(10, 5 * maxOffersPerSecond)
        return limits
    }

    /// The same options for a `serve` child.
    var arguments: [String] {
        [
            "--max-sessions", "\(maxSessions)", "--max-sessions-per-address", "\(maxSessionsPerAddress)",
            "--max-offers-per-second", "\(maxOffersPerSecond)", "--max-viewers", "\(maxViewers)",
        ]
            + (maxSessionSeconds.map { ["--max-session-seconds", "\($0)"] } ?? [])
    }
}
