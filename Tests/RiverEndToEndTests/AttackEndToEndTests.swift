import Foundation
import Testing

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif
#if canImport(Glibc)
    import Glibc
#endif

/// Attacks on a live `river up` while an honest Chromium session runs beside them: a WHIP flood,
/// garbage on the media ports (UDP and ICE-TCP) and silent TCP connections. The honest session
/// keeps its video and results, the bounds hold, and every refusal shows in `/metrics`.
@Suite(.serialized) struct AttackEndToEndTests {
    /// `key=value` from serve's ready line, as `up` passes it on.
    static func serveField(_ key: String, in output: String) -> Int? {
        guard let line = output.split(separator: "\n").first(where: { $0.contains("river serve: ") }) else {
            return nil
        }
        return line.split(separator: " ").first { $0.hasPrefix("\(key)=") }.flatMap {
            Int($0.dropFirst(key.count + 1))
        }
    }

    static func metric(_ text: String, _ name: String, reason: String) -> Double {
        text.split(separator: "\n").first { $0.hasPrefix("\(name){") && $0.contains("reason=\"\(reason)\"") }
            .flatMap { Double($0.split(separator: " ").last ?? "") } ?? 0
    }

    @Test func anHonestSessionKeepsItsResultsThroughAFloodAndGarbage() async throws {
        let up = try await UpProcess(["--delay", "2s", "--max-sessions", "4", "--max-offers-per-second", "5"])
        defer { up.stop() }
        let udp = try #require(Self.serveField("udp", in: up.child.output), "\(up.child.output)")
        let tcp = try #require(Self.serveField("tcp", in: up.child.output), "\(up.child.output)")
        let offer = try String(
            contentsOf: repositoryRoot.appendingPathComponent(
                "Tests/RiverSDPTests/Fixtures/chromium-video-sendrecv.sdp"), encoding: .utf8)
        let baseURL = up.baseURL
        let (result, flood) = try await runSessionCheck(baseURL: baseURL, seconds: 15) {
            // Once the honest session is live, the attacker floods and sprays.
            try await Task.sleep(for: .seconds(4))
            var statuses: [Int: Int] = [:]
            for _ in 0..<60 {
                var request = URLRequest(url: baseURL.appendingPathComponent("whip"))
                request.httpMethod = "POST"
                request.setValue("application/sdp", forHTTPHeaderField: "Content-Type")
                request.httpBody = Data(offer.utf8)
                let (_, response) = try await URLSession.shared.data(for: request)
                statuses[(response as? HTTPURLResponse)?.statusCode ?? 0, default: 0] += 1
            }
            // Garbage datagrams and frames on the media ports.
            let socketFD = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
            defer { close(socketFD) }
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_port = UInt16(udp).bigEndian
            address.sin_addr.s_addr = inet_addr("127.0.0.1")
            for i in 0..<2000 {
                var bytes = (0..<(i % 300 + 1)).map { _ in UInt8.random(in: 0...255) }
                if i % 4 == 0 { bytes[0] = 0x80 }  // looks like RTP
                _ = withUnsafePointer(to: &address) {
                    $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                        sendto(socketFD, bytes, bytes.count, 0, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
                    }
                }
            }
            var silent: [Int32] = []
            for _ in 0..<20 {
                let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
                var tcpAddress = address
                tcpAddress.sin_port = UInt16(tcp).bigEndian
                _ = withUnsafePointer(to: &tcpAddress) {
                    $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                        connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
                    }
                }
                silent.append(fd)
            }
            try await Task.sleep(for: .seconds(7))
            for fd in silent { close(fd) }
            return statuses
        }
        let view = try #require(try views(result).first, "\(result)")
        print(
            "attack: flood statuses \(flood); honest coverage \(view.coverage) (\(view.exact)/\(view.afterWarmup))"
        )
        #expect(
            view.timelyCoverage >= 0.93 && view.coverage >= 0.7,
            "the honest session lost its results: \(view)")
        #expect(view.wrongFrameDrawn == 0)
        // The flood was refused: at most 3 more sessions beside the honest one, the rest 503/429.
        #expect((flood[201] ?? 0) <= 3, "\(flood)")
        #expect((flood[503] ?? 0) + (flood[429] ?? 0) >= 57, "\(flood)")
        let metrics = try await up.get("/metrics").body
        #expect(
            Self.metric(metrics, "river_sessions_refused_total", reason: "full")
                + Self.metric(metrics, "river_sessions_refused_total", reason: "tooFast") >= 57, "\(metrics)")
        #expect(Self.metric(metrics, "river_datagrams_dropped_total", reason: "unrouted") > 0, "\(metrics)")
        #expect(
            Self.metric(metrics, "river_datagrams_dropped_total", reason: "unknownKind") > 0, "\(metrics)")
    }
}
