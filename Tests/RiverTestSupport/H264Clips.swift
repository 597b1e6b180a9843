import Foundation
import RiverRTP

/// The clips `scripts/make_h264_fixtures.sh` writes into `fixtures/h264` (run by `scripts/setup.sh`).
public enum H264Clips {
    public static let directory: URL = {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }  // Tests/RiverTestSupport/<file> → repo root
        return url.appendingPathComponent("fixtures/h264")
    }()

    public struct FixtureMissing: Error, CustomStringConvertible {
        public let path: String
        public var description: String {
            "fixture \(path) missing: run scripts/setup.sh (or scripts/make_h264_fixtures.sh)"
        }
    }

    /// A fixture file's bytes, e.g. `clip-a.h264`, `clip-a.ffrtp`, `clip-a.sdp`.
    public static func bytes(_ name: String) throws -> [UInt8] {
        let path = directory.appendingPathComponent(name).path
        guard let data = FileManager.default.contents(atPath: path) else { throw FixtureMissing(path: path) }
        return [UInt8](data)
    }

    /// The clip's access units, split at access unit delimiters (the encoder wrote one per picture).
    public static func accessUnits(_ clip: String) throws -> [[UInt8]] {
        let stream = try bytes("\(clip).h264")
        var units: [[UInt8]] = []
        var current: [UInt8] = []
        for range in AnnexB.nalUnitRanges(in: stream) {
            if H264NALType.of(stream[range.lowerBound]) == H264NALType.aud && !current.isEmpty {
                units.append(current)
                current = []
            }
            current += AnnexB.startCode
            current += stream[range]
        }
        if !current.isEmpty { units.append(current) }
        return units
    }
}
