/// What an offer and river's answer agreed on: everything the transport and media layers need.
public struct NegotiatedSession: Sendable, Equatable {
    /// `a=mid` of the accepted video section.
    public var videoMid: String
    /// The H264 payload type, kept from the offer (both directions use it).
    public var videoPayloadType: UInt8
    /// The offered profile-level-id of that payload type, e.g. `42e01f`.
    public var h264ProfileLevelID: String
    /// The direction river answered for video: `recvonly` for a sendonly offer, `sendrecv` for a
    /// sendrecv one (then river sends on ``localVideoSSRC``).
    public var videoDirection: String
    /// Media SSRCs the offerer announced in `a=ssrc` (RFC 5576), retransmission SSRCs excluded.
    public var remoteVideoSSRCs: [UInt32]
    /// SSRCs that are the second member of an `a=ssrc-group:FID` (RTX, RFC 4588).
    public var remoteRTXSSRCs: [UInt32]
    /// Accepted RTP header extensions: URI → the offer's id (RFC 8285).
    public var headerExtensionIDs: [String: UInt8]
    public var remoteICEUfrag: String
    public var remoteICEPwd: String
    /// Every fingerprint the offer gave for the bundle transport (RFC 8122 allows several).
    public var remoteFingerprints: [Fingerprint]
    /// SSRC we send from when ``videoDirection`` includes sending, else `nil`.
    public var localVideoSSRC: UInt32?
    /// `a=mid` of the accepted data channel section, `nil` when none was offered or accepted.
    public var dataChannelMid: String?
    /// The offerer's `a=sctp-port` (RFC 8841 §5; 5000 when absent).
    public var remoteSCTPPort: UInt16?
    /// The offerer's `a=max-message-size` (RFC 8841 §6; 64 KiB when absent).
    public var remoteMaxMessageSize: Int?
    /// Mids of the sections answered with port 0.
    public var rejectedMids: [String]
    /// The accepted Opus section, if the offer had one and the options asked for audio.
    public var audio: NegotiatedAudio?

    public var dataChannelAccepted: Bool { dataChannelMid != nil }
}

/// What was agreed for the audio section: sendrecv Opus (RFC 7587), its packets sent back.
public struct NegotiatedAudio: Sendable, Equatable {
    public var mid: String
    /// The offer's payload type for `opus/48000/2`.
    public var payloadType: UInt8
    /// Media SSRCs the offerer announced for this section.
    public var remoteSSRCs: [UInt32]
    /// The SSRC we send the audio back from.
    public var localSSRC: UInt32
}

/// River's answer: the SDP text to send, the same as a value, and what it agreed on.
public struct Answer: Sendable {
    public var sdp: String { description.serialized() }
    public var description: SessionDescription
    public var negotiated: NegotiatedSession
}
