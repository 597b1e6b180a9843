/// The proxy's ZAP policy (RFC 27, ZeroMQ Authentication Protocol), sans-IO: a request's frames
/// in, the reply's frames and the verdict out. The shell answers on the REP socket libzmq talks to
/// at `inproc://zeromq.zap.01`; libzmq itself runs the CURVE handshake (RFC 26).
///
/// Which side a handshake is on comes from the ZAP domain the proxy sets on each ROUTER
/// (``frontendDomain``, ``backendDomain``): a key is allowed only on the side it was listed for.
public struct ZAPAuthorizer: Sendable {
    public static let frontendDomain = "river-frontend"
    public static let backendDomain = "river-backend"

    /// What became of one handshake.
    public enum Verdict: Equatable, Sendable {
        case allowed(ProxySide)
        /// `key` is nil when the request had no CURVE key (another mechanism, or malformed).
        case refused(ProxySide?, key: CurveKey?, reason: String)
    }

    public let clients: Set<CurveKey>
    public let workers: Set<CurveKey>

    public init(clients: Set<CurveKey>, workers: Set<CurveKey>) {
        self.clients = clients
        self.workers = workers
    }

    /// Decides one request. `frames` are the request's frames after the REP envelope: version,
    /// request id, domain, address, identity, mechanism, credentials. The reply echoes the
    /// request id, so libzmq matches it to its handshake.
    public func answer(_ frames: [[UInt8]]) -> (reply: [[UInt8]], verdict: Verdict) {
        guard frames.count >= 6, frames[0] == Array("1.0".utf8) else {
            // RFC 27: a request that is not version 1.0 cannot be answered meaningfully; the
            // REP socket still needs a reply, and "400" makes libzmq drop the handshake.
            let id = frames.count > 1 ? frames[1] : []
            return (
                Self.reply(id, "400", "unsupported ZAP request"),
                .refused(nil, key: nil, reason: "bad ZAP request")
            )
        }
        let requestID = frames[1]
        let domain = String(decoding: frames[2], as: UTF8.self)
        let mechanism = String(decoding: frames[5], as: UTF8.self)
        let side: ProxySide? =
            switch domain {
            case Self.frontendDomain: .frontend
            case Self.backendDomain: .backend
            default: nil
            }
        guard let side else {
            return (
                Self.reply(requestID, "400", "unknown domain"),
                .refused(nil, key: nil, reason: "domain '\(domain)'")
            )
        }
        guard mechanism == "CURVE", frames.count >= 7, let key = CurveKey(bytes: frames[6]) else {
            return (
                Self.reply(requestID, "400", "CURVE required"),
                .refused(side, key: nil, reason: "mechanism \(mechanism), CURVE required")
            )
        }
        let allowed = side == .frontend ? clients : workers
        guard allowed.contains(key) else {
            let reason: String
            switch side {
            case .frontend where workers.contains(key): reason = "a worker key on the frontend"
            case .backend where clients.contains(key): reason = "a client key on the backend"
            case .frontend: reason = "not an allowed client key"
            case .backend: reason = "not an allowed worker key"
            }
            return (Self.reply(requestID, "400", reason), .refused(side, key: key, reason: reason))
        }
        // The user id is the key itself: libzmq attaches it to the peer's messages ("User-Id").
        return (Self.reply(requestID, "200", "OK", userID: key.z85), .allowed(side))
    }

    private static func reply(_ id: [UInt8], _ code: String, _ text: String, userID: String = "") -> [[UInt8]]
    {
        [Array("1.0".utf8), id, Array(code.utf8), Array(text.utf8), Array(userID.utf8), []]
    }
}
