import Foundation
import Testing

/// The README's screenshot (docs/screenshot.png) is made by scripts/screenshot.py, headless Chromium
/// against `river up`; this suite runs that script into a temporary file and compares the new shot
/// with the committed one.
///
/// What "matches" means here: the video is live, so no two shots are alike pixel for pixel, and
/// the test does not compare pixels. It checks that both images have the same size (the committed
/// PNG's from its IHDR bytes, the new one's from the script), that the new shot was taken with the
/// page live and drawing frames with their own results ('exact'), and that each of the two images
/// shows the exact-box colour of overlay.js ('#3f6') and, read from the clip's bar code in the
/// image, the box on the face of the very frame on screen (the script's own PNG decoder does the
/// reading: `--check` for the committed file). It also checks the README shows that file. It does
/// not check that the committed image is the latest run's, nor the text in its stats panel.
@Suite(.serialized) struct ScreenshotEndToEndTests {
    static let script = repositoryRoot.appendingPathComponent("scripts/screenshot.py").path
    static let clip = repositoryRoot.appendingPathComponent("fixtures/pan.y4m").path
    static let committed = repositoryRoot.appendingPathComponent("docs/screenshot.png")

    /// Runs screenshot.py with `arguments`; its exit status and output.
    static func runScript(_ arguments: [String], timeout: Duration) async throws -> (Int32?, String) {
        let child = try ChildProcess(
            URL(fileURLWithPath: "/usr/bin/env"), ["python3", script, "--y4m", clip] + arguments)
        defer { child.stop() }
        let status = await child.waitForExit(timeout: timeout)
        return (status, child.output)
    }

    /// The script's facts: the last line of its output that is a JSON object.
    static func facts(_ output: String) throws -> [String: Any] {
        let line = try #require(
            output.split(separator: "\n").last { $0.hasPrefix("{") }, "no JSON from screenshot.py:\n\(output)"
        )
        return try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
    }

    /// Width and height of a PNG: bytes 16 to 23, the IHDR chunk's first two fields, big-endian.
    static func pngSize(_ data: Data) -> (width: Int, height: Int)? {
        let bytes = [UInt8](data.prefix(24))
        guard bytes.count == 24, bytes[0..<8] == [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A] else {
            return nil
        }
        let word = { (at: Int) in bytes[at..<at + 4].reduce(0) { $0 << 8 | Int($1) } }
        return (word(16), word(20))
    }

    @Test func theScriptMakesAShotLikeTheREADMEs() async throws {
        try #require(
            FileManager.default.fileExists(atPath: Self.clip), "missing \(Self.clip): run scripts/setup.sh")
        let committedData = try Data(contentsOf: Self.committed)
        let committedSize = try #require(Self.pngSize(committedData), "docs/screenshot.png is not a PNG")

        // The committed image: the box colour, on the face of the frame it shows.
        let (checkStatus, checkOutput) = try await Self.runScript(
            ["--check", Self.committed.path], timeout: .seconds(120))
        let committedFacts = try Self.facts(checkOutput)
        #expect(checkStatus == 0, "docs/screenshot.png shows no box on the face:\n\(checkOutput)")
        #expect(committedFacts["width"] as? Int == committedSize.width)
        #expect(committedFacts["height"] as? Int == committedSize.height)

        // A new shot, the way the committed one was made (docs/cli.md, "The README's screenshot").
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "river-shot-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let out = directory.appendingPathComponent("screenshot.png")
        let up = try await UpProcess(["--delay", "2s"])
        defer { up.stop() }
        let (status, output) = try await BrowserSlot.shared.hold {
            try await Self.runScript(
                ["--url", up.baseURL.absoluteString + "/", "--out", out.path], timeout: .seconds(240))
        }
        try #require(status == 0, "screenshot.py made no shot (\(String(describing: status))):\n\(output)")
        let facts = try Self.facts(output)
        print("river e2e screenshot: \(facts)")
        let made = try Data(contentsOf: out)
        let madeSize = try #require(Self.pngSize(made))
        #expect(
            madeSize.width == committedSize.width && madeSize.height == committedSize.height,
            "new shot \(madeSize), docs/screenshot.png \(committedSize)")
        #expect(facts["width"] as? Int == madeSize.width && facts["height"] as? Int == madeSize.height)
        #expect(facts["state"] as? String == "live", "\(facts)")
        #expect(facts["exact"] as? Int ?? 0 > panClipFPS, "\(facts)")
        #expect(facts["boxColour"] as? String == "#33ff66")
        #expect(facts["boxPixels"] as? Int ?? 0 > 0, "\(facts)")
        #expect(facts["aligned"] as? Bool == true, "\(facts)")
        // The sidecar of facts lies beside the PNG, as docs/screenshot.json beside the README's.
        #expect(
            FileManager.default.fileExists(atPath: directory.appendingPathComponent("screenshot.json").path))

        let readme = try String(
            contentsOf: repositoryRoot.appendingPathComponent("README.md"), encoding: .utf8)
        #expect(readme.contains("docs/screenshot.png"), "the README does not show docs/screenshot.png")
    }
}
