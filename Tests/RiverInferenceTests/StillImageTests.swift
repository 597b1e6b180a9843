import Foundation
import RiverCore
import RiverMedia
import RiverTestSupport
import Testing

/// StillImage (RiverMedia), the pictures of `POST /v1/infer`: PNG, JPEG and raw pixels from memory
/// to the I420 frames sessions send, and hostile bodies refused with a reason.
@Suite struct StillImageTests {
    static let png = try! Array(Data(contentsOf: URL(fileURLWithPath: InferenceFixtures.astronaut)))

    @Test func aPNGBecomesTheSameI420AsItsRawPixelsAndFitsTheBox() throws {
        let (frame, size) = try StillImage.decode(Self.png, as: .png, maxPixels: 1 << 20)
        #expect(size == FrameSize(width: 512, height: 512))
        #expect(frame.format == .i420 && frame.width == 512 && frame.height == 512)
        // The same pixels given raw, as RGB24 and as the I420 itself, give the same frame.
        let rgb = try ImageFile.load(InferenceFixtures.astronaut)
        let raw = try StillImage.decode(rgb.data, as: .raw(.rgb24, size), maxPixels: 1 << 20)
        #expect(raw.frame.data == frame.data)
        let i420 = try StillImage.decode(frame.data, as: .raw(.i420, size), maxPixels: 1 << 20)
        #expect(i420.frame.data == frame.data)
        // And it is the photo: back to RGB it is close to the PNG's own pixels.
        let back = try PixelConverter().rgb24(from: frame)
        let difference = zip(back.data, rgb.data).reduce(0) { $0 + abs(Int($1.0) - Int($1.1)) }
        #expect(Double(difference) / Double(rgb.data.count) < 6)

        let fitted = try StillImage.decode(
            Self.png, as: .png, maxPixels: 1 << 20, fittingInto: FrameSize(width: 256, height: 192))
        #expect(fitted.size == size && fitted.frame.width == 192 && fitted.frame.height == 192)
    }

    @Test func aJPEGDecodes() throws {
        let directory = try InferenceFixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let jpeg = try InferenceFixtures.astronautJPEG(in: directory)
        let bytes = try Array(Data(contentsOf: URL(fileURLWithPath: jpeg)))
        let (frame, size) = try StillImage.decode(bytes, as: .jpeg, maxPixels: 1 << 20)
        #expect(size == FrameSize(width: 512, height: 512) && frame.format == .i420)
        // A JPEG is not a PNG.
        #expect(throws: StillImage.Failure.self) {
            try StillImage.decode(bytes, as: .png, maxPixels: 1 << 20)
        }
    }

    @Test func hostileBodiesAreRefusedWithTheirReason() throws {
        func reason(_ bytes: [UInt8], _ encoding: StillImage.Encoding, maxPixels: Int = 1 << 20) -> String {
            do {
                _ = try StillImage.decode(bytes, as: encoding, maxPixels: maxPixels)
                return "decoded"
            } catch {
                return error.description
            }
        }
        #expect(reason([], .png) == "the body is empty")
        #expect(reason(Array("not a picture at all".utf8), .png).hasPrefix("not a PNG picture"))
        #expect(reason(Array(Self.png.prefix(Self.png.count / 2)), .png) != "decoded")
        var noise = SplitMix64(seed: 7)
        #expect(reason((0..<4096).map { _ in UInt8(truncatingIfNeeded: noise.next()) }, .jpeg) != "decoded")
        // Over the pixel bound: refused before libavcodec allocates the picture.
        #expect(reason(Self.png, .png, maxPixels: 100_000).contains("at most 100000 pixels"))
        #expect(
            reason([UInt8](repeating: 0, count: 10), .raw(.rgb24, FrameSize(width: 4000, height: 4000)))
                == "a 4000x4000 picture has more than 1048576 pixels")
        #expect(
            reason([UInt8](repeating: 0, count: 10), .raw(.rgb24, FrameSize(width: 2, height: 2)))
                == "RGB24 at 2x2 is 12 bytes; the body has 10")
        #expect(
            reason([UInt8](repeating: 0, count: 12), .raw(.rgb24, FrameSize(width: 2, height: 2)))
                == "decoded")
        #expect(
            reason([UInt8](repeating: 0, count: 100), .raw(.i420, FrameSize(width: 3, height: 3)))
                == "I420 needs an even width and height, not 3x3")
        #expect(
            reason([], .raw(.i420, FrameSize(width: 0, height: 2)))
                == "a raw picture's width and height are 1 to 65535, not 0x2")
    }
}
