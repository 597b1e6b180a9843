import CZMQ
import RiverCore
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// Wakes an I/O thread blocked in `zmq_poll` from any thread: an eventfd the poll set includes.
///
/// Writes are coalesced: only the first `signal` after the I/O thread's `reset` pays a syscall,
/// so a burst of completions costs one wake-up.
final class Wakeup: Sendable {
    let fd: Int32
    private let armed = Atomic<Bool>(false)

    init() {
        fd = river_wakeup_fd()
        precondition(fd >= 0, "eventfd failed: errno \(errno)")
    }

    deinit { Glibc.close(fd) }

    func signal() {
        guard !armed.exchange(true, ordering: .acquiringAndReleasing) else { return }
        var one: UInt64 = 1
        _ = write(fd, &one, 8)
    }

    /// Called by the I/O thread before it looks at the shared queues. Draining the fd before
    /// disarming matters: a `signal` in between finds the flag still set and skips its write, but
    /// its item is already queued and the caller looks at the queue next.
    func reset() {
        var value: UInt64 = 0
        _ = read(fd, &value, 8)
        armed.store(false, ordering: .sequentiallyConsistent)
    }
}

/// The one thread a libzmq shell (client or worker) runs its socket loop on, so its sockets are
/// only ever touched by that thread; with the eventfd that wakes the loop and the flag that ends it.
final class LoopThread: Sendable {
    let wakeup = Wakeup()
    private let stopping = Atomic<Bool>(false)
    private let handle = Mutex<pthread_t?>(nil)

    /// Starts the thread, named `name` (15 characters at most show in `top -H`).
    func start(name: String, _ body: @escaping @Sendable () -> Void) {
        let thread = startThread(name: name, body)
        handle.withLock { $0 = thread }
    }

    /// True once `stop` was called: the loop checks this each turn.
    var isStopping: Bool { stopping.load(ordering: .acquiring) }

    /// Ends the loop and waits for the thread to finish. Idempotent.
    func stop() {
        guard !stopping.exchange(true, ordering: .acquiringAndReleasing) else { return }
        wakeup.signal()
        if let thread = handle.withLock({ $0 }) { pthread_join(thread, nil) }
    }
}

/// Starts a named POSIX thread running `body` that nobody joins: its resources go back to the
/// system when `body` returns.
func startDetachedThread(name: String, _ body: @escaping @Sendable () -> Void) {
    pthread_detach(startThread(name: name, body))
}

/// Starts a named POSIX thread running `body`.
private func startThread(name: String, _ body: @escaping @Sendable () -> Void) -> pthread_t {
    final class Box {
        let body: @Sendable () -> Void
        let name: String
        init(_ body: @escaping @Sendable () -> Void, _ name: String) {
            self.body = body
            self.name = name
        }
    }
    let box = Unmanaged.passRetained(Box(body, name)).toOpaque()
    var thread = pthread_t()
    let result = pthread_create(
        &thread, nil,
        { raw in
            let box = Unmanaged<Box>.fromOpaque(raw!).takeRetainedValue()
            river_name_thread(String(box.name.prefix(15)))
            box.body()
            return nil
        }, box)
    precondition(result == 0, "pthread_create failed: \(result)")
    return thread
}

/// Builds `zmq_poll` items: sockets and plain file descriptors, polled for input.
struct PollSet {
    var items: [zmq_pollitem_t] = []

    mutating func removeAll() { items.removeAll(keepingCapacity: true) }

    mutating func add(_ socket: ZMQSocket) {
        items.append(zmq_pollitem_t(socket: socket.handle, fd: 0, events: Int16(ZMQ_POLLIN), revents: 0))
    }

    mutating func add(fd: Int32) {
        items.append(zmq_pollitem_t(socket: nil, fd: fd, events: Int16(ZMQ_POLLIN), revents: 0))
    }

    /// Waits until an item is readable or `until` passes, at most a second.
    mutating func wait(until: Instant) {
        // zmq_poll counts whole milliseconds: round up, so the loop never wakes just before
        // `until` and spins on a zero timeout.
        let left = min((until - .now).nanosecondsClamped, 1_000_000_000)
        let millis = left <= 0 ? 0 : Int((left + 999_999) / 1_000_000)
        _ = zmq_poll(&items, Int32(items.count), millis)
    }

    func readable(_ index: Int) -> Bool { items[index].revents & Int16(ZMQ_POLLIN) != 0 }
}
