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
///
/// The thread that forwards the output also reaps the child: once the output pipe closes (the
/// child exited) it blocks in `waitpid`, so waiting for an exit costs no polling and the exit
/// status is known only after every line the child wrote has been read.
final class ServiceChild: Sendable {
    let name: String
    let pid: pid_t
    /// Write end of the child's stdin; closing it tells the child its parent is gone.
    private let lifeline: Int32
    private let state: Mutex<State>

    private struct State {
        var lines: [String] = []
        var exitStatus: Int32?
        var exitWaiters: [CheckedContinuation<Int32, Never>] = []
        var lifelineOpen = true
        /// The child has ended (it may not be reaped yet); from here on it must not be signalled,
        /// as its PID may soon belong to another process.
        var ended = false
    }

    /// Environment variable that tells a child to watch its stdin (see ``ParentWatch``).
    static let watchVariable = "RIVER_UP_CHILD"

    /// Held from creating the pipes to spawning, so a child started by one service never inherits
    /// the pipe ends of a child another service is starting at the same moment (which would keep
    /// that child's lifeline open after we die). `pipe2(O_CLOEXEC)` is not visible to Swift.
    private static let spawning = Mutex(())

    struct SpawnError: Error, CustomStringConvertible {
        var description: String
    }

    /// Starts `executable arguments…` with the signal mask and dispositions reset.
    init(name: String, executable: String, arguments: [String]) throws {
        self.name = name
        var input: [Int32] = [0, 0]
        var output: [Int32] = [0, 0]
        var pid: pid_t = 0
        try Self.spawning.withLock { _ in
            // O_CLOEXEC on all four ends: only the dup2'd copies reach this child.
            guard pipe(&input) == 0, pipe(&output) == 0 else {
                throw SpawnError(
                    description: "\(name): cannot create pipes: \(String(cString: strerror(errno)))")
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
            // `river up`'s ServiceGroup ignores SIGINT and SIGTERM, and SIGHUP (it takes them from a dispatch
            // source), and an ignored signal stays ignored across exec: the child must start with
            // the defaults, or its own ServiceGroup is the only thing that could ever stop it.
            var empty = sigset_t()
            sigemptyset(&empty)
            posix_spawnattr_setsigmask(&attributes, &empty)
            var defaults = sigset_t()
            sigemptyset(&defaults)
            for signal in [SIGINT, SIGTERM, SIGPIPE, SIGHUP] { sigaddset(&defaults, signal) }
            posix_spawnattr_setsigdefault(&attributes, &defaults)
            // A process group of its own: Ctrl-C in a terminal signals the foreground group, and
            // the children must hear of it from `up`, one at a time in the order its group stops
            // them, not all at once (a proxy that stopped by itself would read as a failure).
            posix_spawnattr_setpgroup(&attributes, 0)
            posix_spawnattr_setflags(
                &attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETPGROUP))

            var environment = ProcessInfo.processInfo.environment
            environment[Self.watchVariable] = "1"
            let argv = ([executable] + arguments).map { strdup($0) } + [nil]
            let envp = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
            defer {
                for pointer in argv + envp { free(pointer) }
            }
            let status = posix_spawn(&pid, executable, &actions, &attributes, argv, envp)
            close(input[0])
            close(output[1])
            guard status == 0 else {
                close(input[1])
                close(output[0])
                throw SpawnError(
                    description: "\(name): cannot start \(executable): \(String(cString: strerror(status)))")
            }
        }
        self.pid = pid
        self.lifeline = input[1]
        self.state = Mutex(State())
        let readEnd = output[0]
        Thread.detachNewThread { [self] in
            forward(readEnd)
            reap()
        }
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
    }

    /// Waits for the exit (the only wait on this PID), records it and wakes the waiters. A signal
    /// death reads as 128 + the signal number, as shells show it.
    ///
    /// The first wait leaves the child a zombie (`WNOWAIT`), so its PID cannot be reused while
    /// `ended` is set under the lock; ``stop(grace:)`` signals only under that lock, so it never
    /// signals a stranger.
    private func reap() {
        var info = siginfo_t()
        while waitid(P_PID, id_t(pid), &info, WEXITED | WNOWAIT) < 0 && errno == EINTR {}
        state.withLock { $0.ended = true }
        var status: Int32 = 0
        var result: pid_t
        repeat { result = waitpid(pid, &status, 0) } while result < 0 && errno == EINTR
        let code: Int32 =
            result != pid ? 255 : (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
        let waiters = state.withLock { state in
            state.exitStatus = code
            defer { state.exitWaiters = [] }
            return state.exitWaiters
        }
        for waiter in waiters { waiter.resume(returning: code) }
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

    /// The child's exit status once it has ended, else nil.
    var exitStatus: Int32? { state.withLock { $0.exitStatus } }

    /// Waits for the child to end and returns its exit status.
    func exited() async -> Int32 {
        await withCheckedContinuation { continuation in
            let done: Int32? = state.withLock {
                if let status = $0.exitStatus { return status }
                $0.exitWaiters.append(continuation)
                return nil
            }
            if let done { continuation.resume(returning: done) }
        }
    }

    /// The first output line starting with `prefix`, once there is one; nil when the child exits
    /// without writing it, when `timeout` passes, or when the task is cancelled. Polls every 20 ms:
    /// it only runs while the child starts.
    func line(startingWith prefix: String, timeout: Duration) async -> String? {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline && !Task.isCancelled {
            let (line, ended) = state.withLock { state in
                (state.lines.first { $0.hasPrefix(prefix) }, state.exitStatus != nil)
            }
            if line != nil || ended { return line }
            try? await Task.sleep(for: .milliseconds(20))
        }
        return nil
    }

    /// Asks the child to stop: closes its lifeline and sends SIGTERM; SIGKILL follows if it is
    /// still running after `grace`. Returns at once (``exited()`` waits); idempotent.
    func stop(grace: Duration = .seconds(5)) {
        let first = state.withLock { state in
            defer { state.lifelineOpen = false }
            return state.lifelineOpen
        }
        guard first else { return }
        close(lifeline)
        send(SIGTERM)
        Task { [self] in
            try await Task.sleep(for: grace)
            send(SIGKILL)
        }
    }

    /// Sends `signal` unless the child has ended.
    private func send(_ signal: Int32) {
        state.withLock { if !$0.ended { kill(pid, signal) } }
    }

    /// Why the child ended, with its last output lines, for an error message.
    func failureReport() -> String {
        let status = exitStatus.map { "exited with status \($0)" } ?? "did not get ready in time"
        let tail = lines.suffix(12).map { "  \($0)" }.joined(separator: "\n")
        return "river up: \(name) \(status)\(tail.isEmpty ? "" : ":\n\(tail)")"
    }
}
