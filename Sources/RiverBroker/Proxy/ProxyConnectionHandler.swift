import NIOCore

/// One accepted TCP connection of the proxy: ZMTP in, whole messages to the engine.
final class ProxyConnectionHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let side: ProxySide
    private let engine: ProxyEngine
    // Unchecked: see `ProxyEngine`; only the event loop thread touches these.
    @exclusivity(unchecked) private var connection = ZMTPConnection(socketType: "ROUTER")
    private var peer: PeerID?
    @exclusivity(unchecked) private var events: [ZMTPConnection.Event] = []
    @exclusivity(unchecked) private var replies = ByteBuffer()
    private var broken = false

    init(side: ProxySide, engine: ProxyEngine) {
        self.side = side
        self.engine = engine
    }

    func channelActive(context: ChannelHandlerContext) {
        context.writeAndFlush(
            wrapOutboundOut(connection.opening(allocator: context.channel.allocator)), promise: nil)
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !broken else { return }
        do {
            try connection.receive(unwrapInboundIn(data), events: &events, replies: &replies)
        } catch {
            broken = true
            engine.brokenConnection(error, on: side)
            context.close(promise: nil)
        }
        for event in events {
            switch event {
            case .ready:
                peer = engine.attach(context.channel, on: side)
            case .message(let frames):
                // Only whole handshakes produce messages, so the peer is known.
                if let peer { engine.receive(frames, from: peer, on: side) }
            }
        }
        events.removeAll(keepingCapacity: true)
        if replies.readableBytes > 0 {
            context.writeAndFlush(wrapOutboundOut(replies), promise: nil)
            replies = ByteBuffer()
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        engine.endOfBatch()
    }

    func channelInactive(context: ChannelHandlerContext) {
        if let peer { engine.detach(peer, on: side) }
        peer = nil
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        // Resets and the like: the connection is over; `channelInactive` follows.
        context.close(promise: nil)
    }
}
