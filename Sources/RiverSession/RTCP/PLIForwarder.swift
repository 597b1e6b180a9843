import RiverCore
import RiverRTP

/// Turns the receiver's key-frame requests on our stream, PLI (RFC 4585 §6.3.1) or FIR (RFC 5104
/// §4.3.1), into a PLI on the browser's stream: our stream is the browser's, forwarded, so only its
/// encoder can make a key frame. Receivers repeat requests while they wait, so forwarded PLIs are
/// spaced at least ``minimumInterval`` apart.
///
/// A viewer's stream (WHEP) is another session's, so its forwarder has no browser stream to ask:
/// a request that passes the spacing sets ``RTCPStageOutput/keyFrameWanted`` instead, and the
/// shell hands it to the publisher as ``request(now:into:)``, under the publisher's own spacing,
/// which merges every viewer's requests with its own receiver's.
public struct PLIForwarder: RTCPStage, Sendable {
    /// Where a key frame for our stream comes from.
    public enum Source: Sendable, Equatable {
        /// The browser whose RTP this session receives.
        case browser
        /// The session this one views.
        case publisher
    }

    public let localSSRC: UInt32
    public let payloadType: UInt8
    public let source: Source
    public var minimumInterval: Duration = .milliseconds(300)
    public private(set) var upstreamSSRC: UInt32?
    /// Requests passed on: PLIs sent upstream, or key frames wanted from the publisher.
    public private(set) var forwarded = 0
    private var lastPLI: Instant?

    public init(localSSRC: UInt32, payloadType: UInt8, source: Source = .browser) {
        self.localSSRC = localSSRC
        self.payloadType = payloadType
        self.source = source
    }

    public mutating func received(rtp packet: RTPPacket, now: Instant) {
        if packet.payloadType == payloadType { upstreamSSRC = packet.ssrc }
    }

    public mutating func received(rtcp packet: RTCPPacket, now: Instant, into out: inout RTCPStageOutput) {
        switch packet {
        case .pictureLossIndication(let pli) where pli.mediaSSRC == localSSRC: break
        case .fullIntraRequest(let fir) where fir.entries.contains(where: { $0.ssrc == localSSRC }): break
        default: return
        }
        request(now: now, into: &out)
    }

    /// A key frame is wanted for our stream, by our receiver or by one of the session's viewers.
    public mutating func request(now: Instant, into out: inout RTCPStageOutput) {
        if let lastPLI, now - lastPLI < minimumInterval { return }
        switch source {
        case .publisher:
            out.keyFrameWanted = true
        case .browser:
            guard let upstreamSSRC else { return }
            out.compounds.append(
                [.pictureLossIndication(.init(senderSSRC: localSSRC, mediaSSRC: upstreamSSRC))])
        }
        lastPLI = now
        forwarded += 1
    }
}
