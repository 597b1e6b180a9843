import Foundation

/// `ServeBenchmark --attack nack-flood --port HTTP`: one hostile session against a running serve.
///
/// It connects like a browser and streams the clip, so serve echoes video back and keeps a history
/// of it. After a 3 s warm-up (serve's delayed echo under way), it sends with every frame an SRTCP
/// compound asking again for about 8,000 of serve's packets, for `seconds`. Unbounded, that is
/// about 4,000 times the bytes of the request (issue 14). It prints one JSON line: the bytes it
/// sent and received over the last 1.5 s of warm-up (a browser's ratio: the echo) and over the
/// flood, and how many NACK compounds it sent; AttackEndToEndTests holds serve to ≤ 2× over the flood.
enum NACKFlood {
    static let lostPerCompound = 8_000

    static func run(port: Int, seconds: Int, clip: ClipPackets) throws {
        let generator = try LoadGenerator(count: 1, clip: clip, delayTicks: 0)
        defer { generator.stop() }
        try generator.connect(httpPort: port, timeout: .seconds(10))
        let session = generator.sessions[0]
        func bytes() -> (sent: Int, received: Int) {
            session.queue.sync { (session.bytesSent, session.bytesReceived) }
        }
        Thread.sleep(forTimeInterval: 1.5)
        let calm = bytes()
        Thread.sleep(forTimeInterval: 1.5)
        let start = bytes()
        session.queue.sync { session.nackFloodSize = lostPerCompound }
        Thread.sleep(forTimeInterval: Double(seconds))
        let end = bytes()
        let nacks = session.queue.sync {
            session.nackFloodSize = 0
            return session.nacksSent
        }
        let result: [String: Any] = [
            "warmupSent": start.sent - calm.sent, "warmupReceived": start.received - calm.received,
            "floodSent": end.sent - start.sent, "floodReceived": end.received - start.received,
            "nackCompounds": nacks, "lostPerCompound": lostPerCompound, "seconds": seconds,
            "phase": "\(session.queue.sync { session.phase })",
        ]
        let json = try JSONSerialization.data(withJSONObject: result, options: [.sortedKeys])
        print(String(decoding: json, as: UTF8.self))
    }
}
