import CUsrsctp

extension SCTPAssociation {
    /// Acts on one SCTP notification (RFC 6458 §6.1). Layouts come from usrsctp's structs; every
    /// read is bounds-checked against what usrsctp delivered.
    func handleNotification(_ bytes: [UInt8]) {
        guard let type = read(UInt16.self, bytes, at: 0) else { return }
        switch Int32(type) {
        case SCTP_ASSOC_CHANGE:
            guard
                let assocState = read(
                    UInt16.self, bytes, at: MemoryLayout<sctp_assoc_change>.offset(of: \.sac_state)!),
                let outbound = read(
                    UInt16.self, bytes,
                    at: MemoryLayout<sctp_assoc_change>.offset(of: \.sac_outbound_streams)!)
            else { return }
            // usrsctp appends the peer's ABORT chunk to a COMM_LOST it caused; a timeout has none.
            let length = read(UInt32.self, bytes, at: 4) ?? 0
            let peerAborted = Int(length) > MemoryLayout<sctp_assoc_change>.size
            handleAssociationChange(
                state: Int32(assocState), outboundStreams: outbound, peerAborted: peerAborted)
        case SCTP_STREAM_RESET_EVENT:
            guard let flags = read(UInt16.self, bytes, at: 2) else { return }
            let listStart = MemoryLayout<sctp_stream_reset_event>.size
            var streams: [UInt16] = []
            var offset = listStart
            while let id = read(UInt16.self, bytes, at: offset) {
                streams.append(id)
                offset += 2
            }
            handleStreamReset(flags: Int32(flags), streams: streams)
        case SCTP_PARTIAL_DELIVERY_EVENT:
            let streamOffset = MemoryLayout<sctp_pdapi_event>.offset(of: \.pdapi_stream)!
            if let stream = read(UInt32.self, bytes, at: streamOffset) {
                reassembler.discard(stream: UInt16(truncatingIfNeeded: stream))
            }
        case SCTP_SEND_FAILED_EVENT:
            // Partially reliable messages SCTP gave up on, or data lost with the association.
            statistics.abandonedMessages += 1
        case SCTP_SHUTDOWN_EVENT:
            teardown(reason: .peerClosed, notify: true)
        default:
            break
        }
    }

    private func handleAssociationChange(
        state assocState: Int32, outboundStreams outbound: UInt16, peerAborted: Bool
    ) {
        switch assocState {
        case SCTP_COMM_UP:
            guard state == .connecting else { return }
            state = .connected
            outboundStreams = min(outbound, configuration.streams)
            for channel in channels.values where channel.state == .connecting { channel.state = .open }
            emit(.connected)
            flushSends()
        case SCTP_COMM_LOST:
            teardown(reason: peerAborted ? .peerClosed : .communicationLost, notify: true)
        case SCTP_CANT_STR_ASSOC:
            teardown(reason: .communicationLost, notify: true)
        case SCTP_SHUTDOWN_COMP:
            teardown(reason: .peerClosed, notify: true)
        default:
            // SCTP_RESTART: the peer restarted; streams continue, nothing to do.
            break
        }
    }

    /// Incoming resets are the peer closing channels (or answering our close); outgoing ones
    /// confirm our own resets (RFC 8831 §6.7).
    private func handleStreamReset(flags: Int32, streams: [UInt16]) {
        let incoming = flags & SCTP_STREAM_RESET_INCOMING_SSN != 0
        let outgoing = flags & SCTP_STREAM_RESET_OUTGOING_SSN != 0
        for id in streams {
            guard let channel = channels[id] else { continue }
            if incoming {
                channel.incomingReset = true
                reassembler.discard(stream: id)
                if channel.state == .open || channel.state == .connecting { channel.state = .closing }
            }
            if outgoing { channel.outgoingReset = true }
        }
        // Answer the peer's close with ours once our queued messages on those streams are out.
        resetClosingStreams()
        for id in streams {
            if let channel = channels[id] { finishClosingIfDone(channel) }
        }
    }

    private func read<T: FixedWidthInteger>(_: T.Type, _ bytes: [UInt8], at offset: Int) -> T? {
        guard offset >= 0, offset + MemoryLayout<T>.size <= bytes.count else { return nil }
        return bytes.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: offset, as: T.self) }
    }
}
