import Foundation
import RiverBroker
import RiverCore
import RiverMedia
import RiverTestSupport
import Testing

/// `river onnx` with the real default model (CenterFace, installed by scripts/setup.sh) behind an
/// in-process proxy: a photo with one face goes in, a result document with that face comes out.
@Suite struct OnnxWorkerTests {
    @Test func realModelAnswersThroughTheProxy() async throws {
        let proxy = try BrokerProxy(
            frontend: "tcp://127.0.0.1:*", backend: "tcp://127.0.0.1:*", statsInterval: nil)
        defer { proxy.stop() }
        let model = repoRoot.appendingPathComponent("models/centerface.onnx").path
        let worker = try RiverProcess([
            "onnx", "--connect", proxy.backendEndpoint, "--model", model, "--slots", "1", "--name",
            "centerface",
        ])
        defer { worker.stop() }
        let client = BrokerClient(connect: proxy.frontendEndpoint)
        defer { client.close() }
        // Loading the model takes a moment on a busy machine.
        try #require(
            await waitUntil(.seconds(60)) { proxy.counters.workersAlive == 1 }, "worker never registered")

        var frame = try ImageFile.load(repoRoot.appendingPathComponent("models/astronaut.png").path)
        frame.rtpTimestamp = 4242
        let reply = try await client.infer(frame: frame, streamID: 3, deadline: Instant.now + .seconds(30))
        #expect(reply.status == .ok)
        #expect(reply.timings.computeMicros > 0)
        let document = try #require(
            try JSONSerialization.jsonObject(with: Data(reply.document)) as? [String: Any],
            "not a JSON object")
        #expect(document["model"] as? String == "centerface.onnx")
        #expect(document["rtpTimestamp"] as? Int == 4242)
        let detections = try #require(document["detections"] as? [[String: Any]])
        #expect(detections.count >= 1, "the astronaut's face was not found")
        #expect(detections.first?["label"] as? String == "face")
    }
}
