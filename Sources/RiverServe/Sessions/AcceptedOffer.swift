import RiverDTLS
import RiverSCTP
import RiverSDP
import RiverSession
import RiverWebRTC

/// What answering a WHIP or WHEP offer takes, whatever the session then does with the video: fresh
/// ICE credentials, the SDP answer (data channels on), the checks every river session needs, and
/// the engine's configuration.
///
/// Throws ``OfferRejected`` (HTTP 400) with the reason when the offer cannot be served.
struct AcceptedOffer {
    let answer: Answer
    let session: SessionConfiguration

    var id: String { session.id }
    var negotiated: NegotiatedSession { answer.negotiated }

    /// Who sends the video the session's peer gets back.
    enum Role {
        /// The peer itself (WHIP): its offer must send and receive video.
        case publisher
        /// Another session (WHEP): the offer must receive video only, in the publisher's H264
        /// profile (`profile_idc` + `profile-iop`), since its packets are forwarded as they are.
        case viewer(profile: String)
    }

    init(
        offer: String, role: Role = .publisher, port: Int, tcpPort: Int?, candidateAddresses: [String],
        rembBitrate: UInt64
    ) throws {
        // The WHIP resource name: 26 characters of 36 is 134 bits, so it cannot be guessed
        // (RFC 9725 §4.1); logs show only ``SessionConfiguration/logID``.
        let id = ICECredentials.random(count: 26, alphabet: "abcdefghijklmnopqrstuvwxyz0123456789")
        let ufrag = ICECredentials.randomUfrag()
        let password = ICECredentials.randomPassword()
        var options = AnswerOptions(
            iceUfrag: ufrag, icePwd: password, fingerprintSHA256: DTLSCertificate.shared.fingerprint,
            candidates: HostCandidate.list(
                addresses: candidateAddresses, port: UInt16(port), tcpPort: tcpPort.map { UInt16($0) }),
            dataChannels: true, audio: true)
        if case .viewer(let profile) = role {
            options.h264Profiles = [profile]
            // The publisher's audio is not forwarded yet: a viewer's audio section is refused.
            options.audio = false
        }
        do {
            answer = try OfferAnswer.answer(offer: offer, options: options)
        } catch {
            throw OfferRejected(error.description)
        }
        let negotiated = answer.negotiated
        guard let fingerprint = negotiated.remoteFingerprints.first(where: { $0.algorithm == "sha-256" })
        else {
            throw OfferRejected(
                "the offer has no a=fingerprint:sha-256; river verifies DTLS certificates with SHA-256")
        }
        let outgoingSSRC: UInt32
        switch (role, negotiated.videoDirection, negotiated.localVideoSSRC) {
        case (.publisher, "sendrecv", let ssrc?), (.viewer, "sendonly", let ssrc?):
            outgoingSSRC = ssrc
        case (.publisher, let direction, _):
            throw OfferRejected(
                "river needs a sendrecv video section to send the video back (answered \(direction)); "
                    + "to watch a session, POST a recvonly offer to /whep/{session}")
        case (.viewer, let direction, _):
            throw OfferRejected(
                "a viewer's offer must receive video only (a=recvonly; answered \(direction))")
        }
        var session = SessionConfiguration(
            id: id, localUfrag: ufrag, localPassword: password, remoteUfrag: negotiated.remoteICEUfrag,
            remoteFingerprint: fingerprint.value, videoPayloadType: negotiated.videoPayloadType,
            outgoingSSRC: outgoingSSRC, rembBitrate: rembBitrate)
        session.dataChannels = Self.dataChannels(for: negotiated, options: options)
        session.remoteSSRCs = Set(
            negotiated.remoteVideoSSRCs + negotiated.remoteRTXSSRCs + (negotiated.audio?.remoteSSRCs ?? []))
        session.audio = negotiated.audio.map {
            SessionConfiguration.Audio(payloadType: $0.payloadType, outgoingSSRC: $0.localSSRC)
        }
        self.session = session
    }

    /// The association settings for a negotiated session, or nil when the answer did not accept a
    /// data-channel section. river is the DTLS server (`a=setup:passive`).
    static func dataChannels(for negotiated: NegotiatedSession, options: AnswerOptions) -> SCTPConfiguration?
    {
        guard negotiated.dataChannelAccepted else { return nil }
        var configuration = SCTPConfiguration(role: .server)
        configuration.remotePort = negotiated.remoteSCTPPort ?? 5000
        configuration.maxMessageSize = options.maxMessageSize
        // RFC 8841 §6: a peer that announces no a=max-message-size takes 64 KiB.
        configuration.peerMaxMessageSize = negotiated.remoteMaxMessageSize ?? 65_536
        return configuration
    }
}
