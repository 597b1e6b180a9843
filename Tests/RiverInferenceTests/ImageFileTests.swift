import Foundation
import RiverCore
import RiverMedia
import RiverTestSupport
import Testing

/// ImageFile (RiverMedia) as `river infer` uses it: PNG and JPEG in, PNG out.
@Suite struct ImageFileTests {
    @Test func pngRoundTripIsLossless() throws {
        let photo = try ImageFile.load(InferenceFixtures.astronaut)
        #expect(photo.width == 512 && photo.height == 512 && photo.format == .rgb24)
        #expect(photo.strides == [512 * 3] && photo.data.count == 512 * 512 * 3)
        let directory = try InferenceFixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let copy = directory.appendingPathComponent("copy.png").path
        try ImageFile.savePNG(photo, to: copy)
        #expect(try ImageFile.load(copy).data == photo.data)
    }

    @Test func jpegDecodesCloseToThePNG() throws {
        let directory = try InferenceFixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let jpeg = try InferenceFixtures.astronautJPEG(in: directory)
        let png = try ImageFile.load(InferenceFixtures.astronaut)
        let decoded = try ImageFile.load(jpeg)
        #expect(decoded.width == 512 && decoded.height == 512 && decoded.format == .rgb24)
        let difference = zip(png.data, decoded.data).reduce(0) { $0 + abs(Int($1.0) - Int($1.1)) }
        #expect(Double(difference) / Double(png.data.count) < 6)
    }

    @Test func unreadableFilesNameThePath() throws {
        #expect(throws: ImageFileError.unreadable(path: "/nonexistent.png", reason: "no such file")) {
            try ImageFile.load("/nonexistent.png")
        }
        #expect(throws: ImageFileError.unreadable(path: "/tmp", reason: "is a directory")) {
            try ImageFile.load("/tmp")
        }
        let i420 = VideoFrame(packedWidth: 2, height: 2, format: .i420)
        #expect(throws: ImageFileError.self) { try ImageFile.savePNG(i420, to: "/tmp/never.png") }
    }
}
