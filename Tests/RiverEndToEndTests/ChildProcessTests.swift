import Foundation
import Testing

/// The process helper every end-to-end test stands on.
@Suite struct ChildProcessTests {
    /// A child started from a test's (Dispatch) thread must still get SIGTERM: drivers clean up
    /// (Chromium's process group) only on SIGTERM, and SIGKILL after 5 s leaves that undone.
    @Test func stopEndsAChildWithSIGTERMNotSIGKILL() async throws {
        let child = try ChildProcess(URL(fileURLWithPath: "/usr/bin/env"), ["sleep", "600"])
        defer { child.stop() }
        #expect(child.process.isRunning)
        let start = ContinuousClock.now
        child.stop()
        #expect(child.process.terminationReason == .uncaughtSignal)
        #expect(
            child.process.terminationStatus == SIGTERM, "ended by signal \(child.process.terminationStatus)")
        #expect(ContinuousClock.now - start < .seconds(3))
    }

    @Test func aChildStartsWithNoSignalBlocked() async throws {
        let child = try ChildProcess(
            URL(fileURLWithPath: "/usr/bin/env"), ["grep", "SigBlk", "/proc/self/status"])
        defer { child.stop() }
        #expect(await child.waitForExit(timeout: .seconds(10)) == 0)
        #expect(
            child.output.trimmingCharacters(in: .whitespacesAndNewlines) == "SigBlk:\t0000000000000000",
            "\(child.output)")
    }
}
