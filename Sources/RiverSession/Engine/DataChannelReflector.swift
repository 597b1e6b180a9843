import RiverSCTP

/// `river serve --reflect` for data channels: every message comes back on the channel it
/// arrived on, and the server opens a channel of its own (``serverLabel``) and sends
/// ``serverMessageCount`` messages on it; when the page answers on that channel, river closes
/// it. So a page can check opening and closing from both sides.
///
/// A channel whose sub-protocol is ``sinkProtocol`` is a throughput sink instead: binary messages
/// are counted, not echoed, and the text message `done` is answered with
/// `{"bytes":N,"messages":M}`, which lets a page time one-way transfer to river.
///
/// Echoing must not buffer without bound: when a channel's send buffer is full, the message
/// waits (one per association) and reading stops, so the browser's SCTP window closes until
/// ``SCTPAssociation/Event/bufferedAmountLow(_:)`` lets the echo continue.
///
/// Runs on the association's executor (the session's event loop); the session's
/// ``DataChannelAdapter`` hands it every association event.
final class DataChannelReflector {
    static let serverLabel = "river-server"
    static let serverMessageCount = 20
    static let sinkProtocol = "river-sink"

    private let association: SCTPAssociation
    private var waiting: (channel: DataChannel, message: DataChannelMessage)?
    private var sinkBytes: [UInt16: Int] = [:]
    private var sinkMessages: [UInt16: Int] = [:]

    init(association: SCTPAssociation) {
        self.association = association
    }

    func handle(_ event: SCTPAssociation.Event) {
        switch event {
        case .connected:
            openServerChannel()
        case .message(let channel, let message):
            if channel.parameters.protocol == Self.sinkProtocol {
                sink(message, on: channel)
            } else if !channel.openedByPeer {
                channel.close()  // the page has read our messages
            } else {
                echo(message, on: channel)
            }
        case .bufferedAmountLow(let channel):
            guard let pending = waiting, pending.channel === channel else { return }
            waiting = nil
            echo(pending.message, on: channel)
            if waiting == nil { association.isReadingPaused = false }
        case .channelClosed(let channel):
            if waiting?.channel === channel {
                waiting = nil
                association.isReadingPaused = false
            }
            sinkBytes[channel.id] = nil
            sinkMessages[channel.id] = nil
        case .channelOpened, .closed:
            break
        }
    }

    private func echo(_ message: DataChannelMessage, on channel: DataChannel) {
        do {
            try channel.send(message)
        } catch .bufferFull {
            waiting = (channel, message)
            association.isReadingPaused = true
        } catch {
            // Closed channel or a message the peer cannot take: nothing to echo to.
        }
    }

    private func sink(_ message: DataChannelMessage, on channel: DataChannel) {
        if message.kind == .text, message.text == "done" {
            let reply =
                "{\"bytes\":\(sinkBytes[channel.id, default: 0]),\"messages\":\(sinkMessages[channel.id, default: 0])}"
            try? channel.send(text: reply)
            sinkBytes[channel.id] = 0
            sinkMessages[channel.id] = 0
        } else {
            sinkBytes[channel.id, default: 0] += message.payload.count
            sinkMessages[channel.id, default: 0] += 1
        }
    }

    private func openServerChannel() {
        guard let channel = try? association.openChannel(label: Self.serverLabel) else { return }
        for index in 0..<Self.serverMessageCount {
            if index % 2 == 0 {
                try? channel.send(text: "server message \(index)")
            } else {
                try? channel.send(binary: (0..<(index * 100)).map { UInt8(truncatingIfNeeded: $0 &+ index) })
            }
        }
    }
}
