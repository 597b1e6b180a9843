import CUsrsctp
import Foundation
import Synchronization

/// The process-wide usrsctp stack: initialised once, driven by one timer thread, and the
/// registry that maps usrsctp's `void*` callback context back to an association.
///
/// **Why `usrsctp_init_nothreads`.** `usrsctp_init` starts a timer thread and, in builds with
/// INET/INET6 such as Debian's, opens raw IPPROTO_SCTP sockets with receive threads. As root
/// (containers) those succeed, so the process would also speak SCTP directly on the host's
/// network, which river never wants: all SCTP here runs over DTLS in AF_CONN mode (RFC 8261).
/// With `usrsctp_init_nothreads` no socket is opened and no timer thread started; we drive
/// usrsctp's clock ourselves with `usrsctp_handle_timers` from one thread ("river.usrsctp.timers",
/// see ``UsrsctpTimerThread``: it ticks every 10 ms while an association exists and parks while
/// none does).
/// usrsctp still starts its "SCTP iterator" thread (always, in `sctp_pcb_init`) for
/// endpoint-wide work. So callbacks can arrive on our timer thread, that iterator thread or an
/// owner's thread inside `receive`/`send`; `UsrsctpBridge` treats them all alike.
///
/// usrsctp is never finished (`usrsctp_finish`): it lives as long as the process.
final class UsrsctpRuntime: Sendable {
    static let shared = UsrsctpRuntime()

    /// How often usrsctp's clock advances; its timers have 10 ms granularity at best.
    static let tickInterval: Duration = .milliseconds(10)

    /// Drives usrsctp's clock; told of every association that registers and unregisters.
    let timers = UsrsctpTimerThread(name: "river.usrsctp.timers", interval: tickInterval) {
        usrsctp_handle_timers($0)
    }

    private let bridges = Mutex<[UInt: UsrsctpBridge]>([:])
    private let nextKey = Atomic<UInt>(1)

    private init() {
        river_usrsctp_init_nothreads(usrsctpOutput)
        // RFC 8831 §6.1: data channels need PR-SCTP and stream reconfiguration.
        usrsctp_sysctl_set_sctp_pr_enable(1)
        usrsctp_sysctl_set_sctp_reconfig_enable(1)
    }

    /// Registers a new association's bridge and returns it; its key is the `void*` usrsctp will
    /// hand back in callbacks.
    func register(executor: any SCTPExecutor) -> UsrsctpBridge {
        let key = nextKey.add(1, ordering: .relaxed).oldValue
        let bridge = UsrsctpBridge(key: key, executor: executor)
        bridges.withLock { $0[key] = bridge }
        timers.associationOpened()
        return bridge
    }

    func unregister(_ key: UInt) {
        if bridges.withLock({ $0.removeValue(forKey: key) }) != nil { timers.associationClosed() }
    }

    func bridge(for context: UnsafeMutableRawPointer?) -> UsrsctpBridge? {
        guard let context else { return nil }
        let key = UInt(bitPattern: context)
        return bridges.withLock { $0[key] }
    }

    /// Associations whose usrsctp socket is open.
    var registeredCount: Int { bridges.withLock { $0.count } }

    private let channels = Atomic<Int>(0)

    func adjustChannelCount(by delta: Int) {
        if delta != 0 { channels.add(delta, ordering: .relaxed) }
    }

    var channelCount: Int { channels.load(ordering: .relaxed) }
}

/// usrsctp's output hook: one SCTP packet for the association whose key is `addr`. Runs on the
/// timer thread or inside an owner's call into usrsctp; it only copies and queues.
private func usrsctpOutput(
    _ addr: UnsafeMutableRawPointer?, _ buffer: UnsafeMutableRawPointer?, _ length: Int, _ tos: UInt8,
    _ setDF: UInt8
) -> Int32 {
    guard let buffer, let bridge = UsrsctpRuntime.shared.bridge(for: addr) else { return 0 }
    bridge.enqueueOutput(Array(UnsafeRawBufferPointer(start: buffer, count: length)))
    return 0
}

/// usrsctp's socket upcall (`arg` is the key): something changed on the socket.
func usrsctpUpcall(_ socket: OpaquePointer?, _ arg: UnsafeMutableRawPointer?, _ flags: Int32) {
    UsrsctpRuntime.shared.bridge(for: arg)?.socketReady()
}
