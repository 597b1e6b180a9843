import RiverCore
import RiverRTP

/// Turns the receiver's key-frame requests on our stream, PLI (RFC 4585 §6.3.1) or FIR (RFC 5104
/// §4.3.1), into a PLI on the browser's stream: our stream is the browser's, forwarded, so only its
/// encoder can make a key frame. Receivers repeat requests while they wait, so forwarded PLIs are
/// spaced at least ``minimumInterval`` apart.
public struct PLIForwarder: RTCPStage, Sendable {
    public let localSSRC: UInt32
    public let payloadType: UInt8
    public var minimumInterval: Duration = .milliseconds(300)
    public private(set) var upstreamSSRC: UInt32?
    public private(set) var forwarded = 0
    private var lastPLI: Instant?

    public init(localSSRC: UInt32, payloadType: UInt8) {
        self.localSSRC = localSSRC
        self.payloadType = payloadType
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
        guard let upstreamSSRC else { return }
        if let lastPLI, now - lastPLI < minimumInterval { return }
        lastPLI = now
        forwarded += 1
        out.compounds.append([.pictureLossIndication(.init(senderSSRC: localSSRC, mediaSSRC: upstreamSSRC))])
    }
}
