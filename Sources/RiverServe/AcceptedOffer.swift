import RiverDTLS
import RiverSDP
import RiverWebRTC

/// What answering a WHIP offer takes, whatever the session then does with the video: fresh ICE
/// credentials, the SDP answer (data channels on), the checks every river session needs, and the
/// peer connection on the shared UDP port.
///
/// Throws ``OfferRejected`` (HTTP 400) with the reason when the offer cannot be served.
struct AcceptedOffer {
    let id: String
    let options: AnswerOptions
    let answer: Answer
    /// The SSRC the answer announced for the video river sends back.
    let outgoingSSRC: UInt32
    let connection: PeerConnection

    var negotiated: NegotiatedSession { answer.negotiated }

    init(offer: String, server: WebRTCServer, candidateAddresses: [String]) throws {
        id = ICECredentials.random(count: 12, alphabet: "abcdefghijklmnopqrstuvwxyz0123456789")
        let ufrag = ICECredentials.randomUfrag()
        let password = ICECredentials.randomPassword()
        options = AnswerOptions(
            iceUfrag: ufrag, icePwd: password, fingerprintSHA256: DTLSCertificate.shared.fingerprint,
            candidates: HostCandidate.list(addresses: candidateAddresses, port: UInt16(server.port)),
            dataChannels: true)
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
        guard let outgoingSSRC = negotiated.localVideoSSRC else {
            throw OfferRejected(
                "river needs a sendrecv video section to send the video back (got \(negotiated.videoDirection))"
            )
        }
        self.outgoingSSRC = outgoingSSRC
        connection = try server.makePeerConnection(
            id: id, localUfrag: ufrag, localPassword: password, remoteUfrag: negotiated.remoteICEUfrag,
            remoteFingerprint: fingerprint.value)
    }
}
