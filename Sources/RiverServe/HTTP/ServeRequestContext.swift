import Hummingbird
import NIOCore

/// The request context of serve's routes: Hummingbird's basic one plus the peer's address, which
/// admission counts sessions and POSTs by (``Admission``), and the connection, which a streaming
/// response closes when its reader is cut off (``SessionRoutes``).
public struct ServeRequestContext: RequestContext, RemoteAddressRequestContext {
    public var coreContext: CoreRequestContextStorage
    public let remoteAddress: SocketAddress?
    let channel: any Channel

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        remoteAddress = source.channel.remoteAddress
        channel = source.channel
    }
}
