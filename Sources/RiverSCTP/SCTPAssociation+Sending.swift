import CUsrsctp
import RiverCore

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

extension SCTPAssociation {
    /// ``DataChannel/send(_:)``: checks size and buffer limit, queues, flushes.
    func send(_ message: DataChannelMessage, on channel: DataChannel) throws(DataChannelError) {
        guard socket != nil, channels[channel.id] === channel else { throw .closed(channel: channel.id) }
        guard channel.state == .open || channel.state == .connecting else {
            throw .closed(channel: channel.id)
        }
        let size = message.payload.count
        let limit = configuration.peerMaxMessageSize
        if limit > 0, size > limit { throw .messageTooLarge(size: size, limit: limit) }
        guard channel.bufferedAmount + size <= channel.bufferedAmountLimit else {
            throw .bufferFull(bufferedAmount: channel.bufferedAmount, limit: channel.bufferedAmountLimit)
        }
        // At most maxChannels channels, so this sum is short.
        let queued = channels.values.reduce(0) { $0 + $1.bufferedAmount }
        guard queued + size <= configuration.maxBufferedAmount else {
            statistics.sendsOverBudget += 1
            throw .bufferFull(bufferedAmount: queued, limit: configuration.maxBufferedAmount)
        }
        let (ppid, payload) = PayloadProtocolIdentifier.encode(message)
        // RFC 8832 §6: until the ACK arrives, the opener sends ordered, so that no message can
        // overtake the OPEN.
        let unordered = !channel.parameters.ordered && channel.acknowledged
        sendQueue.append(
            OutgoingMessage(
                stream: channel.id, ppid: ppid, payload: payload, countedBytes: size,
                reliability: channel.parameters.reliability, unordered: unordered, enqueued: .now))
        channel.queuedMessages += 1
        channel.bufferedAmount += size
        if channel.bufferedAmount > channel.bufferedAmountLowThreshold { channel.lowWaterArmed = true }
        flushSends()
        flushOutput()
    }

    /// Queues a DCEP message; it is sent reliably and ordered (RFC 8832 §6).
    func enqueueControl(_ message: DCEPMessage, on channel: DataChannel) {
        sendQueue.append(
            OutgoingMessage(
                stream: channel.id, ppid: PayloadProtocolIdentifier.dcep, payload: message.serialized(),
                countedBytes: 0, reliability: .reliable, unordered: false, enqueued: .now))
        channel.queuedMessages += 1
    }

    /// Hands queued messages to usrsctp until it has no room (EWOULDBLOCK; its upcall brings us
    /// back when SACKs free space), then reports low buffers and resets streams of closing
    /// channels whose messages are all out.
    func flushSends() {
        guard state == .connected, !flushingSends else { return }
        flushingSends = true
        var lowChannels: [DataChannel] = []
        while let socket, var message = sendQueue.first {
            if message.raw {
                sendRaw(message, socket: socket)
                continue
            }
            guard let channel = channels[message.stream], channel.state != .closed else {
                sendQueue.popFirst()
                continue
            }
            var lifetimeLeft: UInt32 = 0
            if case .maxPacketLifeTime(let ms) = message.reliability {
                let waited = Instant.now - message.enqueued
                let waitedMs =
                    waited.components.seconds * 1000 + waited.components.attoseconds / 1_000_000_000_000_000
                if message.sent == 0, waitedMs > Int64(ms) {
                    // Expired in our queue: abandon it here, as SCTP would have (RFC 3758).
                    finish(message, of: channel, delivered: false, low: &lowChannels)
                    sendQueue.popFirst()
                    continue
                }
                lifetimeLeft = UInt32(clamping: max(1, Int64(ms) - waitedMs))
            }
            var info = sendInfo(for: message, lifetimeLeft: lifetimeLeft)
            let accepted = message.payload.withUnsafeBytes { bytes in
                usrsctp_sendv(
                    socket, bytes.baseAddress! + message.sent, message.remaining, nil, 0, &info,
                    socklen_t(MemoryLayout<sctp_sendv_spa>.size), UInt32(SCTP_SENDV_SPA), 0)
            }
            if accepted < 0 {
                let code = errno
                if code == EWOULDBLOCK || code == EAGAIN { break }
                // Refused for good (e.g. the stream is being reset): drop it, keep the rest moving.
                finish(message, of: channel, delivered: false, low: &lowChannels)
                sendQueue.popFirst()
                continue
            }
            let uncountedBefore = message.countedRemaining
            message.sent += accepted
            channel.bufferedAmount -= uncountedBefore - message.countedRemaining
            if message.remaining == 0 {
                finish(message, of: channel, delivered: true, low: &lowChannels)
                sendQueue.popFirst()
            } else {
                sendQueue.first = message
                checkLowWater(channel, low: &lowChannels)
                break
            }
        }
        flushingSends = false
        resetClosingStreams()
        for channel in lowChannels where channels[channel.id] === channel {
            emit(.bufferedAmountLow(channel))
        }
    }

    /// Test hook: queues a user message on any stream with any PPID, bypassing channels.
    func enqueueRaw(stream: UInt16, ppid: UInt32, payload: [UInt8]) {
        var message = OutgoingMessage(
            stream: stream, ppid: ppid, payload: payload, countedBytes: 0, reliability: .reliable,
            unordered: false, enqueued: .now)
        message.raw = true
        sendQueue.append(message)
        flushSends()
        flushOutput()
    }

    private func sendRaw(_ message: OutgoingMessage, socket: OpaquePointer) {
        var info = sendInfo(for: message, lifetimeLeft: 0)
        _ = message.payload.withUnsafeBytes { bytes in
            usrsctp_sendv(
                socket, bytes.baseAddress!, bytes.count, nil, 0, &info,
                socklen_t(MemoryLayout<sctp_sendv_spa>.size), UInt32(SCTP_SENDV_SPA), 0)
        }
        sendQueue.popFirst()
    }

    private func finish(
        _ message: OutgoingMessage, of channel: DataChannel, delivered: Bool, low: inout [DataChannel]
    ) {
        channel.queuedMessages -= 1
        channel.bufferedAmount -= message.countedRemaining
        if message.ppid != PayloadProtocolIdentifier.dcep {
            if delivered {
                statistics.messagesSent += 1
                statistics.bytesSent += message.countedBytes
            } else {
                statistics.abandonedMessages += 1
            }
        }
        checkLowWater(channel, low: &low)
    }

    private func checkLowWater(_ channel: DataChannel, low: inout [DataChannel]) {
        if channel.lowWaterArmed, channel.bufferedAmount <= channel.bufferedAmountLowThreshold {
            channel.lowWaterArmed = false
            low.append(channel)
        }
    }

    private func sendInfo(for message: OutgoingMessage, lifetimeLeft: UInt32) -> sctp_sendv_spa {
        var info = sctp_sendv_spa()
        info.sendv_flags = UInt32(SCTP_SEND_SNDINFO_VALID)
        info.sendv_sndinfo.snd_sid = message.stream
        // The socket API carries the PPID opaquely, i.e. in network byte order.
        info.sendv_sndinfo.snd_ppid = message.ppid.bigEndian
        // With explicit EOR, a piece ends its message only if it carries SCTP_EOR and usrsctp
        // takes all of it; a partial take leaves the message open for the next call.
        var flags = UInt16(SCTP_EOR)
        if message.unordered { flags |= UInt16(SCTP_UNORDERED) }
        info.sendv_sndinfo.snd_flags = flags
        switch message.reliability {
        case .reliable:
            break
        case .maxRetransmits(let count):
            info.sendv_flags |= UInt32(SCTP_SEND_PRINFO_VALID)
            info.sendv_prinfo.pr_policy = UInt16(SCTP_PR_SCTP_RTX)
            info.sendv_prinfo.pr_value = count
        case .maxPacketLifeTime:
            info.sendv_flags |= UInt32(SCTP_SEND_PRINFO_VALID)
            info.sendv_prinfo.pr_policy = UInt16(SCTP_PR_SCTP_TTL)
            info.sendv_prinfo.pr_value = lifetimeLeft
        }
        return info
    }

    /// ``DataChannel/close()``.
    func close(_ channel: DataChannel) {
        guard channels[channel.id] === channel else { return }
        switch channel.state {
        case .closing, .closed: return
        case .connecting, .open: channel.state = .closing
        }
        resetClosingStreams()
        flushOutput()
    }

    /// Resets the outgoing stream of every closing channel with nothing left in our queue
    /// (RFC 8831 §6.7); usrsctp itself holds the reset until the stream's data has gone out.
    func resetClosingStreams() {
        guard state == .connected, let socket else { return }
        for channel in channels.values
        where channel.state == .closing && channel.queuedMessages == 0 && !channel.outgoingResetRequested {
            channel.outgoingResetRequested = true
            if river_usrsctp_reset_outgoing_stream(socket, channel.id) != 0 {
                // Nothing more we can do for this direction; do not keep the channel forever.
                channel.outgoingReset = true
                finishClosingIfDone(channel)
            }
        }
    }

    /// A channel is closed once both directions of its stream were reset.
    func finishClosingIfDone(_ channel: DataChannel) {
        guard channel.outgoingReset, channel.incomingReset, channels[channel.id] === channel else { return }
        channels[channel.id] = nil
        reassembler.discard(stream: channel.id)
        channel.state = .closed
        channel.bufferedAmount = 0
        emit(.channelClosed(channel))
    }
}
