import Foundation
import Synchronization
import Testing

/// A client, a server and a worker host on one bridge, each in its own network namespace, made by
/// `scripts/netns/lab.sh` (see scripts/netns/README.md). Tests put processes on a host with
/// `start(in:_:)`, shape the path with `addLoss` and `blockUDP`, and end with `remove()`, which stops
/// those processes first and then removes every namespace; call it from a `defer` so teardown also
/// happens when an expectation fails or the test throws:
///
///     let lab = try NetworkLab.create()
///     defer { lab.remove() }
///     let server = try lab.start(in: .server, ["python3", "-m", "http.server"])
///
/// Needs root, `ip` and iptables. The root namespace gets no interface, address, route or rule.
final class NetworkLab: Sendable {
    enum Host: String, CaseIterable, Sendable {
        case client, server, worker
    }

    /// Unique per lab (`rv` + 10 hex digits); the namespaces are NAME-c, NAME-s, NAME-w, NAME-br.
    let name: String
    /// Each host's IPv4 address (one /24).
    let addresses: [Host: String]
    /// Each host's IPv6 ULA address (one /64).
    let addresses6: [Host: String]
    private let started = Mutex<[ChildProcess]>([])
    private let removed = Atomic<Bool>(false)

    /// Whether the lab's tests should run: as root with `ip` and iptables, and always under CI, where
    /// a missing tool must fail the test (in `create()`) instead of skipping it.
    static let isAvailable =
        ProcessInfo.processInfo.environment["CI"] != nil
        || (getuid() == 0 && tool("ip") != nil && tool("iptables") != nil)

    /// Why `isAvailable` is false, for `.enabled(if:_:)`.
    static let unavailableReason: Comment =
        "needs root, ip and iptables (scripts/setup.sh); under CI these tests fail instead of skipping"

    private init(name: String, addresses: [Host: String], addresses6: [Host: String]) {
        self.name = name
        self.addresses = addresses
        self.addresses6 = addresses6
    }

    /// `lab.sh up` with a fresh name; the addresses come from its key=value output.
    static func create() throws -> NetworkLab {
        guard getuid() == 0 else {
            throw LabError("network namespaces need root (running as uid \(getuid()))")
        }
        let name = "rv" + String(UInt64.random(in: 0..<(1 << 40)), radix: 16).leftPadded(to: 10)
        let output = try script(["up", name])
        let fields = Dictionary(
            output.split(separator: "\n").compactMap { line -> (String, String)? in
                guard let eq = line.firstIndex(of: "=") else { return nil }
                return (String(line[..<eq]), String(line[line.index(after: eq)...]))
            }, uniquingKeysWith: { _, last in last })
        var addresses: [Host: String] = [:]
        var addresses6: [Host: String] = [:]
        for host in Host.allCases {
            addresses[host] = fields[host.rawValue]
            addresses6[host] = fields[host.rawValue + "6"].map(Self.canonicalIPv6)
        }
        let lab = NetworkLab(name: name, addresses: addresses, addresses6: addresses6)
        guard addresses.count == 3, addresses6.count == 3 else {
            lab.remove()
            throw LabError("lab.sh up printed no addresses:\n\(output)")
        }
        return lab
    }

    /// RFC 5952's text form (leading zeros dropped), as `inet_ntop` and river print addresses.
    static func canonicalIPv6(_ text: String) -> String {
        var address = in6_addr()
        guard inet_pton(AF_INET6, text, &address) == 1 else { return text }
        var buffer = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
        guard inet_ntop(AF_INET6, &address, &buffer, socklen_t(buffer.count)) != nil else { return text }
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    func address(_ host: Host) -> String { addresses[host]! }
    func address6(_ host: Host) -> String { addresses6[host]! }

    /// The host's network namespace, as `ip netns` names it.
    func namespace(_ host: Host) -> String { "\(name)-\(host.rawValue.prefix(1))" }

    /// The argv that runs `argv` inside the host's namespace. `ip netns exec` execs it, so the PID of
    /// what it starts is the command's own, and a process group made there stays the command's.
    func command(in host: Host, _ argv: [String]) -> [String] {
        [Self.tool("ip") ?? "ip", "netns", "exec", namespace(host)] + argv
    }

    /// Starts `argv` on the host; `remove()` stops it (by PID) before the namespaces go.
    func start(in host: Host, _ argv: [String]) throws -> ChildProcess {
        let full = command(in: host, argv)
        let child = try ChildProcess(URL(fileURLWithPath: full[0]), Array(full.dropFirst()))
        started.withLock { $0.append(child) }
        return child
    }

    /// Runs `argv` on the host to its end (stopped after `timeout`): its exit status, or nil when it
    /// had to be stopped, and its output.
    func run(in host: Host, _ argv: [String], timeout: Duration = .seconds(60)) async throws
        -> (status: Int32?, output: String)
    {
        let child = try start(in: host, argv)
        defer { child.stop() }
        let status = await child.waitForExit(timeout: timeout)
        return (status, child.output)
    }

    /// The processes running in the host's namespace now (`ip netns pids`).
    func pids(in host: Host) -> [Int32] {
        let list = (try? Self.runTool([Self.tool("ip") ?? "ip", "netns", "pids", namespace(host)])) ?? ""
        return list.split(separator: "\n").compactMap { Int32($0) }
    }

    /// Drops `percent` % of the UDP arriving at the host (iptables, INPUT); 0 removes it. TCP is left
    /// alone. A later call replaces the earlier loss.
    func addLoss(host: Host, percent: Double) throws {
        _ = try Self.script(["loss", name, host.rawValue, String(format: "%g", percent)])
    }

    /// Drops every UDP datagram into and out of the host (its loopback excepted).
    func blockUDP(host: Host) throws {
        _ = try Self.script(["block-udp", name, host.rawValue])
    }

    /// Removes the host's loss and UDP block.
    func clear(host: Host) throws {
        _ = try Self.script(["clear", name, host.rawValue])
    }

    /// Stops every process `start` started, then `lab.sh down` (which also kills anything else left
    /// in the namespaces, since a process inside would keep its namespace alive). Idempotent.
    func remove() {
        guard !removed.exchange(true, ordering: .acquiringAndReleasing) else { return }
        for child in started.withLock({ $0 }) { child.stop() }
        do {
            _ = try Self.script(["down", name])
        } catch {
            Issue.record("lab \(name) was not removed: \(error)")
        }
    }

    /// The namespaces that exist now whose name starts with `prefix`.
    static func namespaces(prefix: String) -> [String] {
        let list = (try? runTool([tool("ip") ?? "ip", "netns", "list"])) ?? ""
        // `ip netns list` prints "NAME" or "NAME (id: N)".
        return list.split(separator: "\n").compactMap { $0.split(separator: " ").first.map(String.init) }
            .filter { $0.hasPrefix(prefix) }.sorted()
    }

    struct LabError: Error, CustomStringConvertible {
        var description: String
        init(_ description: String) { self.description = description }
    }

    private static func script(_ arguments: [String]) throws -> String {
        try runTool(
            ["/usr/bin/env", "bash", repositoryRoot.appendingPathComponent("scripts/netns/lab.sh").path]
                + arguments)
    }

    /// Runs a short command to its end; its stdout, or a `LabError` with both streams.
    static func runTool(_ argv: [String]) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: argv[0])
        process.arguments = Array(argv.dropFirst())
        let out = Pipe()
        let err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        // Read before waiting, so a full pipe cannot block the child.
        let stdout = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        let stderr = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw LabError(
                "\(argv.joined(separator: " ")) exited \(process.terminationStatus):\n\(stdout)\(stderr)")
        }
        return stdout
    }

    /// The path of an executable in PATH or the sbin directories (root's tools live there, and a CI
    /// environment's PATH may lack them).
    static func tool(_ name: String) -> String? {
        let path = (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":").map(String.init)
        for directory in path + ["/usr/sbin", "/sbin", "/usr/bin", "/bin"] {
            let candidate = directory + "/" + name
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        return nil
    }
}

extension ChildProcess {
    /// Waits until the output has a line equal to `line` (a listener's "ready"), or the process ends,
    /// or `timeout` passes; whether the line came.
    func waitForLine(_ line: String, timeout: Duration = .seconds(15)) async -> Bool {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if output.split(separator: "\n").contains(where: { $0 == line }) { return true }
            guard process.isRunning else { break }
            try? await Task.sleep(for: .milliseconds(50))
        }
        return output.split(separator: "\n").contains { $0 == line }
    }
}

extension String {
    fileprivate func leftPadded(to length: Int) -> String {
        String(repeating: "0", count: max(0, length - count)) + self
    }
}
