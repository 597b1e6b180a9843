import RiverCore

/// The ICE-lite side of one session (RFC 8445 §2.5, §7.3): answers the browser's connectivity
/// checks, learns the nominated pair and tracks consent (RFC 7675).
///
/// A lite agent never sends checks; it only answers Binding requests whose USERNAME is
/// `<our ufrag>:<their ufrag>` and whose MESSAGE-INTEGRITY verifies with our password. Everything
/// else (bad or missing integrity, wrong username, garbage) gets no answer, so a stranger learns
/// nothing from probing the port. Sans-IO: bytes, source address and time in; bytes out.
public struct ICELiteResponder: Sendable {
    public let localUfrag: String
    public let localPwd: String
    /// The offer's ufrag; when known, the USERNAME's second half must match it.
    public var remoteUfrag: String?
    /// The remote address of the nominated pair (RFC 8445 §8.1.1: the controlling agent chooses
    /// with USE-CANDIDATE), where media goes. `nil` until the browser nominates.
    public private(set) var selectedAddress: TransportAddress?
    public private(set) var consent: ConsentFreshness
    /// The last valid check from each remote address: consent is per pair (RFC 7675 §5.1), so
    /// checks from one address never keep another alive.
    public private(set) var lastCheck: [TransportAddress: Instant] = [:]
    /// Remote addresses one session may use; checks from more are not answered (a peer has a
    /// handful of candidates, and each address costs the shell a route).
    public var maxAddresses = 8
    /// Datagrams that were STUN but were not answered (bad integrity, wrong user, …).
    public private(set) var rejectedCount = 0
    /// Valid checks refused because ``maxAddresses`` addresses are known already.
    public private(set) var addressesRefused = 0
    private let key: [UInt8]

    public init(
        localUfrag: String, localPwd: String, remoteUfrag: String? = nil,
        consentTimeout: Duration = .seconds(10),
        now: Instant
    ) {
        self.localUfrag = localUfrag
        self.localPwd = localPwd
        self.remoteUfrag = remoteUfrag
        // Short-term credential key (RFC 8489 §9.1.1): the password itself (OpaqueString leaves
        // ICE's ice-char passwords unchanged).
        self.key = Array(localPwd.utf8)
        self.consent = ConsentFreshness(timeout: consentTimeout, start: now)
    }

    /// What handling one datagram produced.
    public struct Reply: Sendable, Equatable {
        /// The Binding success response to send back to the request's source address.
        public var response: [UInt8]
        /// Set when this request nominated a pair that differs from the one selected before.
        public var newlySelected: TransportAddress?
    }

    /// Handles one STUN datagram from `source`. Returns the response to send, or `nil` when the
    /// datagram must be dropped without an answer.
    public mutating func handle(
        _ datagram: [UInt8], from source: TransportAddress, now: Instant
    )
        -> Reply?
    {
        guard let request = try? STUNMessage(parsing: datagram),
            request.method == .binding, request.messageClass == .request
        else {
            rejectedCount += 1
            return nil
        }
        // Checks in the order of RFC 8489 §6.3 and RFC 8445 §7.3: fingerprint, username, then
        // integrity. ICE puts FINGERPRINT on every check (RFC 8445 §7.2.2), so one without it is
        // not ICE.
        if !request.checkFingerprint() {
            rejectedCount += 1
            return nil
        }
        guard let username = request.username,
            Self.usernameMatches(username, local: localUfrag, remote: remoteUfrag),
            request.checkIntegrity(key: key),
            // Consent once lost is not regained (RFC 7675 §5.1); the session is being torn down.
            !consent.isExpired(at: now)
        else {
            rejectedCount += 1
            return nil
        }

        if lastCheck[source] == nil && lastCheck.count >= maxAddresses {
            rejectedCount += 1
            addressesRefused += 1
            return nil
        }
        lastCheck[source] = now
        consent.refresh(at: now)
        var newlySelected: TransportAddress?
        // A lite agent is always controlled; the controlling browser's USE-CANDIDATE nominates
        // the pair the request arrived on (RFC 8445 §7.3.1.5). A later nomination replaces it.
        if request.useCandidate && selectedAddress != source {
            selectedAddress = source
            newlySelected = source
        }
        let response = STUNMessage(
            messageClass: .successResponse, transactionID: request.transactionID,
            attributes: [.xorMappedAddress(source, transactionID: request.transactionID)])
        return Reply(
            response: response.serialized(integrityKey: key, fingerprint: true), newlySelected: newlySelected)
    }

    /// Whether consent has lapsed: no valid check for ``ConsentFreshness/timeout`` (RFC 7675 §5.1)
    /// from `address` (the pair media goes on), or from anywhere while no pair carries media.
    /// The session shell closes and frees the session when this turns true.
    public func consentExpired(at now: Instant, for address: TransportAddress? = nil) -> Bool {
        consent.isExpired(at: now) || now >= consentDeadline(for: address)
    }

    /// When consent for `address` runs out unless another valid check arrives from it.
    public func consentDeadline(for address: TransportAddress?) -> Instant {
        guard let address, let last = lastCheck[address] else { return consent.deadline }
        return last + consent.timeout
    }

    static func usernameMatches(_ username: String, local: String, remote: String?) -> Bool {
        guard let colon = username.firstIndex(of: ":") else { return false }
        guard username[..<colon] == local else { return false }
        guard let remote else { return true }
        return username[username.index(after: colon)...] == remote
    }

    /// The first half of a request's USERNAME (our ufrag), read without checking integrity, so a
    /// shared port can find the session a Binding request is for (RFC 8445 §7.3: the username
    /// identifies it). `nil` for anything that is not a Binding request with a USERNAME.
    public static func localUfrag<Bytes: RandomAccessCollection>(of datagram: Bytes) -> String?
    where Bytes.Element == UInt8, Bytes.Index == Int {
        guard STUNMessage.isSTUN(datagram), let message = try? STUNMessage(parsing: datagram),
            message.messageClass == .request, let username = message.username,
            let colon = username.firstIndex(of: ":")
        else { return nil }
        return String(username[..<colon])
    }
}
