import NIOCore
import RiverICE

/// ICE over TCP, the passive side (RFC 6544): the peer connects to our TCP port and every STUN,
/// DTLS, SRTP and SRTCP packet travels as one RFC 4571 frame, a 16-bit length and the packet.
///
/// A connection carries exactly one session once a STUN check on it authenticates, and then goes
/// through the same demux and engine as UDP (``ServerState``). A connection that has not
/// authenticated within ``WebRTCServer/Configuration/tcpBindingTimeout`` is closed, and no more
/// than ``WebRTCServer/Configuration/maxTCPConnections`` are open at once.
final class TCPConnection {
    let channel: Channel
    let remote: SocketAddress
    /// The session an authenticated check bound this connection to.
    weak var session: SessionHandle?
    var deadline: Scheduled<Void>?

    init(channel: Channel, remote: SocketAddress) {
        self.channel = channel
        self.remote = remote
    }

    /// Writes one packet framed (RFC 4571 §2). A peer that does not read is not buffered for:
    /// while the socket is over its high-water mark, the packet is dropped (false).
    func write(_ bytes: [UInt8]) -> Bool {
        guard channel.isWritable, bytes.count <= Int(UInt16.max) else { return false }
        var buffer = channel.allocator.buffer(capacity: bytes.count + 2)
        buffer.writeInteger(UInt16(bytes.count))
        buffer.writeBytes(bytes)
        channel.write(buffer, promise: nil)
        return true
    }
}

/// Where the shell sends what a session transmits to one of its addresses.
enum Route {
    case udp(SocketAddress)
    case tcp(TCPConnection)
}

/// RFC 4571 framing in: each 16-bit length and that many bytes become one packet. A frame can
/// be at most 65,535 bytes, so the buffer a connection holds is bounded by the format itself.
struct RFC4571FrameDecoder: ByteToMessageDecoder {
    typealias InboundOut = ByteBuffer

    mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        guard let length = buffer.getInteger(at: buffer.readerIndex, as: UInt16.self),
            buffer.readableBytes >= 2 + Int(length)
        else { return .needMoreData }
        buffer.moveReaderIndex(forwardBy: 2)
        let frame = buffer.readSlice(length: Int(length))!
        context.fireChannelRead(wrapInboundOut(frame))
        return .continue
    }
}

/// One accepted TCP connection's frames, handed to the server's demux on the event loop.
final class TCPFrameHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    let state: NIOLoopBoundBox<ServerState>
    private var connection: TCPConnection?

    init(state: NIOLoopBoundBox<ServerState>) {
        self.state = state
    }

    func channelActive(context: ChannelHandlerContext) {
        connection = state.value.accepted(context.channel)
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard let connection else { return }
        let frame = unwrapInboundIn(data)
        state.value.receive(Array(frame.readableBytesView), over: connection)
    }

    func channelInactive(context: ChannelHandlerContext) {
        if let connection { state.value.closed(connection) }
        connection = nil
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        context.close(promise: nil)
    }
}
