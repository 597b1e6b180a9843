import Foundation
import RiverResults
import RiverTestSupport
import Testing

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// The HTTP API other programs use (docs/openapi.yaml) against `river up` with the default model:
/// `POST /v1/infer` and its errors, and the results feed of a live Chromium session.
@Suite(.serialized) struct HTTPAPIEndToEndTests {
    static func post(
        _ base: URL, _ path: String, body: Data, contentType: String, headers: [String: String] = [:]
    ) async throws -> (status: Int, body: String) {
        var request = URLRequest(url: URL(string: path, relativeTo: base)!)
        request.httpMethod = "POST"
        request.httpBody = body
        request.setValue(contentType, forHTTPHeaderField: "Content-Type")
        for (name, value) in headers { request.setValue(value, forHTTPHeaderField: name) }
        request.timeoutInterval = 60
        let (data, response) = try await URLSession.shared.data(for: request)
        let http = try #require(response as? HTTPURLResponse)
        #expect(http.value(forHTTPHeaderField: "Content-Type") == "application/json", "\(path)")
        return (http.statusCode, String(decoding: data, as: UTF8.self))
    }

    /// The `error` of a JSON error body.
    static func reason(_ body: String) -> String {
        let object = try? JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any]
        return object?["error"] as? String ?? "not an error body: \(body)"
    }

    @Test func postInferFindsTheAstronautsFaceAndEachErrorHasItsStatus() async throws {
        let up = try await UpProcess()
        defer { up.stop() }
        let png = try Data(contentsOf: URL(fileURLWithPath: InferenceFixtures.astronaut))
        // The first request may meet a worker that is still loading its model.
        var answer = try await Self.post(
            up.baseURL, "/v1/infer?timeoutMs=20000", body: png, contentType: "image/png")
        for _ in 0..<20 where answer.status == 503 {
            try await Task.sleep(for: .milliseconds(500))
            answer = try await Self.post(up.baseURL, "/v1/infer", body: png, contentType: "image/png")
        }
        #expect(answer.status == 200, "\(answer.body)")
        let result = try JSONDecoder().decode(InferenceResult.self, from: Data(answer.body.utf8))
        print("river e2e POST /v1/infer png: \(answer.body.prefix(300))")
        #expect(result.frame == Size(width: 512, height: 512) && result.model == "centerface.onnx")
        try InferenceFixtures.checkFace(result, width: 512, height: 512)

        let directory = try InferenceFixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let jpegPath = try InferenceFixtures.astronautJPEG(in: directory)
        let jpeg = try Data(contentsOf: URL(fileURLWithPath: jpegPath))
        let fromJPEG = try await Self.post(up.baseURL, "/v1/infer", body: jpeg, contentType: "image/jpeg")
        #expect(fromJPEG.status == 200, "\(fromJPEG.body)")
        try InferenceFixtures.checkFace(
            try JSONDecoder().decode(InferenceResult.self, from: Data(fromJPEG.body.utf8)), width: 512,
            height: 512)

        // Raw RGB24: the PNG's own pixels, made by ffmpeg.
        let rawPath = directory.appendingPathComponent("astronaut.rgb").path
        let convert = try ChildProcess(
            URL(fileURLWithPath: "/usr/bin/env"),
            [
                "ffmpeg", "-loglevel", "error", "-y", "-i", InferenceFixtures.astronaut, "-f", "rawvideo",
                "-pix_fmt", "rgb24", rawPath,
            ])
        #expect(await convert.waitForExit(timeout: .seconds(30)) == 0)
        let raw = try Data(contentsOf: URL(fileURLWithPath: rawPath))
        let sized = ["Image-Width": "512", "Image-Height": "512"]
        let fromRaw = try await Self.post(
            up.baseURL, "/v1/infer", body: raw, contentType: "application/x-river-rgb24", headers: sized)
        #expect(fromRaw.status == 200, "\(fromRaw.body)")
        try InferenceFixtures.checkFace(
            try JSONDecoder().decode(InferenceResult.self, from: Data(fromRaw.body.utf8)), width: 512,
            height: 512)

        // Each error, with its status and a reason.
        let garbage = try await Self.post(
            up.baseURL, "/v1/infer", body: Data("no picture".utf8), contentType: "image/png")
        #expect(
            garbage.status == 400 && Self.reason(garbage.body).hasPrefix("not a PNG picture"), "\(garbage)")
        let short = try await Self.post(
            up.baseURL, "/v1/infer", body: raw.prefix(1000), contentType: "application/x-river-rgb24",
            headers: sized)
        #expect(short.status == 400 && Self.reason(short.body).contains("the body has 1000"), "\(short)")
        let unsized = try await Self.post(
            up.baseURL, "/v1/infer", body: raw, contentType: "application/x-river-rgb24")
        #expect(unsized.status == 400, "\(unsized)")
        let badTimeout = try await Self.post(
            up.baseURL, "/v1/infer?timeoutMs=soon", body: png, contentType: "image/png")
        #expect(
            badTimeout.status == 400 && Self.reason(badTimeout.body).contains("timeoutMs"), "\(badTimeout)")
        let text = try await Self.post(up.baseURL, "/v1/infer", body: png, contentType: "text/plain")
        #expect(text.status == 415, "\(text)")
        let huge = try await Self.post(
            up.baseURL, "/v1/infer", body: Data(count: 17 * 1024 * 1024), contentType: "image/png")
        #expect(huge.status == 413, "\(huge)")
        let tooManyPixels = try await Self.post(
            up.baseURL, "/v1/infer", body: Data(count: 12), contentType: "application/x-river-rgb24",
            headers: ["Image-Width": "20000", "Image-Height": "20000"])
        #expect(
            tooManyPixels.status == 413 && Self.reason(tooManyPixels.body).contains("pixels"),
            "\(tooManyPixels)")
        let late = try await Self.post(
            up.baseURL, "/v1/infer?timeoutMs=1", body: png, contentType: "image/png")
        #expect(late.status == 504 && Self.reason(late.body) == "no result within 1 ms", "\(late)")
    }

    /// serve with its proxy unreachable: no worker, so 503.
    @Test func postInferWithoutAWorkerIs503() async throws {
        let serve = try await ServeProcess(mode: ["--proxy", "tcp://127.0.0.1:1"])
        defer { serve.stop() }
        let png = try Data(contentsOf: URL(fileURLWithPath: InferenceFixtures.astronaut))
        let answer = try await Self.post(serve.baseURL, "/v1/infer", body: png, contentType: "image/png")
        #expect(
            answer.status == 503 && Self.reason(answer.body) == "no worker is connected to the proxy",
            "\(answer)")
    }

    /// An SSE reader subscribed as the session starts gets every result message, numbered from 1
    /// without a gap, then the end with the session's own count, which serve's counters confirm.
    @Test func anSSEReaderGetsEveryResultOfASessionInOrder() async throws {
        let up = try await UpProcess(["--delay", "2s"])
        defer { up.stop() }
        let (result, feed) = try await runSessionCheck(baseURL: up.baseURL, seconds: 15) {
            () async throws -> (listing: String, events: String) in
            let deadline = ContinuousClock.now + .seconds(60)
            var id: String?
            var listing = ""
            while id == nil && ContinuousClock.now < deadline {
                listing = try await up.get("/v1/sessions").body
                let object = try JSONSerialization.jsonObject(with: Data(listing.utf8)) as? [String: Any]
                id = (object?["sessions"] as? [[String: Any]])?.first?["id"] as? String
                if id == nil { try await Task.sleep(for: .milliseconds(20)) }
            }
            let session = try #require(id, "no session listed: \(listing)")
            let curl = try ChildProcess(
                URL(fileURLWithPath: "/usr/bin/env"),
                ["curl", "-sN", up.baseURL.absoluteString + "/v1/sessions/\(session)/results"])
            defer { curl.stop() }
            // Listed again while the reader reads: the session counts it.
            try await Task.sleep(for: .seconds(5))
            listing = try await up.get("/v1/sessions").body
            _ = await curl.waitForExit(timeout: .seconds(90))
            return (listing, curl.output)
        }
        #expect(result["state"] as? String == "live", "\(result["error"] ?? "")")
        let listed = try #require(
            (try JSONSerialization.jsonObject(with: Data(feed.listing.utf8)) as? [String: Any])?["sessions"]
                as? [[String: Any]])
        #expect(listed.count == 1 && listed.first?["mode"] as? String == "pipeline", "\(feed.listing)")
        #expect(listed.first?["feedSubscribers"] as? Int == 1, "\(feed.listing)")
        #expect(listed.first?["connected"] as? Bool == true, "\(feed.listing)")

        var numbers: [Int] = []
        var statuses: [String: Int] = [:]
        var end: [String: Any]?
        for block in feed.events.components(separatedBy: "\n\n") {
            let lines = block.split(separator: "\n")
            let data = lines.first { $0.hasPrefix("data: ") }.map { String($0.dropFirst(6)) } ?? ""
            if lines.contains("event: result") {
                numbers.append(Int(lines.first { $0.hasPrefix("id: ") }?.dropFirst(4) ?? "") ?? -1)
                let message = try JSONDecoder().decode(ResultMessage.self, from: Data(data.utf8))
                statuses[message.status.rawValue, default: 0] += 1
            } else if lines.contains("event: end") {
                end = try JSONSerialization.jsonObject(with: Data(data.utf8)) as? [String: Any]
            }
        }
        let total = try #require(end?["results"] as? Int, "no end event in:\n\(feed.events.suffix(500))")
        print(
            "river e2e results feed: \(numbers.count) events of \(total), statuses \(statuses), end \(end ?? [:])"
        )
        #expect(numbers == Array(1...max(1, total)), "events missing or out of order")
        #expect(total >= 10 * panClipFPS, "a 15 s session made only \(total) results")
        let counters = try await up.get("/debug/sessions").body
        let object = try #require(
            try JSONSerialization.jsonObject(with: Data(counters.utf8)) as? [String: Int])
        #expect(
            object["resultsSent"].map { $0 + (object["resultsUndelivered"] ?? 0) } == total, "\(counters)")
        #expect(object["resultsFeedCutOff"] == 0 && object["resultsFeedSubscribers"] == 0, "\(counters)")
    }

    /// `--results-webhook` to a receiver that is up: it gets every result message of the session,
    /// numbered without a gap. To one that is down: the session's figures are those of any session.
    @Test func aWebhookGetsEveryResultAndADeadOneChangesNothing() async throws {
        let directory = try InferenceFixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let bodies = directory.appendingPathComponent("bodies.jsonl")
        let receiver = try ChildProcess(
            URL(fileURLWithPath: "/usr/bin/env"),
            [
                "python3", repositoryRoot.appendingPathComponent("scripts/e2e/webhook_receiver.py").path,
                "--out", bodies.path,
            ])
        defer { receiver.stop() }
        var port: Int?
        for _ in 0..<100 where port == nil {
            port = receiver.output.split(separator: "\n").first { $0.hasPrefix("listening ") }
                .flatMap { Int($0.dropFirst(10)) }
            if port == nil { try await Task.sleep(for: .milliseconds(100)) }
        }
        let receiverPort = try #require(port, "the receiver did not start: \(receiver.output)")

        let up = try await UpProcess([
            "--delay", "2s", "--results-webhook", "http://127.0.0.1:\(receiverPort)/hook",
        ])
        defer { up.stop() }
        let result = try await runSessionCheck(baseURL: up.baseURL, seconds: 15)
        #expect(result["state"] as? String == "live", "\(result["error"] ?? "")")
        let counters = try #require(
            try JSONSerialization.jsonObject(with: Data(try await up.get("/debug/sessions").body.utf8))
                as? [String: Int])
        let total = (counters["resultsSent"] ?? 0) + (counters["resultsUndelivered"] ?? 0)
        #expect(total >= 10 * panClipFPS, "\(counters)")
        // The last batch leaves within the batch window (200 ms) of the session's last result.
        var sequences: [Int] = []
        var batches = 0
        let deadline = ContinuousClock.now + .seconds(10)
        repeat {
            try await Task.sleep(for: .milliseconds(200))
            let lines = ((try? String(contentsOf: bodies, encoding: .utf8)) ?? "").split(separator: "\n")
            batches = lines.count
            sequences = lines.flatMap { line -> [Int] in
                let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
                return (object?["results"] as? [[String: Any]] ?? []).compactMap { $0["sequence"] as? Int }
            }
        } while sequences.count < total && ContinuousClock.now < deadline
        print("river e2e webhook up: \(sequences.count) of \(total) results in \(batches) batches")
        #expect(sequences == Array(1...total), "the webhook lost, repeated or reordered results")
        up.stop()

        // Down: nothing listens on port 1. The media path goes on as ever.
        let cut = try await UpProcess(["--delay", "2s", "--results-webhook", "http://127.0.0.1:1/hook"])
        defer { cut.stop() }
        let down = try await runSessionCheck(baseURL: cut.baseURL, seconds: 15)
        #expect(down["state"] as? String == "live", "\(down["error"] ?? "")")
        let view = try #require(try views(down).first)
        let metrics = try await cut.get("/metrics").body
        let failed = prometheusValue(metrics, "river_webhook_batches_total{outcome=\"failed\"}") ?? 0
        print("river e2e webhook down: \(view); \(Int(failed)) failed attempts")
        #expect(failed >= 1, "no failed POST counted: \(metrics)")
        let delay = view.delay
        for p in ["p5", "p50", "p95"] {
            #expect(abs((delay[p] ?? 0) - 2000) <= 100, "delay \(delay)")
        }
        #expect(view.coverage >= 0.97, "coverage \(view.coverage): \(view.statuses)")
        #expect(view.accuracy >= 0.90 && view.wrongFrameDrawn == 0, "\(view)")
    }
}
