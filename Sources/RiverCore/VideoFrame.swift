/// Pixel layouts that travel between the decoder, the broker and the inference worker.
public enum PixelFormat: UInt8, Sendable, Codable, CustomStringConvertible {
    /// Planar YUV 4:2:0: a full-size Y plane, then U and V at half width and half height (rounded up).
    case i420 = 1
    /// Packed 8-bit R, G, B.
    case rgb24 = 2

    public var planeCount: Int { self == .i420 ? 3 : 1 }

    public var description: String { self == .i420 ? "I420" : "RGB24" }

    /// Bytes per row and rows of `plane` in a tightly packed frame of this size.
    public func planeSize(_ plane: Int, width: Int, height: Int) -> (rowBytes: Int, rows: Int) {
        switch (self, plane) {
        case (.rgb24, _): return (width * 3, height)
        case (.i420, 0): return (width, height)
        case (.i420, _): return ((width + 1) / 2, (height + 1) / 2)
        }
    }
}

/// One picture: its pixels in a single buffer (planes at `offsets`, rows `strides` bytes apart) and
/// the RTP timestamp of the access unit it was decoded from.
///
/// One contiguous buffer lets the broker send the pixels as one ZeroMQ frame without copying planes.
public struct VideoFrame: Sendable {
    public let width: Int
    public let height: Int
    public let format: PixelFormat
    /// Bytes from one row to the next, per plane.
    public let strides: [Int]
    /// Start of each plane in `data`.
    public let offsets: [Int]
    public var data: [UInt8]
    /// RTP timestamp (90 kHz) of the access unit, or 0 for frames that did not come from RTP.
    public var rtpTimestamp: UInt32

    /// A frame over existing pixels. Fails when the planes described do not fit in `data`.
    public init(
        width: Int, height: Int, format: PixelFormat, strides: [Int], offsets: [Int], data: [UInt8],
        rtpTimestamp: UInt32 = 0
    ) throws(VideoFrameError) {
        guard width > 0, height > 0 else { throw .badGeometry("size \(width)x\(height)") }
        guard strides.count == format.planeCount, offsets.count == format.planeCount else {
            throw .badGeometry("\(format) needs \(format.planeCount) planes, got \(strides.count)")
        }
        for plane in 0..<format.planeCount {
            let (rowBytes, rows) = format.planeSize(plane, width: width, height: height)
            guard strides[plane] >= rowBytes, offsets[plane] >= 0 else {
                throw .badGeometry("plane \(plane): stride \(strides[plane]) < row \(rowBytes)")
            }
            let end = offsets[plane] + strides[plane] * (rows - 1) + rowBytes
            guard end <= data.count else {
                throw .badGeometry("plane \(plane) ends at byte \(end), buffer has \(data.count)")
            }
        }
        self.width = width
        self.height = height
        self.format = format
        self.strides = strides
        self.offsets = offsets
        self.data = data
        self.rtpTimestamp = rtpTimestamp
    }

    /// A tightly packed frame (strides equal to row widths), zero-filled.
    public init(packedWidth width: Int, height: Int, format: PixelFormat, rtpTimestamp: UInt32 = 0) {
        var strides: [Int] = []
        var offsets: [Int] = []
        var total = 0
        for plane in 0..<format.planeCount {
            let (rowBytes, rows) = format.planeSize(plane, width: width, height: height)
            strides.append(rowBytes)
            offsets.append(total)
            total += rowBytes * rows
        }
        self.width = width
        self.height = height
        self.format = format
        self.strides = strides
        self.offsets = offsets
        self.data = [UInt8](repeating: 0, count: total)
        self.rtpTimestamp = rtpTimestamp
    }
}

/// Why a frame description was refused.
public enum VideoFrameError: Error, Equatable, CustomStringConvertible {
    case badGeometry(String)

    public var description: String {
        switch self {
        case .badGeometry(let why): "bad frame geometry: \(why)"
        }
    }
}

/// A picture's width and height in pixels (also a model's input; `Size` in result documents).
public struct FrameSize: Sendable, Hashable, Codable, CustomStringConvertible {
    public var width: Int
    public var height: Int

    public init(width: Int, height: Int) {
        self.width = width
        self.height = height
    }

    public var description: String { "\(width)x\(height)" }

    /// This size scaled down, aspect kept, to fit inside `box`: the picture a letterbox of `box`
    /// would hold, without its margins. Never scaled up: a picture that already fits is returned
    /// as it is. One side comes out equal to the box's, so a letterbox of `box` over the result
    /// is a 1:1 copy.
    public func fitted(into box: FrameSize) -> FrameSize {
        guard width > 0, height > 0, box.width > 0, box.height > 0 else { return self }
        let scale = min(Double(box.width) / Double(width), Double(box.height) / Double(height))
        guard scale < 1 else { return self }
        return FrameSize(
            width: min(box.width, max(1, Int((Double(width) * scale).rounded()))),
            height: min(box.height, max(1, Int((Double(height) * scale).rounded()))))
    }
}

extension VideoFrame {
    public var size: FrameSize { FrameSize(width: width, height: height) }
}
