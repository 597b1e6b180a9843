// Per-packet costs of the WebRTC media path, measured side by side in one run:
// SRTP protect + unprotect with each negotiated profile (AEAD-AES-128-GCM vs AES-CM + HMAC-SHA1-80)
// and the RTP parse + serialize that reflect does per packet, plus one in-memory DTLS handshake.
//
//     swift run -c release WebRTCBenchmark [packets]
import Foundation
import RiverDTLS
import RiverRTP
import RiverSRTP

let packets = CommandLine.arguments.dropFirst().first.flatMap(Int.init) ?? 200_000

func connectedPair(profiles: String) throws -> (SRTPSession, SRTPSession) {
    let server = try DTLSEndpoint(role: .server, expectedPeerFingerprint: nil)
    let client = try DTLSEndpoint(role: .client, expectedPeerFingerprint: nil, srtpProfiles: profiles)
    var keys: [SRTPKeyingMaterial] = []
    var events = client.start()
    for _ in 0..<20 where keys.count < 2 {
        for d in client.takeOutgoing() { events += server.receive(d) }
        for d in server.takeOutgoing() { events += client.receive(d) }
        for case .connected(let k) in events { keys.append(k) }
        events = []
    }
    precondition(keys.count == 2, "handshake did not complete")
    let a = try SRTPSession(
        profileID: keys[0].profileID, localKeyAndSalt: keys[0].localKeyAndSalt,
        remoteKeyAndSalt: keys[0].remoteKeyAndSalt)
    let b = try SRTPSession(
        profileID: keys[1].profileID, localKeyAndSalt: keys[1].localKeyAndSalt,
        remoteKeyAndSalt: keys[1].remoteKeyAndSalt)
    return (a, b)
}

func measure(_ body: () throws -> Void) rethrows -> Duration {
    let start = ContinuousClock.now
    try body()
    return ContinuousClock.now - start
}

func nanoseconds(_ d: Duration, per count: Int) -> Double {
    (Double(d.components.seconds) * 1e9 + Double(d.components.attoseconds) / 1e9) / Double(count)
}

let template = RTPPacket(
    marker: false, payloadType: 102, sequenceNumber: 0, timestamp: 0, ssrc: 0x1234_5678,
    extensionProfile: 0xBEDE, extensionData: [0x10, 0x01, 0, 0],
    payload: [UInt8](repeating: 0x5A, count: 1150))

var results: [(String, Double)] = []
for (name, profiles) in [
    ("SRTP AEAD_AES_128_GCM", "SRTP_AEAD_AES_128_GCM"), ("SRTP AES128_CM_SHA1_80", "SRTP_AES128_CM_SHA1_80"),
] {
    let (sender, receiver) = try connectedPair(profiles: profiles)
    var packet = template
    let elapsed = try measure {
        for i in 0..<packets {
            packet.sequenceNumber = UInt16(truncatingIfNeeded: i)
            let secured = try sender.protectRTP(packet.serialized())
            _ = try receiver.unprotectRTP(secured)
        }
    }
    results.append((name + " protect+unprotect", nanoseconds(elapsed, per: packets)))
}
let wire = template.serialized()
let rtpElapsed = try measure {
    for _ in 0..<packets {
        var parsed = try RTPPacket(parsing: wire)
        parsed.ssrc = 1
        _ = parsed.serialized()
    }
}
results.append(("RTP parse+rewrite+serialize", nanoseconds(rtpElapsed, per: packets)))
let handshakes = 20
let handshakeElapsed = try measure {
    for _ in 0..<handshakes { _ = try connectedPair(profiles: DTLSEndpoint.srtpProfiles) }
}

let baseline = results[0].1
print("WebRTC media path, 1200-byte RTP packets, \(packets) packets each")
for (name, ns) in results {
    let ratio = ns / baseline
    print(
        "  \(name.padding(toLength: 44, withPad: " ", startingAt: 0)) \(String(format: "%8.0f", ns)) ns/packet  \(String(format: "%5.2f", ratio))× GCM"
    )
}
print(
    "  DTLS 1.2 handshake in memory (ECDSA P-256)     \(String(format: "%8.2f", nanoseconds(handshakeElapsed, per: handshakes) / 1e6)) ms"
)
