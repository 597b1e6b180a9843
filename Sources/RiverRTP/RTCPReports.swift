import RiverCore

/// One reception report block (RFC 3550 §6.4.1): how a receiver sees one source.
public struct RTCPReceptionReport: Sendable, Equatable {
    public var ssrc: UInt32
    /// Fraction lost since the last report, in 1/256.
    public var fractionLost: UInt8
    /// Cumulative packets lost: a signed 24-bit value (negative with duplicates).
    public var totalLost: Int32
    /// Extended highest sequence number received (cycles << 16 | sequence).
    public var highestSequence: UInt32
    /// Interarrival jitter in RTP timestamp units.
    public var jitter: UInt32
    /// Middle 32 bits of the NTP time of the last SR from this source (LSR).
    public var lastSenderReport: UInt32
    /// Delay since that SR in 1/65536 s (DLSR).
    public var delaySinceLastSenderReport: UInt32

    public init(
        ssrc: UInt32, fractionLost: UInt8 = 0, totalLost: Int32 = 0, highestSequence: UInt32 = 0,
        jitter: UInt32 = 0,
        lastSenderReport: UInt32 = 0, delaySinceLastSenderReport: UInt32 = 0
    ) {
        self.ssrc = ssrc
        self.fractionLost = fractionLost
        self.totalLost = max(-0x80_0000, min(0x7F_FFFF, totalLost))
        self.highestSequence = highestSequence
        self.jitter = jitter
        self.lastSenderReport = lastSenderReport
        self.delaySinceLastSenderReport = delaySinceLastSenderReport
    }

    init?(_ r: inout RTCPReader) {
        guard let ssrc = r.u32(), let lost = r.u32(), let highest = r.u32(), let jitter = r.u32(),
            let lsr = r.u32(),
            let dlsr = r.u32()
        else { return nil }
        self.ssrc = ssrc
        fractionLost = UInt8(lost >> 24)
        // Sign-extend the 24-bit cumulative loss.
        totalLost = Int32(bitPattern: lost << 8) >> 8
        highestSequence = highest
        self.jitter = jitter
        lastSenderReport = lsr
        delaySinceLastSenderReport = dlsr
    }

    func append(to out: inout [UInt8]) {
        appendUInt32(&out, ssrc)
        appendUInt32(&out, UInt32(fractionLost) << 24 | UInt32(bitPattern: totalLost) & 0x00FF_FFFF)
        appendUInt32(&out, highestSequence)
        appendUInt32(&out, jitter)
        appendUInt32(&out, lastSenderReport)
        appendUInt32(&out, delaySinceLastSenderReport)
    }
}

/// Sender report, PT 200 (RFC 3550 §6.4.1): what a sender sent and when, mapping its RTP clock to
/// wall-clock (NTP) time. Browsers need these to report `captureTime` and for A/V sync.
public struct RTCPSenderReport: Sendable, Equatable {
    public var ssrc: UInt32
    /// 64-bit NTP timestamp (seconds since 1900 << 32 | fraction).
    public var ntpTime: UInt64
    /// The same instant on the RTP clock of this source.
    public var rtpTime: UInt32
    public var packetCount: UInt32
    public var octetCount: UInt32
    public var reports: [RTCPReceptionReport]
    /// Profile-specific extension bytes after the report blocks.
    public var profileExtension: [UInt8]

    public init(
        ssrc: UInt32, ntpTime: UInt64, rtpTime: UInt32, packetCount: UInt32, octetCount: UInt32,
        reports: [RTCPReceptionReport] = [], profileExtension: [UInt8] = []
    ) {
        self.ssrc = ssrc
        self.ntpTime = ntpTime
        self.rtpTime = rtpTime
        self.packetCount = packetCount
        self.octetCount = octetCount
        self.reports = reports
        self.profileExtension = profileExtension
    }

    init?(count: UInt8, body: [UInt8]) {
        var r = RTCPReader(body)
        guard let ssrc = r.u32(), let ntpHigh = r.u32(), let ntpLow = r.u32(), let rtp = r.u32(),
            let packets = r.u32(),
            let octets = r.u32()
        else { return nil }
        var reports: [RTCPReceptionReport] = []
        for _ in 0..<count {
            guard let report = RTCPReceptionReport(&r) else { return nil }
            reports.append(report)
        }
        // A profile extension is whole 32-bit words (RFC 3550 §6.4.1); a bogus padding count can
        // leave a ragged tail, which could not be written back.
        guard r.remaining % 4 == 0 else { return nil }
        self.init(
            ssrc: ssrc, ntpTime: UInt64(ntpHigh) << 32 | UInt64(ntpLow), rtpTime: rtp, packetCount: packets,
            octetCount: octets, reports: reports, profileExtension: r.take(r.remaining) ?? [])
    }

    func appendBody(to out: inout [UInt8]) {
        precondition(reports.count <= 31 && profileExtension.count % 4 == 0)
        appendUInt32(&out, ssrc)
        appendUInt32(&out, UInt32(ntpTime >> 32))
        appendUInt32(&out, UInt32(truncatingIfNeeded: ntpTime))
        appendUInt32(&out, rtpTime)
        appendUInt32(&out, packetCount)
        appendUInt32(&out, octetCount)
        for report in reports { report.append(to: &out) }
        out.append(contentsOf: profileExtension)
    }
}

/// Receiver report, PT 201 (RFC 3550 §6.4.2): reception statistics from a participant that is not
/// sending (or, as river's reports are, about sources it receives).
public struct RTCPReceiverReport: Sendable, Equatable {
    public var ssrc: UInt32
    public var reports: [RTCPReceptionReport]
    public var profileExtension: [UInt8]

    public init(ssrc: UInt32, reports: [RTCPReceptionReport] = [], profileExtension: [UInt8] = []) {
        self.ssrc = ssrc
        self.reports = reports
        self.profileExtension = profileExtension
    }

    init?(count: UInt8, body: [UInt8]) {
        var r = RTCPReader(body)
        guard let ssrc = r.u32() else { return nil }
        var reports: [RTCPReceptionReport] = []
        for _ in 0..<count {
            guard let report = RTCPReceptionReport(&r) else { return nil }
            reports.append(report)
        }
        guard r.remaining % 4 == 0 else { return nil }  // whole words, as for the sender report
        self.init(ssrc: ssrc, reports: reports, profileExtension: r.take(r.remaining) ?? [])
    }

    func appendBody(to out: inout [UInt8]) {
        precondition(reports.count <= 31 && profileExtension.count % 4 == 0)
        appendUInt32(&out, ssrc)
        for report in reports { report.append(to: &out) }
        out.append(contentsOf: profileExtension)
    }
}

/// NTP timestamps as RTCP carries them (RFC 3550 §4): seconds since 1900-01-01 in the high 32
/// bits, the fraction of a second in the low 32.
public enum NTPTime {
    /// Seconds from the NTP epoch (1900) to the Unix epoch (1970).
    public static let unixEpochOffset: UInt64 = 2_208_988_800

    /// The 64-bit NTP timestamp of a Unix time given in seconds.
    public static func from(unixSeconds: Double) -> UInt64 {
        let whole = unixSeconds.rounded(.down)
        let fraction = UInt64(((unixSeconds - whole) * 4_294_967_296).rounded(.down))
        return (UInt64(whole) + unixEpochOffset) << 32 | min(fraction, 0xFFFF_FFFF)
    }

    /// The middle 32 bits, which receivers echo as LSR in reception reports (RFC 3550 §6.4.1).
    public static func middle32(_ ntp: UInt64) -> UInt32 { UInt32(truncatingIfNeeded: ntp >> 16) }
}
