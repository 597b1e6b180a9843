import Logging
import RiverBroker
import RiverCore
import Synchronization
import Testing

@testable import RiverServe

@Suite struct FramePipelineTests {
    @Test func everyBrokerFailureBecomesAStatusThePageKnows() {
        let cases: [(BrokerError, ResultMessage.Status)] = [
            (.rejected(requestID: 1, code: .expired, message: ""), .expired),
            (.rejected(requestID: 1, code: .workerLost, message: ""), .workerLost),
            (.rejected(requestID: 1, code: .noWorker, message: ""), .noWorker),
            (.rejected(requestID: 1, code: .overloaded, message: ""), .saturated),
            (.rejected(requestID: 1, code: .workerFailed, message: ""), .workerFailed),
            (.timedOut(requestID: 1), .expired),
            (.notConnected(endpoint: "tcp://127.0.0.1:1"), .noWorker),
            (.connectionLost(requestID: 1), .workerLost),
        ]
        for (error, status) in cases {
            #expect(FramePipeline.status(for: error) == status, "\(error)")
        }
    }

    /// Never called: the units below do not decode.
    struct Unreachable: InferenceBackend {
        func infer(frame: VideoFrame, streamID: UInt64, deadline: ContinuousClock.Instant)
            async throws(BrokerError)
            -> BrokerReply
        {
            throw .closed
        }
    }

    final class Sink: ResultSink {
        let messages = Mutex<[ResultMessage]>([])
        func deliver(_ message: ResultMessage) { messages.withLock { $0.append(message) } }
    }

    @Test func undecodableUnitsSayDecodeErrorAndAskForAKeyframe() async throws {
        let sink = Sink()
        let failures = Atomic<Int>(0)
        let pipeline = FramePipeline(
            streamID: 1, delay: 1_000_000_000, backend: Unreachable(), sink: sink,
            logger: Logger(label: "test"),
            onDecoderFailed: { failures.add(1, ordering: .relaxed) })
        defer { pipeline.close() }
        // A slice NAL unit (type 1) with garbage, no SPS/PPS: libavcodec rejects it.
        for i in 0..<3 {
            pipeline.submit(
                .init(
                    annexB: [0, 0, 0, 1, 0x41, 0x9A, 0xFF, 0x00, 0x13, 0x37],
                    outputTimestamp: UInt32(i * 3000),
                    arrival: PipelineClock.now(), receivedAt: 0))
        }
        for _ in 0..<200 where sink.messages.withLock({ $0.count }) < 3 {
            try await Task.sleep(for: .milliseconds(10))
        }
        let messages = sink.messages.withLock { $0 }
        #expect(messages.map(\.status) == [.decodeError, .decodeError, .decodeError])
        #expect(messages.map(\.rtpTimestamp) == [0, 3000, 6000])
        #expect(failures.load(ordering: .relaxed) == 3)
        #expect(pipeline.counters.decodeErrors == 3)
    }
}
