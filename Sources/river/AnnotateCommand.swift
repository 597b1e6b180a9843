import ArgumentParser
import Foundation
import RiverInference
import RiverMedia
import RiverResults

/// `river annotate`: a recording's boxes burnt into a copy of its video, for sharing where no river
/// page runs. The video is decoded and encoded again (libx264); the audio is copied.
struct AnnotateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "annotate",
        abstract: "Draw a recording's detections into a copy of its video (H264), its audio copied.")

    @Argument(help: "A recording: the MP4 that serve --record wrote.")
    var recording: String

    @Option(help: "Its results file (default: the recording's path with .jsonl for .mp4).")
    var results: String?

    @Option(name: .shortAndLong, help: "The annotated MP4 to write.")
    var output: String

    /// One line of a recording's results file (docs/results.md, *Recordings*).
    struct Line: Decodable {
        var pts: Double
        var result: ResultMessage?
    }

    func run() throws {
        let resultsPath =
            results ?? (recording.hasSuffix(".mp4") ? String(recording.dropLast(4)) : recording) + ".jsonl"
        let boxes = try Self.detections(resultsPath)
        var drawn = 0
        let summary = try VideoReencoder.reencode(input: recording, output: output) { frame, seconds in
            guard let detections = boxes[Self.key(seconds)], !detections.isEmpty else { return }
            frame = FrameAnnotator.annotate(frame, with: detections, thickness: 4)
            drawn += 1
        }
        print(
            "river annotate: \(summary.framesEncoded) frames, \(drawn) with boxes, "
                + "\(summary.audioPacketsCopied) audio packets copied: \(output)")
    }

    /// A presentation time to the millisecond, the key both files share.
    static func key(_ seconds: Double) -> Int { Int((seconds * 1000).rounded()) }

    /// Each frame's detections by presentation time; fails naming the file and line it cannot read.
    static func detections(_ path: String) throws -> [Int: [Detection]] {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ValidationError("cannot read the results file \(path)")
        }
        var found: [Int: [Detection]] = [:]
        let decoder = JSONDecoder()
        for (number, line) in data.split(separator: UInt8(ascii: "\n")).enumerated() where !line.isEmpty {
            do {
                let parsed = try decoder.decode(Line.self, from: Data(line))
                found[key(parsed.pts)] = parsed.result?.detections ?? []
            } catch {
                throw ValidationError("\(path), line \(number + 1): not a results line (\(error))")
            }
        }
        return found
    }
}
