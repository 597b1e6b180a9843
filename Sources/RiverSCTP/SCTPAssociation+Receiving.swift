import CUsrsctp

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

extension SCTPAssociation {
    /// Notifications are small except SEND_FAILED, which carries the failed message; we keep
    /// only this much of any notification.
    static let notificationKeep = 4096

    /// Reads everything usrsctp has for us: messages (possibly in pieces) and notifications.
    func drainReads() {
        while let socket, !isReadingPaused {
            var info = sctp_rcvinfo()
            var infoLength = socklen_t(MemoryLayout<sctp_rcvinfo>.size)
            var infoType: UInt32 = 0
            var flags: Int32 = 0
            let count = readBuffer.withUnsafeMutableBytes { buffer in
                usrsctp_recvv(
                    socket, buffer.baseAddress, buffer.count, nil, nil, &info, &infoLength, &infoType, &flags)
            }
            if count < 0 { return }  // EWOULDBLOCK, or not connected yet
            if count == 0 {
                // End of stream: the association is gone (normally announced by ASSOC_CHANGE first).
                teardown(reason: .peerClosed, notify: true)
                return
            }
            let end = flags & Int32(MSG_EOR) != 0
            if flags & Int32(MSG_NOTIFICATION) != 0 {
                let room = max(0, Self.notificationKeep - notificationBuffer.count)
                notificationBuffer.append(contentsOf: readBuffer[0..<min(count, room)])
                if end {
                    let notification = notificationBuffer
                    notificationBuffer.removeAll(keepingCapacity: true)
                    handleNotification(notification)
                }
                continue
            }
            guard infoType == UInt32(SCTP_RECVV_RCVINFO) else { continue }
            let piece = readBuffer.withUnsafeBytes { buffer in
                reassembler.append(
                    stream: info.rcv_sid, ppid: UInt32(bigEndian: info.rcv_ppid),
                    piece: UnsafeRawBufferPointer(rebasing: buffer[0..<count]), end: end)
            }
            switch piece {
            case .none: break
            case .oversized: statistics.oversizedMessages += 1
            case .message(let stream, let ppid, let payload):
                handleUserMessage(stream: stream, ppid: ppid, payload)
            }
        }
    }

    /// One whole SCTP user message: DCEP or channel data.
    func handleUserMessage(stream: UInt16, ppid: UInt32, _ payload: [UInt8]) {
        if ppid == PayloadProtocolIdentifier.dcep {
            handleDCEP(stream: stream, payload)
            return
        }
        guard let channel = channels[stream], !channel.incomingReset else {
            statistics.messagesWithoutChannel += 1
            return
        }
        guard let message = PayloadProtocolIdentifier.decode(ppid: ppid, payload: payload) else {
            statistics.unknownPPID += 1
            return
        }
        statistics.messagesReceived += 1
        statistics.bytesReceived += message.payload.count
        // As in the browser: a channel we are closing delivers nothing more.
        guard channel.state == .open else { return }
        emit(.message(channel, message))
    }

    /// DATA_CHANNEL_OPEN → new channel and ACK; DATA_CHANNEL_ACK → unordered sends allowed.
    func handleDCEP(stream: UInt16, _ payload: [UInt8]) {
        let message: DCEPMessage
        do {
            message = try DCEPMessage(parsing: payload)
        } catch {
            statistics.malformedDCEP += 1
            return
        }
        switch message {
        case .open(let parameters):
            guard isPeerStreamID(stream), channels[stream] == nil else {
                statistics.malformedDCEP += 1
                return
            }
            guard channels.count < configuration.maxChannels else {
                // Refused: no ACK, and our direction of the stream is reset so the peer's channel
                // closes (RFC 8831 §6.7) instead of waiting for an ACK that never comes.
                statistics.channelsRefused += 1
                if state == .connected, let socket { _ = river_usrsctp_reset_outgoing_stream(socket, stream) }
                return
            }
            let channel = DataChannel(
                id: stream, parameters: parameters, openedByPeer: true, state: .open, association: self,
                limit: configuration.bufferedAmountLimit,
                lowThreshold: configuration.bufferedAmountLowThreshold)
            channels[stream] = channel
            enqueueControl(.ack, on: channel)
            flushSends()
            emit(.channelOpened(channel))
        case .ack:
            guard let channel = channels[stream], !channel.openedByPeer, !channel.acknowledged else {
                statistics.malformedDCEP += 1
                return
            }
            channel.acknowledged = true
        }
    }
}
