import Logging
import NIOCore
import RiverSCTP
import RiverWebRTC

/// `river serve --proxy …` for one browser: wires a ``PeerConnection``'s events to a
/// ``PipelineStream`` and sends result messages on the data channel labelled `river` that the page
/// opens.
///
/// `@unchecked Sendable`: created off-loop, but all state is touched on the connection's event loop.
final class PipelineSession: @unchecked Sendable {
    static let resultChannelLabel = "river"

    let connection: PeerConnection
    private var stream: PipelineStream?
    private var association: SCTPAssociation?
    private var resultChannel: DataChannel?
    private let logger: Logger
    /// Results that could not be sent (no channel yet, or its buffer full).
    private(set) var resultsUndelivered = 0
    private(set) var resultsSent = 0
    var onClosed: (() -> Void)?

    init(connection: PeerConnection, logger: Logger) {
        self.connection = connection
        self.logger = logger
    }

    /// Hooks the connection's events (event loop only). `makeStream` builds the media path with a
    /// sink that lands in ``sendResult(_:)``.
    func start(makeStream: (any ResultSink) throws -> PipelineStream) rethrows {
        connection.eventLoop.preconditionInEventLoop()
        let stream = try makeStream(ChannelResultSink(session: self, eventLoop: connection.eventLoop))
        self.stream = stream
        connection.onSCTPAssociation = { [self] association in
            self.association = association
            association.onEvent = { [weak self] event in self?.handle(event) }
        }
        connection.onEvent = { [self] event in
            switch event {
            case .connected:
                stream.start()
            case .rtp(let packet):
                stream.receive(rtp: packet)
            case .rtcp(let compound):
                stream.receive(rtcp: compound)
            case .applicationData:
                break  // only without a negotiated association; results need one
            case .closed:
                logger.info(
                    "session ended: \(resultsSent) results sent, \(resultsUndelivered) undelivered; \(stream.summary)"
                )
                stream.stop()
                self.stream = nil
                resultChannel = nil
                association = nil
                onClosed?()
                onClosed = nil
            }
        }
    }

    private func handle(_ event: SCTPAssociation.Event) {
        switch event {
        case .channelOpened(let channel) where channel.label == Self.resultChannelLabel:
            logger.info("results channel open (stream \(channel.id))")
            resultChannel = channel
        case .channelClosed(let channel) where channel === resultChannel:
            resultChannel = nil
        case .message, .channelOpened, .channelClosed, .bufferedAmountLow, .connected, .closed:
            break  // the page sends nothing on `river`; other channels are not ours
        }
    }

    /// Sends one result message on `river` (event loop). Results are only useful before their frame
    /// is shown, so one that cannot be sent now is dropped and counted, never queued.
    func sendResult(_ message: ResultMessage) {
        guard let channel = resultChannel else {
            resultsUndelivered += 1
            return
        }
        do {
            try channel.send(text: message.json())
            resultsSent += 1
        } catch {
            resultsUndelivered += 1
        }
    }
}

/// Hands the pipeline thread's results to the session on its event loop.
private struct ChannelResultSink: ResultSink {
    weak var session: PipelineSession?
    let eventLoop: EventLoop

    func deliver(_ message: ResultMessage) {
        eventLoop.execute { [session] in session?.sendResult(message) }
    }
}
