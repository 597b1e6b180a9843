import Foundation
import RiverCore
import RiverDTLS
import RiverRTP
import RiverResults
import RiverSCTP

/// Everything one session engine needs to know, fixed when the WHIP offer is answered.
public struct SessionConfiguration: Sendable {
    /// The session's id: the WHIP resource name, which authorizes DELETE on it.
    public var id: String
    /// What logs show of ``id``: enough to tell sessions apart, too little to act on one.
    public var logID: String { String(id.prefix(8)) }
    /// Our ICE credentials (the answer's) and the offer's ufrag.
    public var localUfrag: String
    public var localPassword: String
    public var remoteUfrag: String
    /// The offer's `a=fingerprint:sha-256`, which the browser's DTLS certificate must match.
    public var remoteFingerprint: String
    public var certificate: DTLSCertificate = .shared
    /// Close a session whose peer is silent this long (RFC 7675 suggests 30 s; WebRTC peers check
    /// every few seconds, so 10 s frees dead sessions sooner).
    public var consentTimeout: Duration = .seconds(10)
    /// Close a session that has not reached DTLS connected this long after it was created: a WHIP
    /// POST costs an engine and a DTLS context, so one that never connects must not hold them.
    public var connectTimeout: Duration = .seconds(10)
    /// Close a session this long after it was created, whatever it does (nil: no limit).
    public var maxLifetime: Duration?

    /// The negotiated video payload type and the SSRC our answer announced.
    public var videoPayloadType: UInt8
    public var outgoingSSRC: UInt32
    /// What REMB tells the browser it may send.
    public var rembBitrate: UInt64
    /// The negotiated Opus section, when the browser sends audio to be sent back.
    public var audio: Audio?
    /// Reflect: `.fixed(.zero)`.
    public var delay: PipelineDelay = .fixed(.zero)
    /// Decode and inference; nil for reflect.
    public var inference: Inference?
    /// Data channels, when the answer accepted an `m=application` section.
    public var dataChannels: SCTPConfiguration?
    /// A viewer of another session (WHEP): its video is that session's, handed over as
    /// ``SessionInput/forwarded(_:)``, and its results are too; it takes no media from its peer.
    /// Give it no delay and no inference.
    public var viewer = false
    /// Echo every data-channel message and open `river-server` (reflect mode's transport check).
    public var echoDataChannels = false
    /// The peer's SSRCs from the offer (`a=ssrc`, media and RTX): they always get an SRTP stream;
    /// ``maxUnexpectedSSRCs`` others may (see `SRTPSession`).
    public var remoteSSRCs: Set<UInt32> = []
    public var maxUnexpectedSSRCs = 8
    /// The most bytes of the browser's RTP the delay line holds (it holds ingress rate × delay).
    /// 32 MiB is 10 s at 25 Mbit/s, ten times the default REMB over a 10 s delay.
    public var delayLineByteLimit = 32 << 20
    /// Send each echoed frame's last packet twice while the browser reports loss, so that losing
    /// it does not show the frame a frame interval late (``VideoRelay``).
    public var repeatsFrameEnds = true
    /// Emit ``SessionOutput/record(_:)`` for every access unit, audio packet and result message.
    public var records = false
    /// How NACKs are served: dedup, per-NACK cap and the retransmission byte budget.
    public var nackResponder = NACKResponder.Configuration()
    /// Wall-clock seconds since the Unix epoch: the SR's NTP time and a result's `receivedAt`.
    public var wallClock: @Sendable () -> Double = { Date().timeIntervalSince1970 }

    /// Audio passed through beside the video (``AudioRelay``).
    public struct Audio: Sendable {
        /// The offer's Opus payload type and the SSRC our answer announced for audio.
        public var payloadType: UInt8
        public var outgoingSSRC: UInt32
        /// The most bytes of the browser's audio the audio's delay line holds: 10 s of Opus at
        /// its 510 kbit/s ceiling is 640 KiB, so 2 MiB leaves room without letting a peer that
        /// sends far more than Opus grow it without end.
        public var delayLineByteLimit = 2 << 20

        public init(payloadType: UInt8, outgoingSSRC: UInt32) {
            self.payloadType = payloadType
            self.outgoingSSRC = outgoingSSRC
        }
    }

    public struct Inference: Sendable {
        public var frameBuilder = H264FrameBuilder.Configuration()
        /// Subtracted from a frame's departure to get its inference deadline, under a fixed delay.
        /// Under `--delay auto` the deadline keeps ``AutoDelay``'s headroom instead, which the
        /// delay is chosen to cover.
        public var margin: Duration = .milliseconds(50)
        /// Requests out at once; read on the engine's loop at every scheduling round.
        public var maxInFlight: @Sendable () -> Int = { 1 }
        /// Decoded frames that may wait for a slot (``InferenceScheduler/maxWaiting``): three frame
        /// intervals at 30 fps ride out a worker that stalls for 100 ms (the CPU taken by a
        /// browser on the same cores, a garbage collection, a slow frame) without losing a frame.
        public var maxWaiting = 3

        public init() {}

        /// The default per-session window of `river serve` when `--max-in-flight` is not given:
        /// the proxy's total worker slots divided among the live sessions, rounded up, at least 1.
        ///
        /// Why total slots shared, rather than "as many as are free now": the free figure is a
        /// snapshot that the sessions themselves drain, so a session that took the free slots
        /// would see 0 free and others would read the same slots as theirs; sizing by free slots
        /// oscillates and lets the first busy session starve the rest. Total ÷ sessions gives every
        /// session the same share; rounding up keeps every slot usable (the proxy queues the few
        /// extra requests briefly, and its scheduler always serves the oldest). With one session,
        /// this is exactly the proxy's slot count. Before the proxy has answered (or while it is
        /// unreachable) the figure is unknown and the window is 1.
        public static func fairShare(totalSlots: Int?, sessions: Int) -> Int {
            guard let totalSlots, totalSlots > 0 else { return 1 }
            let sessions = max(1, sessions)
            return max(1, (totalSlots + sessions - 1) / sessions)
        }
    }

    public init(
        id: String, localUfrag: String, localPassword: String, remoteUfrag: String, remoteFingerprint: String,
        videoPayloadType: UInt8, outgoingSSRC: UInt32, rembBitrate: UInt64
    ) {
        self.id = id
        self.localUfrag = localUfrag
        self.localPassword = localPassword
        self.remoteUfrag = remoteUfrag
        self.remoteFingerprint = remoteFingerprint
        self.videoPayloadType = videoPayloadType
        self.outgoingSSRC = outgoingSSRC
        self.rembBitrate = rembBitrate
    }
}
