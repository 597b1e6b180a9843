import RiverCore
import RiverDTLS
import RiverICE
import RiverRTP
import RiverResults
import RiverSCTP
import RiverSRTP

/// One WebRTC session, sans-IO, shaped like str0m's `Rtc`: ``handle(_:now:)`` takes datagrams,
/// timeouts, decoded frames and inference answers; ``poll()`` gives back bytes to transmit, access
/// units to decode, frames to infer, events, and finally the next deadline.
///
/// Inside: ICE-lite (RFC 8445 §2.5) with consent (RFC 7675) → DTLS-SRTP server (RFC 5764) →
/// SRTP/SRTCP (RFC 3711) → the ``VideoRelay`` (delay line, frame builder, RTCP stages), and the
/// ``AudioRelay`` beside it when the browser sends audio (the same delay, no decoding) → the
/// ``InferenceStage`` (scheduler, result messages) → the data-channel adapter (SCTP over DTLS,
/// RFC 8261). The engine never reads a clock, owns a socket, or starts a thread; the shell
/// (`WebRTCServer`) drives it from one event loop.
///
/// A publisher's engine also hands out its stream (``SessionOutput/forward(_:)``) while it has
/// viewers; a viewer's engine (``SessionConfiguration/viewer``) takes that stream and the
/// publisher's result messages as inputs instead of its peer's media. The shell carries both.
///
/// One exception to "inputs only through `handle`": usrsctp runs association work as jobs on the
/// ``SCTPExecutor`` given at creation; the shell's executor runs each job on the session's loop and
/// then drains ``poll()``, as after any other input.
///
/// Not `Sendable`: it holds OpenSSL, libsrtp and usrsctp handles, which must stay on one thread.
public final class SessionEngine {
    /// Per-session counters.
    public struct Counters: Sendable, Equatable {
        public var rtpReceived = 0
        public var rtcpReceived = 0
        public var rtpSent = 0
        public var rtcpSent = 0
        /// Binding requests answered / refused (bad integrity, wrong username).
        public var stunAnswered = 0
        public var stunRejected = 0
        /// SRTP/SRTCP that failed authentication, replay or parsing.
        public var droppedSRTP = 0
        /// DTLS, RTP or RTCP before DTLS connected or after it failed; other kinds.
        public var droppedUnexpected = 0
        /// RTCP compounds with a malformed packet (the valid packets before it are still used).
        public var malformedRTCP = 0
        public var resultsSent = 0
        /// Results that could not be sent (no channel yet, or its buffer full).
        public var resultsUndelivered = 0
        /// SRTP/SRTCP datagrams over ``SessionEngine/maxMediaDatagram`` bytes (ICE-TCP frames).
        public var droppedOversize = 0
        /// SRTP/SRTCP refused because its SSRC would have passed the session's stream limit.
        public var droppedUnknownSSRC = 0
        /// Browser packets the delay line refused (over its byte bound): not echoed. Audio's too.
        public var droppedDelayLineFull = 0
        /// Access units dropped for passing the frame builder's byte bound.
        public var accessUnitsTooLarge = 0
        /// Retransmissions the NACK responder refused, by why.
        public var nackRefused = NACKResponder.Counters()
        /// Peer data channels refused past the association's channel cap, and SCTP sends refused
        /// past its send budget (`SCTPConfiguration.maxChannels`, `.maxBufferedAmount`).
        public var dataChannelsRefused = 0
        public var sctpSendsOverBudget = 0
        public init() {}

        public var dropped: Int { droppedSRTP + droppedUnexpected }

        /// What a bound on this session refused, by the reason `/metrics` shows
        /// (`river_datagrams_dropped_total{reason}`). Each counts packets, except
        /// `accessUnitTooLarge`, which counts units.
        public var limitDrops: [String: Int] {
            [
                "oversize": droppedOversize, "unknownSSRC": droppedUnknownSSRC,
                "delayLineFull": droppedDelayLineFull,
                "accessUnitTooLarge": accessUnitsTooLarge, "nackDuplicate": nackRefused.duplicate,
                "nackOverCap": nackRefused.overCap, "retransmitBudget": nackRefused.overBudget,
                "dataChannelRefused": dataChannelsRefused, "sctpSendBudget": sctpSendsOverBudget,
            ]
        }
    }

    public enum State: Sendable, Equatable {
        case new, connected
        case closed(SessionCloseReason)
    }

    public let configuration: SessionConfiguration
    public var id: String { configuration.id }
    public private(set) var state: State = .new
    /// The engine's own tallies and what its stages counted.
    public var counters: Counters {
        var counters = tallies
        counters.droppedUnknownSSRC = srtp?.refusedUnknownSSRC ?? unknownSSRCBeforeClose
        counters.droppedDelayLineFull = video.line.refused + (audio?.line.refused ?? 0)
        counters.accessUnitsTooLarge = video.unitsTooLarge
        counters.nackRefused = video.nackResponder.refused + (audio?.nackResponder.refused ?? .init())
        let sctp = channels?.statistics ?? sctpBeforeClose
        counters.dataChannelsRefused = sctp.channelsRefused
        counters.sctpSendsOverBudget = sctp.sendsOverBudget
        return counters
    }
    /// The association's statistics, kept when closing drops it.
    private var sctpBeforeClose = SCTPAssociationStatistics()
    private var tallies = Counters()
    /// ``SRTPSession/refusedUnknownSSRC`` of the session's SRTP, kept when closing drops it.
    private var unknownSSRCBeforeClose = 0
    /// The nominated address (USE-CANDIDATE), else the first one that passed a check.
    public private(set) var selectedAddress: TransportAddress?
    /// A nominated address media will move to once authenticated traffic arrives from it.
    public private(set) var pendingAddress: TransportAddress?
    /// Every address that authenticated with our ICE credentials.
    public private(set) var authenticatedAddresses: Set<TransportAddress> = []
    /// The transport each authenticated address used (RFC 6544: a TCP pair answers on its
    /// connection).
    private var transports: [TransportAddress: Transport] = [:]

    private var ice: ICELiteResponder
    private var dtls: DTLSEndpoint?
    private var srtp: SRTPSession?
    private var video: VideoRelay
    private var audio: AudioRelay?
    private var inference: InferenceStage?
    private var channels: DataChannelAdapter?
    private let sctpExecutor: any SCTPExecutor
    private var outputs: [SessionOutput] = []
    private var head = 0
    private var relayOutput = VideoRelay.Output()
    private var audioOutput = AudioRelay.Output()
    private var inferenceOutput = InferenceStage.Output()

    /// - Parameter sctpExecutor: where usrsctp runs this association's jobs (see the type's note).
    public init(configuration: SessionConfiguration, now: Instant, sctpExecutor: any SCTPExecutor) throws {
        self.configuration = configuration
        self.sctpExecutor = sctpExecutor
        lastNow = now
        connectBy = now + configuration.connectTimeout
        endBy = configuration.maxLifetime.map { now + $0 }
        ice = ICELiteResponder(
            localUfrag: configuration.localUfrag, localPwd: configuration.localPassword,
            remoteUfrag: configuration.remoteUfrag, consentTimeout: configuration.consentTimeout, now: now)
        dtls = try DTLSEndpoint(
            role: .server, certificate: configuration.certificate,
            expectedPeerFingerprint: configuration.remoteFingerprint)
        video = try VideoRelay(
            payloadType: configuration.videoPayloadType, outgoingSSRC: configuration.outgoingSSRC,
            rembBitrate: configuration.rembBitrate
                + (configuration.audio == nil ? 0 : AudioRelay.rembAllowance),
            delay: configuration.delay,
            delayLineByteLimit: configuration.delayLineByteLimit,
            repeatsFrameEnds: configuration.repeatsFrameEnds,
            nackResponder: configuration.nackResponder,
            frameBuilder: configuration.inference?.frameBuilder,
            keyFrameSource: configuration.viewer ? .publisher : .browser, wallClock: configuration.wallClock)
        audio = configuration.audio.map {
            var audio = AudioRelay(
                payloadType: $0.payloadType, outgoingSSRC: $0.outgoingSSRC,
                startDelay: configuration.delay.start,
                delayLineByteLimit: $0.delayLineByteLimit, nackResponder: configuration.nackResponder,
                wallClock: configuration.wallClock)
            audio.records = configuration.records
            return audio
        }
        if let settings = configuration.inference {
            // Under `--delay auto` the delay is chosen to cover the turnaround plus AutoDelay's
            // headroom, so the deadline keeps that same headroom rather than the fixed delay's.
            inference = InferenceStage(
                margin: video.autoHeadroom ?? settings.margin, maxInFlight: settings.maxInFlight,
                maxWaiting: settings.maxWaiting)
        }
    }

    /// The largest SRTP/SRTCP datagram taken. The UDP shell reads at most 2048 bytes a datagram;
    /// an RFC 4571 frame on ICE-TCP may carry up to 64 KiB, which would let one TCP peer fill
    /// the reorder buffer, NACK history and delay line with packets 30 times a browser's.
    public static let maxMediaDatagram = 2048

    /// The delay in force.
    public var delay: Duration { video.delay }
    /// Emit ``SessionOutput/forward(_:)`` for each packet of our stream, for the session's viewers;
    /// the shell turns it on while the session has any.
    public var forwardsToViewers: Bool {
        get { video.forwardsToViewers }
        set { video.forwardsToViewers = newValue }
    }
    /// The NACK responder as it stands (tests read its byte figures).
    var nackResponderForTesting: NACKResponder { video.nackResponder }
    private var inferenceCounters: String { inference?.counters.description ?? "no inference" }

    /// One line of figures for the session's end-of-life log.
    public var summary: String {
        let (skipped, nacks, plis, repaired, givenUp) = video.builderCounters
        return
            "\(video.packetsIn) packets in, \(video.senderReports.packetsSent) out, \(video.frameEndsRepeated) frame ends "
            + "repeated, "
            + "\(video.placedLate) placed late, \(video.duplicatesDropped) duplicates dropped, "
            + "\(video.nackResponder.retransmitted) resent, \(video.unitsOut) units, \(skipped) skipped awaiting a "
            + "keyframe, \(nacks) NACKs, \(plis) PLIs up, upstream loss \(repaired) repaired \(givenUp) given up, "
            + "\(inferenceCounters); results \(tallies.resultsSent) "
            + "sent, \(tallies.resultsUndelivered) undelivered" + audioSummary + limitSummary + autoSummary
    }

    /// With audio: its packets in and out, resends, and upstream loss.
    private var audioSummary: String {
        guard let audio else { return "" }
        let (nacks, repaired, givenUp) = audio.repairCounters
        return "; audio \(audio.packetsIn) packets in, \(audio.packetsOut) out, "
            + "\(audio.nackResponder.retransmitted) resent, \(nacks) NACKs, upstream loss \(repaired) repaired "
            + "\(givenUp) given up"
    }

    /// The bounds that refused something, if any (", refused: delayLineFull 12, …").
    private var limitSummary: String {
        let refused = counters.limitDrops.filter { $0.value > 0 }.sorted { $0.key < $1.key }
        return refused.isEmpty
            ? "" : "; refused: " + refused.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
    }

    /// Under `--delay auto`: the delay and what it was made of at the end.
    private var autoSummary: String {
        guard let auto = video.auto else { return "" }
        let margin = auto.margin(now: lastNow)
        func ms(_ d: Duration?) -> String { d.map { "\($0.nanosecondsClamped / 1_000_000) ms" } ?? "?" }
        return
            "; delay auto \(ms(auto.delay)), target p99 \(ms(auto.p99)) + headroom \(ms(margin.headroom)) + "
            + "jitter \(ms(margin.jitter)) + repair \(ms(margin.repair)) (RTT \(ms(auto.roundTrip)), "
            + "frame \(ms(auto.frameInterval)))"
    }

    // MARK: Input

    public func handle(_ input: SessionInput, now: Instant) {
        if case .closed = state { return }
        switch input {
        case .datagram(let datagram): receive(datagram, now: now)
        case .timeout: handleTimeout(now: now)
        case .decoded(let job, let frames, let decodeTime):
            inference?.decoded(
                job, frames: frames, decodeTime: decodeTime, delay: video.delay, now: now,
                into: &inferenceOutput)
        case .decodeFailed(let job):
            inference?.decodeFailed(job, delay: video.delay, into: &inferenceOutput)
            video.decoderFailed(outputTimestamp: job.outputTimestamp, now: now, into: &relayOutput)
        case .inferred(let id, let outcome):
            inference?.inferred(id: id, outcome, delay: video.delay, now: now, into: &inferenceOutput)
        case .forwarded(let packet):
            lastNow = now
            // Before DTLS is up nothing can be sent; the viewer then starts at a frame boundary.
            guard configuration.viewer, state == .connected else { return }
            video.forward(packet, now: now, into: &relayOutput)
        case .forwardedResult(let json):
            guard configuration.viewer else { return }
            deliver(json)
        case .keyFrameRequest:
            video.requestKeyFrame(now: now, into: &relayOutput)
        case .close(let reason):
            close(reason, now: now)
            return
        }
        flushStages()
    }

    // MARK: Output

    /// The next output; the last one of a round is always ``SessionOutput/timeout(_:)``.
    public func poll() -> SessionOutput {
        if head < outputs.count {
            let output = outputs[head]
            head += 1
            if head == outputs.count {
                outputs.removeAll(keepingCapacity: true)
                head = 0
            }
            return output
        }
        return .timeout(nextDeadline)
    }

    /// The earliest instant at which a timer inside the engine wants to run.
    public var nextDeadline: Instant? {
        guard case .closed = state else {
            var next = Instant.earliest(ice.consentDeadline(for: selectedAddress), endBy)
            if state != .connected { next = Instant.earliest(next, connectBy) }
            if let dtls, let due = dtls.nextTimeout(now: lastNow) { next = Instant.earliest(next, due) }
            next = Instant.earliest(next, video.nextDeadline)
            next = Instant.earliest(next, audio?.nextDeadline)
            next = Instant.earliest(next, inference?.nextDeadline)
            return next
        }
        return nil
    }

    /// The time of the latest input, which DTLS needs to turn OpenSSL's "time left" into a deadline.
    private var lastNow: Instant = .zero
    /// DTLS must be connected by then (``SessionConfiguration/connectTimeout``).
    private let connectBy: Instant
    /// The end of the session's lifetime, if it has one.
    private let endBy: Instant?

    // MARK: Transport

    private func receive(_ datagram: Datagram, now: Instant) {
        lastNow = now
        switch datagram.kind {
        case .stun: receiveSTUN(datagram, now: now)
        case .dtls: receiveDTLS(datagram.bytes, from: datagram.source)
        case .rtp where datagram.bytes.count > Self.maxMediaDatagram,
            .rtcp where datagram.bytes.count > Self.maxMediaDatagram:
            // (A `where` binds to one pattern only, hence twice.)
            tallies.droppedOversize += 1
        case .rtp: receiveRTP(datagram.bytes, from: datagram.source, now: now)
        case .rtcp: receiveRTCP(datagram.bytes, from: datagram.source, now: now)
        default: tallies.droppedUnexpected += 1
        }
    }

    private func receiveSTUN(_ datagram: Datagram, now: Instant) {
        guard let reply = ice.handle(datagram.bytes, from: datagram.source, now: now) else {
            tallies.stunRejected += 1
            return
        }
        tallies.stunAnswered += 1
        transports[datagram.source] = datagram.transport
        if authenticatedAddresses.insert(datagram.source).inserted {
            emit(.event(.addressAuthenticated(datagram.source)))
        }
        // Media follows the nominated pair (USE-CANDIDATE); before nomination, the first address
        // that passed a check, so later checks on other pairs do not make media hop around. Once
        // media flows, a nomination of another address only marks it: media moves there when
        // SRTP from it authenticates, so one spoofed check cannot aim the session's media at a
        // third party.
        if selectedAddress == nil || (reply.newlySelected != nil && srtp == nil) {
            selectedAddress = datagram.source
            pendingAddress = nil
        } else if reply.newlySelected != nil, reply.newlySelected != selectedAddress {
            pendingAddress = datagram.source
        }
        emit(
            .transmit(
                Transmit(destination: datagram.source, transport: datagram.transport, bytes: reply.response)))
    }

    private func receiveDTLS(_ bytes: [UInt8], from source: TransportAddress) {
        guard let dtls else {
            tallies.droppedUnexpected += 1
            return
        }
        let events = dtls.receive(bytes)
        flushDTLS(to: source)
        handle(events)
    }

    /// Authenticated SRTP or SRTCP from `source`: a nominated address that sends it becomes the
    /// media address.
    private func authenticated(from source: TransportAddress) {
        guard source == pendingAddress else { return }
        selectedAddress = source
        pendingAddress = nil
    }

    /// `bytes` decrypted and authenticated, or nil (counted: unknown SSRCs by the SRTP session,
    /// everything else here).
    private func unprotected(_ bytes: [UInt8], rtcp: Bool) -> [UInt8]? {
        guard let srtp else {
            tallies.droppedUnexpected += 1
            return nil
        }
        do {
            return rtcp ? try srtp.unprotectRTCP(bytes) : try srtp.unprotectRTP(bytes)
        } catch {
            if case .unknownSSRC = error { return nil }
            tallies.droppedSRTP += 1
            return nil
        }
    }

    private func receiveRTP(_ bytes: [UInt8], from source: TransportAddress, now: Instant) {
        guard let plain = unprotected(bytes, rtcp: false) else { return }
        guard let packet = try? RTPPacket(parsing: plain) else {
            tallies.droppedSRTP += 1
            return
        }
        tallies.rtpReceived += 1
        authenticated(from: source)
        guard !configuration.viewer else {
            // A viewer's peer only receives; what it sends has nowhere to go.
            tallies.droppedUnexpected += 1
            return
        }
        if let audioPT = audio?.payloadType, packet.payloadType == audioPT {
            audio!.receive(rtp: packet, now: now, into: &audioOutput)
            return
        }
        video.receive(rtp: packet, now: now, into: &relayOutput)
        // Only a video packet moves the delay (``AutoDelay`` updates as the video line is fed).
        audio?.follow(delay: video.delay, rescheduled: video.rescheduled)
    }

    /// The compound is parsed once; its packets go to every RTCP stage. A malformed packet ends
    /// the compound, but the valid packets before it still count (RFC 3550 §6.1 validity checks
    /// are per packet here, so one bad tail does not hide a NACK).
    private func receiveRTCP(_ bytes: [UInt8], from source: TransportAddress, now: Instant) {
        guard let plain = unprotected(bytes, rtcp: true) else { return }
        tallies.rtcpReceived += 1
        authenticated(from: source)
        let parsed = RTCPPacket.parsePrefix(plain)
        if parsed.error != nil { tallies.malformedRTCP += 1 }
        video.receive(rtcp: parsed.packets, now: now, into: &relayOutput)
        audio?.receive(rtcp: parsed.packets, now: now, into: &audioOutput)
    }

    /// How an authenticated address reached us last; what goes to it goes back the same way.
    private func transport(to address: TransportAddress) -> Transport { transports[address] ?? .udp }

    private func flushDTLS(to address: TransportAddress?) {
        guard let dtls, let address = address ?? selectedAddress else { return }
        for datagram in dtls.takeOutgoing() {
            emit(
                .transmit(Transmit(destination: address, transport: transport(to: address), bytes: datagram)))
        }
    }

    private func handle(_ events: [DTLSEndpoint.Event]) {
        for event in events {
            switch event {
            case .connected(let keys):
                do {
                    srtp = try SRTPSession(
                        profileID: keys.profileID, localKeyAndSalt: keys.localKeyAndSalt,
                        remoteKeyAndSalt: keys.remoteKeyAndSalt,
                        expectedInboundSSRCs: configuration.remoteSSRCs,
                        maxUnexpectedSSRCs: configuration.maxUnexpectedSSRCs)
                    state = .connected
                    emit(.event(.connected))
                    startDataChannels()
                } catch {
                    close(.dtlsFailed("\(error)"), now: lastNow)
                }
            case .applicationData(let data):
                channels?.receive(data)
            case .failed(let error):
                close(.dtlsFailed(error.description), now: lastNow)
            case .closed:
                close(.remoteClosed, now: lastNow)
            }
            if case .closed = state { return }
        }
    }

    private func handleTimeout(now: Instant) {
        lastNow = now
        if ice.consentExpired(at: now, for: selectedAddress) {
            close(.consentExpired, now: now)
            return
        }
        if state != .connected && now >= connectBy {
            close(.connectTimeout, now: now)
            return
        }
        if let endBy, now >= endBy {
            close(.lifetimeExceeded, now: now)
            return
        }
        if let dtls, let due = dtls.nextTimeout(now: now), due <= now {
            let events = dtls.handleTimeout(now: now)
            flushDTLS(to: nil)
            handle(events)
            if case .closed = state { return }
        }
        video.handleTimeout(now: now, into: &relayOutput)
        audio?.handleTimeout(now: now, into: &audioOutput)
        inference?.handleTimeout(now: now, delay: video.delay, into: &inferenceOutput)
    }

    // MARK: Media out

    /// Turns what the video relay and the inference stage produced into outputs.
    private func flushStages() {
        for packet in relayOutput.rtp { send(rtp: packet) }
        relayOutput.rtp.removeAll(keepingCapacity: true)
        for packet in relayOutput.rtcp.retransmissions { send(rtp: packet) }
        for compound in relayOutput.rtcp.compounds { send(rtcp: RTCPPacket.serializeCompound(compound)) }
        if relayOutput.rtcp.keyFrameWanted { emit(.event(.keyFrameWanted)) }
        relayOutput.rtcp = RTCPStageOutput()
        for packet in relayOutput.forwarded { emit(.forward(packet)) }
        relayOutput.forwarded.removeAll(keepingCapacity: true)
        for packet in audioOutput.rtp { send(rtp: packet) }
        audioOutput.rtp.removeAll(keepingCapacity: true)
        for packet in audioOutput.rtcp.retransmissions { send(rtp: packet) }
        for compound in audioOutput.rtcp.compounds { send(rtcp: RTCPPacket.serializeCompound(compound)) }
        audioOutput.rtcp = RTCPStageOutput()
        for unit in relayOutput.units {
            emit(.decode(unit))
            if configuration.records { emit(.record(.video(unit))) }
        }
        for (payload, timestamp, arrival) in audioOutput.received {
            emit(.record(.audio(payload: payload, outputTimestamp: timestamp, arrival: arrival)))
        }
        audioOutput.received.removeAll(keepingCapacity: true)
        relayOutput.units.removeAll(keepingCapacity: true)
        for (timestamp, receivedAt) in relayOutput.undecodable {
            inference?.notDecoded(
                outputTimestamp: timestamp, receivedAt: receivedAt, delay: video.delay, into: &inferenceOutput
            )
        }
        relayOutput.undecodable.removeAll(keepingCapacity: true)

        for turnaround in inferenceOutput.turnarounds { video.record(turnaround: turnaround) }
        inferenceOutput.turnarounds.removeAll(keepingCapacity: true)
        for request in inferenceOutput.requests { emit(.infer(request)) }
        inferenceOutput.requests.removeAll(keepingCapacity: true)
        for (message, latency) in inferenceOutput.messages {
            // Encoded once: the data channel and the event (the results feed, the webhook) carry the same text.
            let json = message.json()
            deliver(json)
            emit(.event(.frameFinished(message, json: json, inferenceLatency: latency, delay: video.delay)))
            if configuration.records { emit(.record(.result(message))) }
        }
        inferenceOutput.messages.removeAll(keepingCapacity: true)
    }

    /// One result message to the peer's data channel, counted either way.
    private func deliver(_ json: String) {
        if channels?.sendResult(json: json) == true {
            tallies.resultsSent += 1
        } else {
            tallies.resultsUndelivered += 1
        }
    }

    private func send(rtp packet: RTPPacket) {
        guard state == .connected, let srtp, let address = selectedAddress else { return }
        guard let bytes = try? srtp.protectRTP(packet.serialized()) else { return }
        tallies.rtpSent += 1
        emit(.transmit(Transmit(destination: address, transport: transport(to: address), bytes: bytes)))
    }

    private func send(rtcp compound: [UInt8]) {
        guard state == .connected, let srtp, let address = selectedAddress else { return }
        guard let bytes = try? srtp.protectRTCP(compound) else { return }
        tallies.rtcpSent += 1
        emit(.transmit(Transmit(destination: address, transport: transport(to: address), bytes: bytes)))
    }

    // MARK: Data channels

    private func startDataChannels() {
        guard let configuration = configuration.dataChannels, channels == nil else { return }
        do {
            channels = try DataChannelAdapter(
                configuration: configuration, executor: sctpExecutor,
                echo: self.configuration.echoDataChannels,
                output: { [weak self] packet in self?.sendSCTP(packet) },
                onChannelOpened: { [weak self] label in self?.emit(.event(.channelOpened(label: label))) })
        } catch {
            // A session without data channels still carries video.
        }
    }

    /// One SCTP packet out as one DTLS application-data record (RFC 8261).
    private func sendSCTP(_ packet: [UInt8]) {
        guard let dtls, (try? dtls.send(packet)) != nil else { return }
        flushDTLS(to: nil)
    }

    // MARK: Closing

    private func close(_ reason: SessionCloseReason, now: Instant) {
        if case .closed = state { return }
        // The association's ABORT still goes out through DTLS.
        sctpBeforeClose = channels?.statistics ?? sctpBeforeClose
        channels?.close()
        channels = nil
        if let dtls {
            dtls.close()
            flushDTLS(to: nil)
        }
        dtls = nil
        unknownSSRCBeforeClose = srtp?.refusedUnknownSSRC ?? 0
        srtp = nil
        state = .closed(reason)
        relayOutput = .init()
        audioOutput = .init()
        inferenceOutput = .init()
        emit(.event(.closed(reason)))
    }

    private func emit(_ output: SessionOutput) {
        outputs.append(output)
    }
}
