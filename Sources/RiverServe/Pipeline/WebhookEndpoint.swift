import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL
import RiverCore

/// Where `--results-webhook` POSTs: an `http://` or `https://` URL, checked at start-up.
///
/// Each POST is one HTTP/1.1 request on a connection of its own (`Connection: close`), with TLS from
/// swift-nio-ssl and the system's trust roots for `https`. A batch goes out a few times a second at
/// most, so a kept-alive connection would save little and need its own failure handling.
public struct WebhookEndpoint: Sendable, CustomStringConvertible {
    public let url: String
    let secure: Bool
    let host: String
    let port: Int
    let target: String
    /// For `https`: made once (it loads the system's trust roots), used by every POST.
    let tls: NIOSSLContext?
    /// The longest a POST may take, connection included.
    public var timeout: Duration = .seconds(10)

    /// An unusable URL, named with the reason.
    public struct Invalid: Error, CustomStringConvertible {
        public let description: String
    }

    public init(_ url: String) throws(Invalid) {
        guard let parts = URLComponents(string: url), let scheme = parts.scheme?.lowercased(),
            scheme == "http" || scheme == "https", let host = parts.host, !host.isEmpty
        else {
            throw Invalid(description: "--results-webhook \(url): not an http:// or https:// URL with a host")
        }
        self.url = url
        secure = scheme == "https"
        self.host = host
        port = parts.port ?? (secure ? 443 : 80)
        let query = parts.percentEncodedQuery.map { "?\($0)" } ?? ""
        target = (parts.percentEncodedPath.isEmpty ? "/" : parts.percentEncodedPath) + query
        do {
            tls = secure ? try NIOSSLContext(configuration: .makeClientConfiguration()) : nil
        } catch {
            throw Invalid(description: "--results-webhook \(url): no TLS client: \(error)")
        }
    }

    public var description: String { url }

    /// POSTs `json` and returns the response's status code.
    func post(json body: ByteBuffer) async throws -> Int {
        let response = ResponseStatus(eventLoop: MultiThreadedEventLoopGroup.singleton.next())
        let (host, tls) = (self.host, self.tls)
        let connecting = ClientBootstrap(group: response.eventLoop)
            .connectTimeout(.nanoseconds(timeout.nanosecondsClamped))
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    if let tls {
                        try channel.pipeline.syncOperations.addHandler(
                            try NIOSSLClientHandler(context: tls, serverHostname: host))
                    }
                    try channel.pipeline.syncOperations.addHTTPClientHandlers()
                    try channel.pipeline.syncOperations.addHandler(response)
                }
            }
            .connect(host: host, port: port)
        let channel: any Channel
        do {
            channel = try await connecting.get()
        } catch {
            response.fail(error)
            throw error
        }
        defer { channel.close(promise: nil) }
        var head = HTTPRequestHead(version: .http1_1, method: .POST, uri: target)
        head.headers.add(name: "Host", value: port == (secure ? 443 : 80) ? host : "\(host):\(port)")
        head.headers.add(name: "Content-Type", value: "application/json")
        head.headers.add(name: "Content-Length", value: "\(body.readableBytes)")
        head.headers.add(name: "Connection", value: "close")
        head.headers.add(name: "User-Agent", value: "river")
        channel.write(HTTPClientRequestPart.head(head), promise: nil)
        channel.write(HTTPClientRequestPart.body(.byteBuffer(body)), promise: nil)
        try await channel.writeAndFlush(HTTPClientRequestPart.end(nil)).get()
        let timeout = channel.eventLoop.scheduleTask(in: .nanoseconds(self.timeout.nanosecondsClamped)) {
            response.fail(ChannelError.connectTimeout(.nanoseconds(0)))
        }
        defer { timeout.cancel() }
        return try await response.status.futureResult.get()
    }
}

/// Completes with the response's status once its head arrives; fails if the connection ends first.
private final class ResponseStatus: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = HTTPClientResponsePart
    let eventLoop: any EventLoop
    let status: EventLoopPromise<Int>

    init(eventLoop: any EventLoop) {
        self.eventLoop = eventLoop
        status = eventLoop.makePromise()
    }

    private var completed = false

    /// Completes the promise once, whatever comes first (on the channel's event loop).
    private func complete(_ result: Result<Int, any Error>) {
        guard !completed else { return }
        completed = true
        status.completeWith(result)
    }

    func fail(_ error: any Error) {
        eventLoop.execute { self.complete(.failure(error)) }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if case .head(let head) = unwrapInboundIn(data) { complete(.success(Int(head.status.code))) }
    }

    func channelInactive(context: ChannelHandlerContext) { complete(.failure(ChannelError.eof)) }
    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        complete(.failure(error))
        context.close(promise: nil)
    }
}
