import Foundation
import RiverBroker
import RiverCore
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// Helpers for tests that run the broker on real sockets or the built `river` binary.

/// The repository root, found from this file's path.
public let repoRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent()

/// The `river` binary `swift build` produced.
public let riverBinary = repoRoot.appendingPathComponent(".build/debug/river")

/// A TCP port that was free a moment ago on 127.0.0.1.
public func freePort() throws -> Int {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    address.sin_port = 0
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let bound = withUnsafeMutablePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer in
            bind(fd, pointer, length) == 0 && getsockname(fd, pointer, &length) == 0
        }
    }
    try #require(bound, "cannot bind a probe socket")
    return Int(UInt16(bigEndian: address.sin_port))
}

/// A blocking TCP socket connected to `tcp://127.0.0.1:PORT`, with a 10 s receive timeout.
public func connectTCP(_ endpoint: String) throws -> Int32 {
    let port = try #require(endpoint.split(separator: ":").last.flatMap { UInt16($0) })
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    address.sin_port = port.bigEndian
    let connected = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
            connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0
        }
    }
    var timeout = timeval(tv_sec: 10, tv_usec: 0)
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    if !connected { close(fd) }
    try #require(connected, "cannot connect to \(endpoint)")
    return fd
}

/// A `river` subprocess, killed (SIGKILL) by `stop()`; callers `defer { child.stop() }`.
public final class RiverProcess: @unchecked Sendable {
    // @unchecked: the Process is started in init and only signalled afterwards.
    public let process = Process()
    public let arguments: [String]

    public init(_ arguments: [String]) throws {
        try #require(
            FileManager.default.isExecutableFile(atPath: riverBinary.path),
            "build the river binary first (swift build --build-tests): \(riverBinary.path)")
        self.arguments = arguments
        process.executableURL = riverBinary
        process.arguments = arguments
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
    }

    public var pid: Int32 { process.processIdentifier }

    /// Kills the process with SIGKILL and reaps it.
    public func stop() {
        guard process.isRunning else { return }
        kill(pid, SIGKILL)
        process.waitUntilExit()
    }
}

/// Polls `condition` every 10 ms until it holds or `timeout` passes; returns whether it held.
public func waitUntil(_ timeout: Duration = .seconds(10), _ condition: () -> Bool) async -> Bool {
    let end = ContinuousClock.now + timeout
    while ContinuousClock.now < end {
        if condition() { return true }
        try? await Task.sleep(for: .milliseconds(10))
    }
    return condition()
}

/// A worker handler answering `{"worker": name}` after blocking its slot thread for `delay`.
public func sleepyHandler(_ name: String, delay: Duration) -> WorkHandler {
    { _ in
        sleepBlocking(delay)
        return WorkResult(document: Array("{\"worker\":\"\(name)\"}".utf8))
    }
}

/// Blocks the calling thread for `duration`, as a synchronous model would.
public func sleepBlocking(_ duration: Duration) {
    guard duration > .zero else { return }
    let (seconds, attoseconds) = duration.components
    var left = timespec(tv_sec: Int(seconds), tv_nsec: Int(attoseconds / 1_000_000_000))
    var request = left
    while nanosleep(&request, &left) != 0 && errno == EINTR { request = left }
}

/// A small RGB frame to send.
public func smallFrame(_ rtp: UInt32 = 0) -> VideoFrame {
    VideoFrame(packedWidth: 16, height: 16, format: .rgb24, rtpTimestamp: rtp)
}

/// How one `infer` call ended, for tallies.
public enum Outcome: Sendable, Equatable {
    case reply(String)
    case rejected(ErrorCode)
    case timedOut
    case other(String)

    public init(_ result: Result<BrokerReply, BrokerError>) {
        switch result {
        case .success(let reply): self = .reply(String(decoding: reply.document, as: UTF8.self))
        case .failure(.rejected(_, let code, _)): self = .rejected(code)
        case .failure(.timedOut): self = .timedOut
        case .failure(let error): self = .other("\(error)")
        }
    }
}

extension BrokerClient {
    /// `infer` as a Result, with the time it took.
    public func attempt(budget: Duration, rtp: UInt32 = 0) async -> (
        Result<BrokerReply, BrokerError>, Duration
    ) {
        let start = Instant.now
        do {
            let reply = try await infer(frame: smallFrame(rtp), streamID: 1, deadline: start + budget)
            return (.success(reply), Instant.now - start)
        } catch {
            return (.failure(error), Instant.now - start)
        }
    }
}
