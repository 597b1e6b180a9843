import Synchronization

/// The part of an association that usrsctp's callbacks may touch from any thread.
///
/// usrsctp gives our callbacks a `void*`; instead of an `Unmanaged` pointer to this object we
/// give it a never-reused integer key that ``UsrsctpRuntime`` maps back to the bridge under a
/// lock. usrsctp can still fire a late timer for an address after the socket is closed (an
/// ABORT or SHUTDOWN retransmission), and an unknown key is then simply ignored, where a
/// released pointer would be a use-after-free.
///
/// `@unchecked Sendable` is safe because every stored property is either immutable, protected
/// by a `Mutex`/`Atomic`, or (`association`) only read and written on the owner's executor.
final class UsrsctpBridge: @unchecked Sendable {
    let key: UInt
    let executor: any SCTPExecutor
    /// Outgoing SCTP packets in the order usrsctp produced them, waiting for the owner.
    private let outbox = Mutex<[[UInt8]]>([])
    /// Set while a job to drain the outbox and service the socket is queued, so that a burst of
    /// callbacks costs one job.
    private let jobQueued = Atomic<Bool>(false)
    /// Only touched on the owner's executor.
    weak var association: SCTPAssociation?

    init(key: UInt, executor: any SCTPExecutor) {
        self.key = key
        self.executor = executor
    }

    /// From usrsctp's output callback, any thread.
    func enqueueOutput(_ packet: [UInt8]) {
        outbox.withLock { $0.append(packet) }
        scheduleJob()
    }

    /// From usrsctp's socket upcall (data readable, send space freed, error), any thread.
    func socketReady() {
        scheduleJob()
    }

    private func scheduleJob() {
        guard !jobQueued.exchange(true, ordering: .acquiringAndReleasing) else { return }
        executor.execute { [self] in
            jobQueued.store(false, ordering: .releasing)
            association?.runQueuedWork()
        }
    }

    /// Takes the packets waiting to go out; called on the owner's executor.
    func takeOutput() -> [[UInt8]] {
        outbox.withLock { packets in
            defer { packets.removeAll(keepingCapacity: true) }
            return packets
        }
    }
}
