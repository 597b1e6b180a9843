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
            guard let detections = Self.nearest(seconds, in: boxes), !detections.isEmpty else { return }
            frame = FrameAnnotator.annotate(frame, with: detections, thickness: 4)
            drawn += 1
        }
        print(
            "river annotate: \(summary.framesEncoded) frames, \(drawn) with boxes, "
                + "\(summary.audioPacketsCopied) audio packets copied: \(output)")
    }

    /// The detections of the line nearest `seconds`, within 10 ms: a fragment's first picture reads a
    /// few milliseconds off the time river gave it (docs/results.md, Recordings; 3 ms seen), and
    /// frames are at least 16 ms apart up to 60 fps, so the nearest line within 10 ms is the frame's own.
    static func nearest(_ seconds: Double, in lines: [(pts: Double, detections: [Detection])]) -> [Detection]?
    {
        var (low, high) = (0, lines.count)
        while low < high {
            let mid = (low + high) / 2
            if lines[mid].pts < seconds { low = mid + 1 } else { high = mid }
        }
        let near = [low - 1, low].filter {
            lines.indices.contains($0) && abs(lines[$0].pts - seconds) <= 0.010
        }
        return near.min { abs(lines[$0].pts - seconds) < abs(lines[$1].pts - seconds) }.map {
            lines[$0].detections
        }
    }

    /// Each frame's detections, by presentation time; fails naming the file and line it cannot read.
    static func detections(_ path: String) throws -> [(pts: Double, detections: [Detection])] {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ValidationError("cannot read the results file \(path)")
        }
        var found: [(pts: Double, detections: [Detection])] = []
        let decoder = JSONDecoder()
        for (number, line) in data.split(separator: UInt8(ascii: "\n")).enumerated() where !line.isEmpty {
            do {
                let parsed = try decoder.decode(Line.self, from: Data(line))
                found.append((parsed.pts, parsed.result?.detections ?? []))
            } catch {
                throw ValidationError("\(path), line \(number + 1): not a results line (\(error))")
            }
        }
        return found.sorted { $0.pts < $1.pts }
    }
}
