import CSRTP

/// libsrtp must be initialised once per process before any session is created; a global `let`
/// is initialised lazily and exactly once, even under concurrent first use.
private let libsrtpStatus: srtp_err_status_t = srtp_init()

/// Room libsrtp may append when protecting: auth tag (≤ 16) plus MKI and SRTCP index.
private let trailerRoom = 64

/// SRTP and SRTCP for one DTLS-SRTP association (RFC 3711, RFC 7714): one libsrtp context
/// that protects what we send and one that unprotects what we receive, each for any SSRC.
///
/// Not `Sendable`: libsrtp contexts are not thread-safe; use a session from one executor.
public final class SRTPSession {
    public let profile: SRTPProfile
    private var outbound: srtp_t?
    private var inbound: srtp_t?

    /// - Parameters:
    ///   - localKeyAndSalt: master key ‖ salt for packets we send (DTLS export, RFC 5764 §4.2).
    ///   - remoteKeyAndSalt: master key ‖ salt for packets we receive.
    public init(profile: SRTPProfile, localKeyAndSalt: [UInt8], remoteKeyAndSalt: [UInt8]) throws(SRTPError) {
        guard libsrtpStatus == srtp_err_status_ok else {
            throw .create(status: Int32(libsrtpStatus.rawValue))
        }
        for key in [localKeyAndSalt, remoteKeyAndSalt] where key.count != profile.keyAndSaltLength {
            throw .badKeyLength(expected: profile.keyAndSaltLength, got: key.count)
        }
        self.profile = profile
        outbound = try Self.create(profile: profile, key: localKeyAndSalt, direction: ssrc_any_outbound)
        do {
            inbound = try Self.create(profile: profile, key: remoteKeyAndSalt, direction: ssrc_any_inbound)
        } catch {
            srtp_dealloc(outbound)
            throw error
        }
    }

    /// Convenience for a profile id straight from the DTLS handshake.
    public convenience init(profileID: UInt16, localKeyAndSalt: [UInt8], remoteKeyAndSalt: [UInt8])
        throws(SRTPError)
    {
        guard let profile = SRTPProfile(rawValue: profileID) else { throw .unsupportedProfile(profileID) }
        try self.init(profile: profile, localKeyAndSalt: localKeyAndSalt, remoteKeyAndSalt: remoteKeyAndSalt)
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
        var buffer = packet
        if protect { buffer.append(contentsOf: repeatElement(0, count: trailerRoom)) }
        var length = Int32(packet.count)
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
