import CUsrsctp

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// IPPROTO_SCTP; Glibc's and usrsctp's spellings of it have different Swift types.
private let sctpProtocol: Int32 = 132

#if canImport(Glibc)
    private let streamSocketType = Int32(SOCK_STREAM.rawValue)
#else
    private let streamSocketType = SOCK_STREAM
#endif

extension SCTPAssociation {
    /// Notifications we act on (RFC 6458 §6.1).
    private static let subscribedEvents: [Int32] = [
        SCTP_ASSOC_CHANGE, SCTP_STREAM_RESET_EVENT, SCTP_SEND_FAILED_EVENT, SCTP_PARTIAL_DELIVERY_EVENT,
        SCTP_SHUTDOWN_EVENT, SCTP_STREAM_CHANGE_EVENT, SCTP_REMOTE_ERROR,
    ]

    /// Creates a non-blocking one-to-one AF_CONN socket, configures it for data channels, binds
    /// our port and connects to the peer's.
    func openSocket() throws(SetupError) {
        guard let socket = usrsctp_socket(AF_CONN, streamSocketType, sctpProtocol, nil, nil, 0, nil) else {
            throw .usrsctp(call: "socket", errno: errno)
        }
        self.socket = socket
        // Upcall mode: usrsctp only tells us "something changed"; we read and write on the owner's
        // executor (see UsrsctpBridge).
        usrsctp_set_upcall(socket, usrsctpUpcall, context)
        guard usrsctp_set_non_blocking(socket, 1) == 0 else {
            throw .usrsctp(call: "set_non_blocking", errno: errno)
        }

        // An abortive close frees the association immediately instead of lingering in SHUTDOWN.
        try setOption(SOL_SOCKET, SO_LINGER, linger(l_onoff: 1, l_linger: 0), "SO_LINGER")
        try setOption(SOL_SOCKET, SO_SNDBUF, configuration.sendBufferSize, "SO_SNDBUF")
        try setOption(SOL_SOCKET, SO_RCVBUF, configuration.receiveBufferSize, "SO_RCVBUF")
        // Closing a channel resets its outgoing stream (RFC 8831 §6.7, RFC 6525).
        try setOption(
            sctpProtocol, SCTP_ENABLE_STREAM_RESET,
            sctp_assoc_value(
                assoc_id: sctp_assoc_t(SCTP_FUTURE_ASSOC), assoc_value: UInt32(SCTP_ENABLE_RESET_STREAM_REQ)),
            "SCTP_ENABLE_STREAM_RESET")
        // Stream id and PPID of every message, which data channels are keyed by.
        try setOption(sctpProtocol, SCTP_RECVRCVINFO, Int32(1), "SCTP_RECVRCVINFO")
        // Lets a message larger than the free send buffer go in pieces; SCTP_EOR marks its end.
        try setOption(sctpProtocol, SCTP_EXPLICIT_EOR, Int32(1), "SCTP_EXPLICIT_EOR")
        // Data-channel messages are latency-sensitive (per-frame results): no Nagle.
        try setOption(sctpProtocol, SCTP_NODELAY, Int32(1), "SCTP_NODELAY")
        for type in Self.subscribedEvents {
            try setOption(
                sctpProtocol, SCTP_EVENT,
                sctp_event(se_assoc_id: sctp_assoc_t(SCTP_FUTURE_ASSOC), se_type: UInt16(type), se_on: 1),
                "SCTP_EVENT")
        }
        try setOption(
            sctpProtocol, SCTP_INITMSG,
            sctp_initmsg(
                sinit_num_ostreams: configuration.streams, sinit_max_instreams: configuration.streams,
                sinit_max_attempts: 0, sinit_max_init_timeo: 0),
            "SCTP_INITMSG")
        // Path MTU discovery cannot work through DTLS; use a fixed size that fits a DTLS datagram.
        var peerParameters = sctp_paddrparams()
        peerParameters.spp_assoc_id = sctp_assoc_t(SCTP_FUTURE_ASSOC)
        peerParameters.spp_flags = UInt32(SPP_PMTUD_DISABLE)
        // For AF_CONN, usrsctp fills packets up to the path MTU *plus* the 12-byte common header
        // (the outgoingPacketsFitTheMTU test measures it), so subtract that header here.
        peerParameters.spp_pathmtu = configuration.mtu - 12
        try setOption(sctpProtocol, SCTP_PEER_ADDR_PARAMS, peerParameters, "SCTP_PEER_ADDR_PARAMS")

        usrsctp_register_address(context)
        var local = connAddress(port: configuration.localPort)
        let bound = withUnsafeMutableBytes(of: &local) {
            usrsctp_bind(socket, $0.baseAddress!.assumingMemoryBound(to: sockaddr.self), socklen_t($0.count))
        }
        guard bound == 0 else { throw .usrsctp(call: "bind", errno: errno) }
        var remote = connAddress(port: configuration.remotePort)
        let connected = withUnsafeMutableBytes(of: &remote) {
            usrsctp_connect(
                socket, $0.baseAddress!.assumingMemoryBound(to: sockaddr.self), socklen_t($0.count))
        }
        guard connected == 0 || errno == EINPROGRESS else { throw .usrsctp(call: "connect", errno: errno) }
    }

    /// Both ends of the AF_CONN "link" use our context as address: the pointer only has to
    /// identify this association to the output callback.
    private func connAddress(port: UInt16) -> sockaddr_conn {
        var address = sockaddr_conn()
        address.sconn_family = UInt16(AF_CONN)
        address.sconn_port = port.bigEndian
        address.sconn_addr = context
        return address
    }

    private func setOption<T>(_ level: Int32, _ name: Int32, _ value: T, _ label: String) throws(SetupError) {
        guard let socket else { throw .usrsctp(call: "setsockopt(\(label))", errno: EBADF) }
        var value = value
        let rc = withUnsafeBytes(of: &value) {
            usrsctp_setsockopt(socket, level, name, $0.baseAddress, socklen_t($0.count))
        }
        guard rc == 0 else { throw .usrsctp(call: "setsockopt(\(label))", errno: errno) }
    }
}
