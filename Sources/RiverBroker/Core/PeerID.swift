/// A ZeroMQ routing id: how a ROUTER socket names the peer a message came from or goes to.
public struct PeerID: Hashable, Sendable, CustomStringConvertible {
    public var bytes: [UInt8]

    public init(_ bytes: [UInt8]) { self.bytes = bytes }

    /// Routing ids are looked up several times per message on the proxy's hot path: hash the
    /// common short ones (libzmq's and ours are 5 bytes) as one word instead of byte by byte.
    public func hash(into hasher: inout Hasher) {
        guard bytes.count <= 7 else { return hasher.combine(bytes) }
        var packed: UInt64 = 0
        for byte in bytes { packed = packed << 8 | UInt64(byte) }
        hasher.combine(packed | UInt64(bytes.count) << 56)
    }

    public var description: String {
        bytes.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined()
    }
}
