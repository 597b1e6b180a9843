import RiverCore
import RiverTestSupport
import Synchronization
import Testing

@testable import RiverBroker

#if canImport(Glibc)
    import Glibc
#endif

/// What slot threads did, shared with the test.
private final class Record: Sendable {
    let threads = Mutex<Set<pthread_t>>([])
    let completions = Mutex<[SlotPool.Completion]>([])
    let running = Atomic<Int>(0)
    let peak = Atomic<Int>(0)
    let release = Atomic<Bool>(false)

    var finished: Int { completions.withLock { $0.count } }
}

private struct Refused: Error {}

private func job(_ ticket: UInt64) -> SlotPool.Job {
    let header = RequestHeader(
        requestID: ticket * 10, streamID: 1, rtpTimestamp: 0, budgetMicros: 1_000_000, width: 1, height: 1,
        format: .rgb24, strides: [3], offsets: [0], byteCount: 3)
    return SlotPool.Job(
        request: WorkRequest(
            header: header, deadline: Instant.now + .seconds(1), pixels: ReceivedPixels(ZMQMessage())),
        ticket: ticket, receivedAt: .now)
}

@Suite struct SlotPoolTests {
    @Test func runsEveryJobOnTheSameFewThreadsAndReportsFailures() async {
        let record = Record()
        let pool = SlotPool(
            slots: 2, name: "test-slot",
            handler: { request in
                record.threads.withLock { _ = $0.insert(pthread_self()) }
                if request.header.requestID == 30 { throw Refused() }
                return WorkResult(document: [1])
            },
            deliver: { completion in record.completions.withLock { $0.append(completion) } })
        defer { pool.close() }
        for ticket in 1...50 { pool.submit(job(UInt64(ticket))) }
        #expect(await waitUntil { record.finished == 50 })
        // Started once: 50 jobs, never more than the two slot threads.
        #expect(record.threads.withLock { $0.count } <= 2)
        let completions = record.completions.withLock { $0 }
        #expect(Set(completions.map(\.ticket)) == Set(1...50))
        #expect(completions.allSatisfy { $0.requestID == $0.ticket * 10 })
        let failed = completions.filter {
            if case .failure = $0.result { return true }
            return false
        }
        #expect(failed.map(\.ticket) == [3])
    }

    @Test func runsAsManyAtOnceAsItHasSlotsAndCloseDropsWhatWaits() async {
        let record = Record()
        let pool = SlotPool(
            slots: 3, name: "test-slot",
            handler: { _ in
                let now = record.running.add(1, ordering: .relaxed).newValue
                record.peak.max(now, ordering: .relaxed)
                while !record.release.load(ordering: .acquiring) { usleep(1000) }
                record.running.subtract(1, ordering: .relaxed)
                return WorkResult(document: [])
            },
            deliver: { completion in record.completions.withLock { $0.append(completion) } })
        for ticket in 1...3 { pool.submit(job(UInt64(ticket))) }
        #expect(await waitUntil { record.running.load(ordering: .relaxed) == 3 })
        // Queued behind three busy slots, then dropped by close: never run.
        pool.submit(job(4))
        pool.close()
        pool.submit(job(5))
        record.release.store(true, ordering: .releasing)
        #expect(await waitUntil { record.finished == 3 })
        try? await Task.sleep(for: .milliseconds(50))
        #expect(record.finished == 3)
        #expect(record.peak.load(ordering: .relaxed) == 3)
    }

    @Test func underLightLoadTheThreadIdleLastTakesTheNextJob() async {
        let record = Record()
        let pool = SlotPool(
            slots: 8, name: "test-slot",
            handler: { _ in
                record.threads.withLock { _ = $0.insert(pthread_self()) }
                return WorkResult(document: [])
            },
            deliver: { completion in record.completions.withLock { $0.append(completion) } })
        defer { pool.close() }
        // Let all eight threads start and go to sleep first.
        try? await Task.sleep(for: .milliseconds(100))
        for ticket in 1...10 {
            pool.submit(job(UInt64(ticket)))
            #expect(await waitUntil { record.finished == ticket })
            // Time for the thread to go back to sleep before the next job comes.
            try? await Task.sleep(for: .milliseconds(10))
        }
        #expect(record.threads.withLock { $0.count } == 1)
    }
}
