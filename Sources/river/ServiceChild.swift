import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// One `river` subcommand that `river up` runs as a child process of the same binary.
///
/// The child's stdin is a pipe whose write end only this process holds: when `river up` dies, even
/// by SIGKILL, the kernel closes it and the child ends itself (see ``ParentWatch``). Its stdout and
/// stderr come back through a second pipe; each line is forwarded to our stderr with the child's
/// name in front, and kept so the first lines can be shown when the child fails to start.
final class ServiceChild: Sendable {
    let name: String
    let pid: pid_t
    /// Write end of the child's stdin; closing it tells the child its parent is gone.
    private let lifeline: Int32
    private let state: Mutex<State>

    private struct State {
        var lines: [String] = []
        var exitStatus: Int32?
        var outputClosed = false
    }

    /// Environment variable that tells a child to watch its stdin (see ``ParentWatch``).
    static let watchVariable = "RIVER_UP_CHILD"

    struct SpawnError: Error, CustomStringConvertible {
        var description: String
    }

    /// Starts `executable arguments…` with the signal mask and dispositions reset.
    init(name: String, executable: String, arguments: [String]) throws {
        self.name = name
        var input: [Int32] = [0, 0]
        var output: [Int32] = [0, 0]
        // O_CLOEXEC on all four ends: only the dup2'd copies reach this child, and no later child
        // inherits another one's lifeline (which would keep it alive after we die).
        // (pipe2 is not visible to Swift; children are only started from one thread, so setting the
        // flag right after creation leaves no window for another spawn.)
        guard pipe(&input) == 0, pipe(&output) == 0 else {
            throw SpawnError(description: "\(name): cannot create pipes: \(String(cString: strerror(errno)))")
        }
        for fd in input + output { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, input[0], 0)
        posix_spawn_file_actions_adddup2(&actions, output[1], 1)
        posix_spawn_file_actions_adddup2(&actions, output[1], 2)

        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        // `river up` blocks SIGINT/SIGTERM to sigwait for them; the child must not inherit that.
        var empty = sigset_t()
        sigemptyset(&empty)
        posix_spawnattr_setsigmask(&attributes, &empty)
        var defaults = sigset_t()
        sigemptyset(&defaults)
        for signal in [SIGINT, SIGTERM, SIGPIPE] { sigaddset(&defaults, signal) }
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))

        var environment = ProcessInfo.processInfo.environment
        environment[Self.watchVariable] = "1"
        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        let envp = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            argv.forEach { free($0) }
            envp.forEach { free($0) }
        }
        var pid: pid_t = 0
        let status = posix_spawn(&pid, executable, &actions, &attributes, argv, envp)
        close(input[0])
        close(output[1])
        guard status == 0 else {
            close(input[1])
            close(output[0])
            throw SpawnError(
                description: "\(name): cannot start \(executable): \(String(cString: strerror(status)))")
        }
        self.pid = pid
        self.lifeline = input[1]
        self.state = Mutex(State())
        let readEnd = output[0]
        Thread.detachNewThread { [self] in forward(readEnd) }
    }

    /// Reads the child's output until it closes, forwarding each line.
    private func forward(_ fd: Int32) {
        var pending = Data()
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = read(fd, &buffer, buffer.count)
            if count < 0 && errno == EINTR { continue }
            if count <= 0 { break }
            pending.append(contentsOf: buffer[0..<count])
            while let newline = pending.firstIndex(of: UInt8(ascii: "\n")) {
                let line = String(decoding: pending[pending.startIndex..<newline], as: UTF8.self)
                pending.removeSubrange(pending.startIndex...newline)
                emit(line)
            }
        }
        if !pending.isEmpty { emit(String(decoding: pending, as: UTF8.self)) }
        close(fd)
        state.withLock { $0.outputClosed = true }
    }

    private func emit(_ line: String) {
        state.withLock {
            $0.lines.append(line)
            if $0.lines.count > 200 { $0.lines.removeFirst(100) }
        }
        FileHandle.standardError.write(Data("[\(name)] \(line)\n".utf8))
    }

    /// The output lines kept so far (the last 100–200).
    var lines: [String] { state.withLock { $0.lines } }

    /// The child's exit status once it has ended (reaped here), else nil. A signal death reads as
    /// 128 + the signal number, as shells show it.
    var exitStatus: Int32? {
        if let done = state.withLock({ $0.exitStatus }) { return done }
        var status: Int32 = 0
        guard waitpid(pid, &status, WNOHANG) == pid else { return nil }
        let code = (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
        state.withLock { $0.exitStatus = code }
        return code
    }

    var isRunning: Bool { exitStatus == nil }

    /// Waits until a line starting with `prefix` appears (returned), or the child exits or `timeout`
    /// passes (nil).
    func waitForLine(prefix: String, timeout: Duration) -> String? {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if let line = lines.first(where: { $0.hasPrefix(prefix) }) { return line }
            if !isRunning {
                // Let the reader drain what the child wrote before it died.
                for _ in 0..<20 where !state.withLock({ $0.outputClosed }) { usleep(25_000) }
                return lines.first { $0.hasPrefix(prefix) }
            }
            usleep(20_000)
        }
        return nil
    }

    /// SIGTERM, then SIGKILL after `grace`; waits for the exit.
    func stop(grace: Duration = .seconds(5)) {
        close(lifeline)
        guard isRunning else { return }
        kill(pid, SIGTERM)
        let deadline = ContinuousClock.now + grace
        while isRunning && ContinuousClock.now < deadline { usleep(20_000) }
        if isRunning {
            kill(pid, SIGKILL)
            while isRunning { usleep(10_000) }
        }
    }

    /// Why the child ended, with its last output lines, for an error message.
    func failureReport() -> String {
        let status = exitStatus.map { "exited with status \($0)" } ?? "did not get ready in time"
        let tail = lines.suffix(12).map { "  \($0)" }.joined(separator: "\n")
        return "river up: \(name) \(status)\(tail.isEmpty ? "" : ":\n\(tail)")"
    }
}

/// The child side of ``ServiceChild``'s lifeline: in a process that `river up` started, a thread
/// reads stdin until end of file (the parent died or let go) and then asks the process to stop
/// with SIGTERM, so its usual graceful shutdown runs; if that takes longer than 5 s, it exits.
enum ParentWatch {
    static func startIfChild() {
        guard ProcessInfo.processInfo.environment[ServiceChild.watchVariable] != nil else { return }
        Thread.detachNewThread {
            // This thread must never be the one a process-directed SIGTERM lands on.
            StopSignals.block()
            var byte: UInt8 = 0
            while true {
                let count = read(0, &byte, 1)
                if count < 0 && errno == EINTR { continue }
                if count <= 0 { break }
            }
            kill(getpid(), SIGTERM)
            sleep(5)
            _exit(1)
        }
    }
}
