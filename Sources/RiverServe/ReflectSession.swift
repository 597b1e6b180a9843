import NIOCore
import RiverRTP
import RiverWebRTC

/// `river serve --reflect` for one browser: runs a ``ReflectLoop`` on the connection's events.
///
/// `@unchecked Sendable`: created off-loop, but all state is touched on the connection's event loop.
final class ReflectSession: @unchecked Sendable {
    let connection: PeerConnection
    private var loop: ReflectLoop
    private var feedbackTimer: RepeatedTask?
    private var dataChannels: DataChannelReflector?
    var onClosed: (() -> Void)?

    init(connection: PeerConnection, payloadType: UInt8, outgoingSSRC: UInt32, rembBitrate: UInt64) {
        self.connection = connection
        self.loop = ReflectLoop(
            payloadType: payloadType, outgoingSSRC: outgoingSSRC, rembBitrate: rembBitrate)
    }

    /// Hooks the connection's events (event loop only).
    func start() {
        connection.eventLoop.preconditionInEventLoop()
        connection.onSCTPAssociation = { [self] in dataChannels = DataChannelReflector(association: $0) }
        connection.onEvent = { [self] event in
            switch event {
            case .connected:
                // REMB early and often: Chromium trusts a receiver estimate in its first seconds
                // (its start phase) and jumps to it instead of ramping slowly.
                feedbackTimer = connection.eventLoop.scheduleRepeatedTask(
                    initialDelay: .milliseconds(100), delay: .milliseconds(250)
                ) { [weak self] _ in
                    guard let self, let report = loop.periodicReport(now: .now) else { return }
                    connection.send(rtcp: report)
                }
            case .rtp(let packet):
                if let out = loop.reflect(packet) { connection.send(rtp: out) }
            case .rtcp(let compound):
                if let pli = loop.receiveRTCP(compound, now: .now) { connection.send(rtcp: pli) }
            case .applicationData:
                break  // never sent while an SCTP association consumes it (DataChannelReflector)
            case .closed:
                feedbackTimer?.cancel()
                feedbackTimer = nil
                dataChannels = nil
                onClosed?()
                onClosed = nil
            }
        }
    }
}
