import RiverResults
import RiverSCTP

/// A session's data channels (RFC 8831/8832 over SCTP over DTLS, RFC 8261): the channel labelled
/// ``resultChannelLabel`` that the page opens carries result messages; with `echo` (reflect mode)
/// a ``DataChannelReflector`` answers every other channel.
///
/// Result messages are only useful before their frame is shown, so one that cannot be sent now (no
/// channel yet, or its buffer full) is dropped and counted by the engine, never queued.
final class DataChannelAdapter {
    static let resultChannelLabel = "river"

    private let association: SCTPAssociation
    private var reflector: DataChannelReflector?
    private var resultChannel: DataChannel?
    private let onChannelOpened: (String) -> Void

    init(
        configuration: SCTPConfiguration, executor: any SCTPExecutor, echo: Bool,
        output: @escaping ([UInt8]) -> Void, onChannelOpened: @escaping (String) -> Void
    ) throws {
        association = try SCTPAssociation(configuration: configuration, executor: executor, output: output)
        self.onChannelOpened = onChannelOpened
        if echo { reflector = DataChannelReflector(association: association) }
        association.onEvent = { [weak self] event in self?.handle(event) }
    }

    /// The association's counters (what its bounds refused among them).
    var statistics: SCTPAssociationStatistics { association.statistics }

    /// The plaintext of one DTLS application-data record: an SCTP packet.
    func receive(_ packet: [UInt8]) {
        association.receive(packet)
    }

    /// Sends one result on `river`; false when it could not be sent now.
    /// Sends one result message's JSON text (``ResultMessage/json()``) on channel `river`.
    func sendResult(json: String) -> Bool {
        guard let channel = resultChannel else { return false }
        return (try? channel.send(text: json)) != nil
    }

    func close() {
        association.onEvent = nil
        association.close()
        reflector = nil
        resultChannel = nil
    }

    private func handle(_ event: SCTPAssociation.Event) {
        switch event {
        case .channelOpened(let channel):
            if channel.label == Self.resultChannelLabel { resultChannel = channel }
            onChannelOpened(channel.label)
        case .channelClosed(let channel) where channel === resultChannel:
            resultChannel = nil
        default:
            break
        }
        reflector?.handle(event)
    }
}
