import Foundation
import RiverBroker
import RiverCore
import RiverResults
import RiverSession

/// Runs inference on one decoded frame, in river's own terms: the broker client in `river serve`, a
/// scripted stand-in in tests. `completion` may run on any thread and must not block.
public protocol InferenceBackend: Sendable {
    func infer(
        _ frame: VideoFrame, streamID: UInt64, deadline: Instant,
        completion: @escaping @Sendable (InferenceOutcome) -> Void)

    /// The size decoded frames should be scaled down to fit before they are sent (the models'
    /// input, docs/protocol.md), or nil to send them at their own size. Read once per unit decoded.
    var frameBox: FrameSize? { get }
}

extension InferenceBackend {
    public var frameBox: FrameSize? { nil }
}

extension BrokerClient: InferenceBackend {
    public var frameBox: FrameSize? { capacity?.input }

    public func infer(
        _ frame: VideoFrame, streamID: UInt64, deadline: Instant,
        completion: @escaping @Sendable (InferenceOutcome) -> Void
    ) {
        submit(frame: frame, streamID: streamID, deadline: deadline) { result in
            completion(Self.outcome(result))
        }
    }

    /// A worker's reply (a result document, docs/results.md) or the broker's reason for none.
    static func outcome(_ result: Result<BrokerReply, BrokerError>) -> InferenceOutcome {
        switch result {
        case .success(let reply):
            let compute = Duration.microseconds(Int64(reply.timings.computeMicros))
            guard reply.status == .ok,
                let document = try? JSONDecoder().decode(InferenceResult.self, from: Data(reply.document))
            else { return .reply(detections: nil, compute: compute) }
            return .reply(detections: document.detections, compute: compute)
        case .failure(let error):
            return .failed(status(for: error))
        }
    }

    /// Why a request without a reply has no result, in the page's words.
    static func status(for error: BrokerError) -> ResultMessage.Status {
        switch error {
        case .rejected(_, let code, _):
            switch code {
            case .expired: .expired
            case .workerLost: .workerLost
            case .noWorker: .noWorker
            case .overloaded: .saturated
            case .workerFailed, .malformed, .badVersion: .workerFailed
            }
        case .timedOut: .expired
        case .notConnected: .noWorker
        case .connectionLost, .closed: .workerLost
        case .invalidFrame: .workerFailed
        }
    }
}
