import CSRTP

/// libsrtp must be initialised once per process before any session is created; a global `let`
/// is initialised lazily and exactly once, even under concurrent first use.
private let libsrtpStatus: srtp_err_status_t = srtp_init()

/// Room libsrtp may append when protecting: auth tag (≤ 16) plus MKI and SRTCP index.
private let trailerRoom = 64

/// SRTP and SRTCP for one DTLS-SRTP association (RFC 3711, RFC 7714): one libsrtp context
/// that protects what we send and one that unprotects what we receive, each for any SSRC.
///
/// libsrtp's `ssrc_any_inbound` template makes a new stream context for every SSRC whose first
/// packet authenticates, and finds streams by walking a list: an authenticated but hostile peer
/// could make it grow (memory) and slow (every packet's lookup) without end. So the SSRCs the
/// offer announced (``expectedInboundSSRCs``) always pass, and at most ``maxUnexpectedSSRCs``
/// others (a receiver-only RTCP SSRC, an RTX stream the SDP did not list) may make a stream; a
/// packet from any further SSRC is refused before libsrtp sees it.
///
/// Not `Sendable`: libsrtp contexts are not thread-safe; use a session from one executor.
public final class SRTPSession {
    public let profile: SRTPProfile
    public let expectedInboundSSRCs: Set<UInt32>
    public let maxUnexpectedSSRCs: Int
    /// Unexpected SSRCs that made a libsrtp stream.
    public private(set) var unexpectedSSRCs: Set<UInt32> = []
    /// Packets refused because their SSRC would have passed ``maxUnexpectedSSRCs``.
    public private(set) var refusedUnknownSSRC = 0
    private var outbound: srtp_t?
    private var inbound: srtp_t?

    /// - Parameters:
    ///   - localKeyAndSalt: master key ‖ salt for packets we send (DTLS export, RFC 5764 §4.2).
    ///   - remoteKeyAndSalt: master key ‖ salt for packets we receive.
    ///   - expectedInboundSSRCs: the peer's SSRCs from the offer (`a=ssrc`, RFC 5576).
    ///   - maxUnexpectedSSRCs: how many other SSRCs of the peer may make a stream.
    public init(
        profile: SRTPProfile, localKeyAndSalt: [UInt8], remoteKeyAndSalt: [UInt8],
        expectedInboundSSRCs: Set<UInt32> = [], maxUnexpectedSSRCs: Int = 8
    ) throws(SRTPError) {
        guard libsrtpStatus == srtp_err_status_ok else {
            throw .create(status: Int32(libsrtpStatus.rawValue))
        }
        for key in [localKeyAndSalt, remoteKeyAndSalt] where key.count != profile.keyAndSaltLength {
            throw .badKeyLength(expected: profile.keyAndSaltLength, got: key.count)
        }
        self.profile = profile
        self.expectedInboundSSRCs = expectedInboundSSRCs
        self.maxUnexpectedSSRCs = maxUnexpectedSSRCs
        outbound = try Self.create(profile: profile, key: localKeyAndSalt, direction: ssrc_any_outbound)
        do {
            inbound = try Self.create(profile: profile, key: remoteKeyAndSalt, direction: ssrc_any_inbound)
        } catch {
            srtp_dealloc(outbound)
            throw error
        }
    }

    /// Convenience for a profile id straight from the DTLS handshake.
    public convenience init(
        profileID: UInt16, localKeyAndSalt: [UInt8], remoteKeyAndSalt: [UInt8],
        expectedInboundSSRCs: Set<UInt32> = [], maxUnexpectedSSRCs: Int = 8
    ) throws(SRTPError) {
        guard let profile = SRTPProfile(rawValue: profileID) else { throw .unsupportedProfile(profileID) }
        try self.init(
            profile: profile, localKeyAndSalt: localKeyAndSalt, remoteKeyAndSalt: remoteKeyAndSalt,
            expectedInboundSSRCs: expectedInboundSSRCs, maxUnexpectedSSRCs: maxUnexpectedSSRCs)
    }

    deinit {
        srtp_dealloc(outbound)
        srtp_dealloc(inbound)
    }

    private static func create(profile: SRTPProfile, key: [UInt8], direction: srtp_ssrc_type_t)
        throws(SRTPError) -> srtp_t
    {
        var policy = srtp_policy_t()
        switch profile {
        case .aes128CMHMACSHA1_80:
            srtp_crypto_policy_set_rtp_default(&policy.rtp)  // AES-CM-128 + HMAC-SHA1-80
            srtp_crypto_policy_set_rtcp_default(&policy.rtcp)
        case .aeadAES128GCM:
            srtp_crypto_policy_set_aes_gcm_128_16_auth(&policy.rtp)
            srtp_crypto_policy_set_aes_gcm_128_16_auth(&policy.rtcp)
        }
        policy.ssrc.type = direction
        // Large enough for video bursts arriving out of order; retransmissions (NACK) reuse
        // sequence numbers, hence allow_repeat_tx.
        policy.window_size = 1024
        policy.allow_repeat_tx = 1
        var session: srtp_t?
        var keyCopy = key
        let status = keyCopy.withUnsafeMutableBufferPointer { buffer in
            policy.key = buffer.baseAddress
            return srtp_create(&session, &policy)
        }
        guard status == srtp_err_status_ok, let session else { throw .create(status: Int32(status.rawValue)) }
        return session
    }

    /// Encrypts and authenticates one serialized RTP packet.
    public func protectRTP(_ packet: [UInt8]) throws(SRTPError) -> [UInt8] {
        try transform(packet, rtcp: false, protect: true)
    }

    /// Authenticates and decrypts one SRTP packet; throws (drop it) on any failure.
    public func unprotectRTP(_ packet: [UInt8]) throws(SRTPError) -> [UInt8] {
        try transform(packet, rtcp: false, protect: false)
    }

    /// Encrypts and authenticates one serialized RTCP compound packet.
    public func protectRTCP(_ packet: [UInt8]) throws(SRTPError) -> [UInt8] {
        try transform(packet, rtcp: true, protect: true)
    }

    /// Authenticates and decrypts one SRTCP packet.
    public func unprotectRTCP(_ packet: [UInt8]) throws(SRTPError) -> [UInt8] {
        try transform(packet, rtcp: true, protect: false)
    }

    private func transform(_ packet: [UInt8], rtcp: Bool, protect: Bool) throws(SRTPError) -> [UInt8] {
        // libsrtp reads the header before checking lengths in places; refuse runts up front.
        guard packet.count >= (rtcp ? 8 : 12) else { throw .malformed(rtcp: rtcp, status: -1) }
        // The SSRC libsrtp looks its stream up by: RTP's (RFC 3550 §5.1), or the first RTCP
        // packet's sender SSRC (§6.4), each a 32-bit field at a fixed offset.
        var unexpected: UInt32?
        if !protect {
            let at = rtcp ? 4 : 8
            let ssrc =
                UInt32(packet[at]) << 24 | UInt32(packet[at + 1]) << 16 | UInt32(packet[at + 2]) << 8
                | UInt32(packet[at + 3])
            if !expectedInboundSSRCs.contains(ssrc) && !unexpectedSSRCs.contains(ssrc) {
                guard unexpectedSSRCs.count < maxUnexpectedSSRCs else {
                    refusedUnknownSSRC += 1
                    throw .unknownSSRC(ssrc, rtcp: rtcp)
                }
                unexpected = ssrc
            }
        }
        // A UDP datagram or an RFC 4571 frame is at most 64 KiB, but a length that does not fit
        // libsrtp's Int32 is refused rather than trapped on.
        guard var length = Int32(exactly: packet.count), length <= Int32.max - Int32(trailerRoom) else {
            throw .malformed(rtcp: rtcp, status: -1)
        }
        var buffer = packet
        if protect { buffer.append(contentsOf: repeatElement(0, count: trailerRoom)) }
        let context = protect ? outbound : inbound
        let status = buffer.withUnsafeMutableBytes { raw -> srtp_err_status_t in
            switch (rtcp, protect) {
            case (false, true): srtp_protect(context, raw.baseAddress, &length)
            case (false, false): srtp_unprotect(context, raw.baseAddress, &length)
            case (true, true): srtp_protect_rtcp(context, raw.baseAddress, &length)
            case (true, false): srtp_unprotect_rtcp(context, raw.baseAddress, &length)
            }
        }
        switch status {
        case srtp_err_status_ok:
            // Only an authenticated packet makes libsrtp add a stream.
            if let unexpected { unexpectedSSRCs.insert(unexpected) }
            buffer.removeLast(buffer.count - Int(length))
            return buffer
        case srtp_err_status_auth_fail where !protect: throw .authenticationFailed(rtcp: rtcp)
        case srtp_err_status_replay_fail, srtp_err_status_replay_old: throw .replay(rtcp: rtcp)
        default:
            if protect { throw .protect(rtcp: rtcp, status: Int32(status.rawValue)) }
            throw .malformed(rtcp: rtcp, status: Int32(status.rawValue))
        }
    }
}
