import Foundation
import RiverBroker
import Synchronization
import Testing

@testable import RiverServe

#if canImport(Glibc)
    import Glibc
#endif

/// A worker process with the real CenterFace model, killed with SIGKILL mid-stream (no DISCONNECT:
/// the proxy notices by missed heartbeats), then a new one started.
@Suite(.serialized) struct PipelineWorkerKillTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    /// A `river onnx` process, killed with SIGKILL by `kill()`; callers `defer { worker.kill() }`.
    final class Worker: @unchecked Sendable {
        // @unchecked: the Process is started in init and only signalled afterwards.
        let process = Process()

        init(backend: String) throws {
            let binary = root.appendingPathComponent(".build/debug/river").path
            let model = root.appendingPathComponent("models/centerface.onnx").path
            try #require(
                FileManager.default.isExecutableFile(atPath: binary),
                "build the river binary first (swift build --build-tests): \(binary)")
            try #require(
                FileManager.default.fileExists(atPath: model), "run scripts/setup.sh: \(model) missing")
            process.executableURL = URL(fileURLWithPath: binary)
            process.arguments = [
                "onnx", "--connect", backend, "--model", model, "--threads", "1", "--heartbeat-ms",
                "100",  // PipelineStreamTests.heartbeat
            ]
            process.standardOutput = FileHandle.nullDevice
            process.standardError = FileHandle.nullDevice
            try process.run()
        }

        func kill() {
            guard process.isRunning else { return }
            Glibc.kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
    }

    @Test func killedWorkerFramesSayWhyVideoKeepsFlowingAndResultsResume() async throws {
        let broker = try PipelineStreamTests.Broker()
        defer { broker.stop() }
        let first = try Worker(backend: broker.proxy.backendEndpoint)
        defer { first.kill() }
        try await broker.waitForWorkers(1)
        let harness = try PipelineStreamTests.Harness(delay: .milliseconds(1500), backend: broker.client)
        defer { harness.stop() }
        let frames = try PipelineStreamTests.frames(loops: 4)  // 8 s
        let second = Mutex<Worker?>(nil)
        defer { second.withLock { $0?.kill() } }
        let killedAt = Mutex<UInt64>(.max)
        let restartedAt = Mutex<UInt64>(.max)
        try await harness.play(frames) { i in
            if i == 60 {
                first.kill()
                killedAt.withLock { $0 = PipelineClock.now() }
            }
            if i == 120 {
                let worker = try Worker(backend: broker.proxy.backendEndpoint)
                second.withLock { $0 = worker }
                restartedAt.withLock { $0 = PipelineClock.now() }
            }
        }
        try await harness.drain(frames: frames.count, packets: frames.reduce(0) { $0 + $1.count })
        let all = harness.sink.all
        #expect(all.count == frames.count)
        #expect(Set(all.map(\.0.rtpTimestamp)).count == frames.count)
        let statuses = all.map(\.0.status)
        #expect(
            statuses.allSatisfy { [.ok, .saturated, .expired, .noWorker, .workerLost].contains($0) },
            "\(Set(statuses))")
        let killed = killedAt.withLock { $0 }
        let restarted = restartedAt.withLock { $0 }
        // Real results before the kill and after the new worker loaded its model.
        #expect(all.filter { $0.1 < killed && $0.0.status == .ok }.count >= 3)
        #expect(all.filter { $0.1 > restarted && $0.0.status == .ok }.count >= 3)
        // In between, frames say why they have none.
        let told = all.filter { $0.1 > killed && ($0.0.status == .noWorker || $0.0.status == .workerLost) }
        #expect(told.count >= 20, "frames told noWorker/workerLost: \(told.count)")
        #expect(all.allSatisfy { $0.0.status != .ok || $0.0.detections != nil })
        // The video never stopped.
        #expect(harness.sent.withLock { $0.count } == frames.reduce(0) { $0 + $1.count })
    }
}
