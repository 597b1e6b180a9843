import Hummingbird
import NIOCore

/// The request context of serve's routes: Hummingbird's basic one plus the peer's address, which
/// admission counts sessions and POSTs by (``Admission``).
public struct ServeRequestContext: RequestContext, RemoteAddressRequestContext {
    public var coreContext: CoreRequestContextStorage
    public let remoteAddress: SocketAddress?

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        remoteAddress = source.channel.remoteAddress
    }
}
