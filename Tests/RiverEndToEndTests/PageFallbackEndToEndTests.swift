import Foundation
import Testing

/// The page in a browser that does not give what exact pairing needs, and the page's error line.
///
/// Without `rtpTimestamp` in `requestVideoFrameCallback`'s metadata (or without the callback at
/// all), the page pairs the n-th frame shown with the n-th result received, says so on screen and
/// draws those boxes marked approximate, never as exact. session_check.py hides each from Chromium
/// before the page's scripts run (`--hide-frame-metadata`, `--hide-frame-callback`). How often
/// arrival order gives the frame's own result is measured on the pan clip and printed, not asserted:
/// a frame lost or dropped on the way shifts every later pairing.
@Suite(.serialized) struct PageFallbackEndToEndTests {
    @Test(arguments: ["--hide-frame-metadata", "--hide-frame-callback"])
    func withoutFrameTimestampsThePagePairsByArrivalAndSaysSo(hidden: String) async throws {
        let up = try await UpProcess(["--delay", "2s"])
        defer { up.stop() }
        let result = try await runSessionCheck(baseURL: up.baseURL, seconds: 15, browser: [hidden])
        #expect(result["state"] as? String == "live", "\(result["error"] ?? "")")
        let view = try #require(try views(result).first)
        let raw = view.raw
        let approximate = raw["approximateDrawn"] as? Int ?? -1
        let notice = result["notice"] as? String
        print(
            "river e2e fallback (\(hidden)): pairing \(raw["pairing"] ?? "?"); approximate boxes on "
                + "\(approximate) of \(view.afterWarmup) frames after warm-up, exact \(raw["exactDrawn"] ?? "?"); "
                + "paired result ok on \(view.exact), box within 2.5 % of the true face on \(raw["accurate"] ?? "?") "
                + "of \(view.withBox) (accuracy \(view.accuracy); error p50 \(raw["errorP50"] ?? "?"), "
                + "p95 \(raw["errorP95"] ?? "?") of the width); off by clip frames \(raw["arrivalOffsets"] ?? "?"); "
                + "notice \"\(notice ?? "none")\"")
        #expect(raw["pairing"] as? String == "arrival", "\(view)")
        #expect(
            notice?.contains("paired by arrival order and marked approximate") == true, "notice: \(notice ?? "none")")
        #expect(result["errorText"] is NSNull || result["errorText"] == nil, "\(result["errorText"] ?? "")")
        #expect(view.afterWarmup > 6 * panClipFPS, "too few frames displayed after warm-up: \(view)")
        // Nearly every frame has a result, and each such frame is drawn approximate, never exact.
        #expect(approximate * 10 >= view.afterWarmup * 8, "\(view)")
        #expect(raw["exactDrawn"] as? Int == 0, "\(view)")
        #expect(view.wrongFrameDrawn == 0)
        #expect(result["stopped"] as? Bool == true)
    }

    /// A refused offer shows on the page with the server's status and reason: two tiles
    /// (`?sessions=2`) against `--max-sessions 1`, so one of the two offers gets 503.
    @Test func aRefusedOfferShowsOnThePage() async throws {
        let up = try await UpProcess(["--delay", "1s", "--max-sessions", "1"])
        defer { up.stop() }
        let result = try await runSessionCheck(baseURL: up.baseURL, sessions: 2, seconds: 3)
        let shown = result["errorText"] as? String ?? ""
        print("river e2e page error, refused offer: state \(result["state"] ?? "?"), shown \"\(shown)\"")
        #expect(result["state"] as? String == "failed", "\(result)")
        #expect(shown.contains("503") && shown.contains("every session slot is taken"), "\(result)")
        #expect(result["error"] as? String == shown, "\(result)")
        // The tile that did connect was hung up, so the slot is free again.
        let freed = try await eventually(timeout: .seconds(5)) {
            prometheusValue(try await up.get("/metrics").body, "river_sessions") == 0
        }
        #expect(freed, "a session was left open behind the failure")
    }

    /// A session the server ends (`--max-session-seconds`) shows on the page, not only in the console.
    @Test func aSessionTheServerClosesShowsOnThePage() async throws {
        let up = try await UpProcess(["--delay", "1s", "--max-session-seconds", "4"])
        defer { up.stop() }
        let result = try await runSessionCheck(baseURL: up.baseURL, seconds: 8, warmup: 0)
        #expect(result["state"] as? String == "live", "\(result["error"] ?? "")")
        let view = try #require(try views(result).first)
        let shown = result["errorText"] as? String ?? ""
        print(
            "river e2e page error, session closed: state \(result["finalState"] ?? "?"), "
                + "\(view.raw["displayed"] ?? "?") frames shown before, shown \"\(shown)\"")
        #expect(["closed", "failed"].contains(result["finalState"] as? String ?? ""), "\(result)")
        #expect(shown.contains("closed the session") || shown.contains("failed"), "\(result)")
        #expect(view.raw["displayed"] as? Int ?? 0 > 0, "\(view)")
    }
}
