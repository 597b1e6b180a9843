import Hummingbird
import HummingbirdCore
import Logging
import NIOCore
import NIOSSL

/// serve's HTTP connection when HTTPS is on: TLS through swift-nio-ssl for everyone, and plain
/// HTTP on the same port for peers on loopback only.
///
/// The first byte a client sends tells the two apart: a TLS connection opens with a handshake
/// record, content type 22 (RFC 8446 §5.1); an HTTP/1.1 request line never starts with it. So
/// `http://127.0.0.1:PORT/` keeps working on a server bound to every interface (loopback is a
/// secure context to browsers, RFC 6761 §6.3), while a plain request from any other address is
/// answered with a redirect to the same URL over HTTPS and nothing else.
///
/// Why not HummingbirdTLS's `TLSChannel`: it fixes the `NIOSSLContext` when the server starts and
/// wraps every connection; this looks the context up per connection (SIGHUP reload, see
/// ``TLSIdentity``) and lets loopback through in plain. The TLS itself is the same
/// `NIOSSLServerHandler`.
struct HTTPSChannel: ServerChildChannel {
    struct Value: ServerChildChannelValue {
        let http: HTTP1Channel.Value
        /// What the first byte said; the HTTP handlers are in place before it arrives, because
        /// NIO reads a new connection only once its setup is complete.
        let verdict: EventLoopFuture<FirstByteSniffer.Verdict>
        var channel: any Channel { http.channel }
    }

    let app: HTTP1Channel
    let redirect: HTTP1Channel
    let identity: TLSIdentity
    /// How long a new connection may stay silent before it is closed (the sniff is the only
    /// thing between accept and the HTTP idle timeout).
    let firstByteTimeout: TimeAmount

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        let decided = channel.eventLoop.makePromise(of: FirstByteSniffer.Verdict.self)
        do {
            try channel.pipeline.syncOperations.addHandler(
                FirstByteSniffer(decided: decided, timeout: firstByteTimeout, identity: identity))
        } catch {
            return channel.eventLoop.makeFailedFuture(error)
        }
        return app.setup(channel: channel, logger: logger).map {
            Value(http: $0, verdict: decided.futureResult)
        }
    }

    func handle(value: Value, logger: Logger) async {
        switch try? await value.verdict.get() {
        case .tls, .plain(local: true):
            await app.handle(value: value.http, logger: logger)
        case .plain(local: false):
            await redirect.handle(value: value.http, logger: logger)
        case nil:
            try? await value.http.executeThenClose { _, _ in }
        }
    }

    /// Whether a peer is on this machine's loopback (127.0.0.0/8, ::1, or v4-mapped 127/8).
    static func isLoopback(_ address: SocketAddress?) -> Bool {
        switch address {
        case .v4(let v4):
            return UInt32(bigEndian: v4.address.sin_addr.s_addr) >> 24 == 127
        case .v6(let v6):
            let bytes = withUnsafeBytes(of: v6.address.sin6_addr) { Array($0) }
            if bytes == [UInt8](repeating: 0, count: 15) + [1] { return true }
            return bytes[0..<10].allSatisfy { $0 == 0 } && bytes[10] == 0xff && bytes[11] == 0xff
                && bytes[12] == 127
        default:
            return false
        }
    }

    /// The redirect a plain request from off the machine gets: the same authority and path, over
    /// HTTPS (308 keeps the method, RFC 9110 §15.4.9). An authority that is not a plain
    /// `host[:port]` gets a 400 instead of being echoed into a header.
    static func redirectResponder() -> HTTPChannelHandler.Responder {
        { request, responseWriter, _ in
            let authority = request.head.authority ?? ""
            let allowed = authority.utf8.allSatisfy { byte in
                switch byte {
                case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
                    UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "."), UInt8(ascii: "-"),
                    UInt8(ascii: ":"), UInt8(ascii: "["), UInt8(ascii: "]"):
                    return true
                default:
                    return false
                }
            }
            var headers = HTTPFields()
            headers[.date] = HTTPDate.now
            headers[.server] = "river"
            headers[.connection] = "close"
            headers[.contentLength] = "0"
            guard !authority.isEmpty, allowed else {
                let response = Response(status: .badRequest, headers: headers)
                return try await responseWriter.write(response: response.head, body: response.body)
            }
            // Only the path travels: the query may hold a token, which must not cross in plain
            // text twice (the page puts it in the fragment, which browsers never send).
            let path = request.head.path.map { String($0.prefix { $0 != "?" }) } ?? "/"
            headers[.location] = "https://\(authority)\(path)"
            let response = Response(status: .permanentRedirect, headers: headers)
            try await responseWriter.write(response: response.head, body: response.body)
        }
    }
}

/// Looks at a new connection's first byte: a TLS handshake record (22) puts the TLS handler
/// in front of the HTTP handlers; anything else is plain HTTP, and whether the peer is on loopback
/// decides between the page and the redirect. Either way it then leaves the pipeline. A
/// connection that sends nothing within `timeout`, or closes first, fails the verdict and is
/// closed.
final class FirstByteSniffer: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    enum Verdict {
        case tls
        case plain(local: Bool)
    }

    struct Silent: Error {}

    private var decided: EventLoopPromise<Verdict>?
    private let timeout: TimeAmount
    private let identity: TLSIdentity
    private var deadline: Scheduled<Void>?

    init(decided: EventLoopPromise<Verdict>, timeout: TimeAmount, identity: TLSIdentity) {
        self.decided = decided
        self.timeout = timeout
        self.identity = identity
    }

    func handlerAdded(context: ChannelHandlerContext) {
        let channel = context.channel
        deadline = context.eventLoop.assumeIsolated().scheduleTask(in: timeout) { [weak self] in
            self?.fail(Silent())
            channel.close(promise: nil)
        }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let bytes = unwrapInboundIn(data)
        guard let decided, let first = bytes.readableBytesView.first else {
            context.fireChannelRead(data)
            return
        }
        self.decided = nil
        deadline?.cancel()
        if first == 22 {
            do {
                // The context is looked up per connection, so a SIGHUP reload applies to the next one.
                try context.pipeline.syncOperations.addHandler(
                    NIOSSLServerHandler(context: identity.context), position: .after(self))
            } catch {
                decided.fail(error)
                context.close(promise: nil)
                return
            }
            decided.succeed(.tls)
        } else {
            decided.succeed(.plain(local: HTTPSChannel.isLoopback(context.remoteAddress)))
        }
        context.fireChannelRead(data)
        context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        fail(ChannelError.eof)
        context.fireChannelInactive()
    }

    private func fail(_ error: any Error) {
        deadline?.cancel()
        guard let decided else { return }
        self.decided = nil
        decided.fail(error)
    }
}
