import CZMQ

/// The proxy's CURVE settings: its own key pair, and which public keys may connect on which side.
///
/// A client key is accepted only on the frontend and a worker key only on the backend: a leaked
/// client key does not let its holder announce READY and receive other users' frames.
public struct ProxyCurve: Sendable {
    public var keyPair: CurveKeyPair
    public var clients: Set<CurveKey>
    public var workers: Set<CurveKey>

    public init(keyPair: CurveKeyPair, clients: Set<CurveKey>, workers: Set<CurveKey>) {
        self.keyPair = keyPair
        self.clients = clients
        self.workers = workers
    }
}

/// A client's or worker's CURVE settings: the proxy's public key (checked during the handshake,
/// so a man in the middle cannot pose as the proxy) and the peer's own pair.
public struct PeerCurve: Sendable {
    public var proxyKey: CurveKey
    public var keyPair: CurveKeyPair

    public init(proxyKey: CurveKey, keyPair: CurveKeyPair) {
        self.proxyKey = proxyKey
        self.keyPair = keyPair
    }
}

extension ZMQSocket {
    /// Sets a binary key option (32 bytes, the form libzmq takes without parsing).
    func setKey(_ option: Int32, _ key: CurveKey) {
        key.bytes.withUnsafeBytes { _ = zmq_setsockopt(handle, option, $0.baseAddress, 32) }
    }

    func setOption(_ option: Int32, _ text: String) {
        var bytes = Array(text.utf8)
        zmq_setsockopt(handle, option, &bytes, bytes.count)
    }

    /// Makes this socket a CURVE client of the proxy (before `connect`).
    func useCurve(_ curve: PeerCurve?) {
        guard let curve else { return }
        setKey(ZMQ_CURVE_SERVERKEY, curve.proxyKey)
        setKey(ZMQ_CURVE_PUBLICKEY, curve.keyPair.publicKey)
        setKey(ZMQ_CURVE_SECRETKEY, curve.keyPair.secretKey)
    }
}
