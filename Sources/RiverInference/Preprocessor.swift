import RiverCore

/// Turns RGB24 or I420 frames into the model's NCHW float tensor, letterboxed.
///
/// Hot path (once per pixel of the model input): sampling is nearest-neighbour through precomputed
/// source-column tables, byte→float goes through 256-entry tables per channel, and every loop runs
/// over raw buffer pointers, so the inner loop has no closures, no bounds checks and no divisions.
/// Margins are written only when the geometry changes, since frames never touch them.
///
/// A class, not a struct: the tensor is one manually allocated buffer handed to ORT in place, so it
/// must not move or be copied on write. Use from one thread at a time.
public final class Preprocessor {
    public let normalization: PixelNormalization
    /// The tensor, `3 × inputHeight × inputWidth` floats, planes R, G, B. Valid until the next
    /// `fill` with another geometry.
    public private(set) var tensor = UnsafeMutableBufferPointer<Float>(start: nil, count: 0)
    public private(set) var letterbox: Letterbox?
    private var sourceColumn: [Int32] = []
    private var sourceRow: [Int32] = []
    private var lookup: [Float]

    public init(normalization: PixelNormalization) {
        self.normalization = normalization
        var lookup = [Float](repeating: 0, count: 3 * 256)
        let n = normalization
        let means = [n.mean.0, n.mean.1, n.mean.2]
        let stds = [n.std.0, n.std.1, n.std.2]
        for c in 0..<3 {
            for v in 0..<256 { lookup[c * 256 + v] = (Float(v) * n.scale - means[c]) / stds[c] }
        }
        self.lookup = lookup
    }

    /// Fills `tensor` from `frame` for the given geometry and returns it.
    deinit { tensor.deallocate() }

    @discardableResult
    public func fill(from frame: VideoFrame, letterbox box: Letterbox) -> Letterbox {
        if box != letterbox { prepare(box) }
        let width = box.inputWidth
        let plane = box.inputWidth * box.inputHeight
        let padX = box.padX
        let padY = box.padY
        let scaledWidth = box.scaledWidth
        lookup.withUnsafeBufferPointer { lut in
            sourceColumn.withUnsafeBufferPointer { columns in
                sourceRow.withUnsafeBufferPointer { rows in
                    frame.data.withUnsafeBufferPointer { src in
                        do {
                            let dst = tensor
                            let lutR = lut.baseAddress!
                            let lutG = lutR + 256
                            let lutB = lutR + 512
                            let pixels = src.baseAddress!
                            let cols = columns.baseAddress!
                            for (row, sourceY) in rows.enumerated() {
                                let out = (padY + row) * width + padX
                                let r = dst.baseAddress! + out
                                let g = r + plane
                                let b = g + plane
                                let y = Int(sourceY)
                                switch frame.format {
                                case .rgb24:
                                    let line = pixels + frame.offsets[0] + y * frame.strides[0]
                                    for x in 0..<scaledWidth {
                                        let p = line + 3 * Int(cols[x])
                                        r[x] = lutR[Int(p[0])]
                                        g[x] = lutG[Int(p[1])]
                                        b[x] = lutB[Int(p[2])]
                                    }
                                case .i420:
                                    let lumaLine = pixels + frame.offsets[0] + y * frame.strides[0]
                                    let uLine = pixels + frame.offsets[1] + (y >> 1) * frame.strides[1]
                                    let vLine = pixels + frame.offsets[2] + (y >> 1) * frame.strides[2]
                                    for x in 0..<scaledWidth {
                                        let sx = Int(cols[x])
                                        let rgb = Self.bt601(lumaLine[sx], uLine[sx >> 1], vLine[sx >> 1])
                                        r[x] = lutR[Int(rgb.0)]
                                        g[x] = lutG[Int(rgb.1)]
                                        b[x] = lutB[Int(rgb.2)]
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        return box
    }

    /// BT.601 limited-range YUV to RGB in 16.16 fixed point (what libavcodec's H264 decoder emits).
    @inline(__always)
    static func bt601(_ y: UInt8, _ u: UInt8, _ v: UInt8) -> (UInt8, UInt8, UInt8) {
        let c = (Int32(y) - 16) * 76284  // 1.164 × 65536
        let d = Int32(u) - 128
        let e = Int32(v) - 128
        let r = (c + 104595 * e + 32768) >> 16  // 1.596
        let g = (c - 25690 * d - 53281 * e + 32768) >> 16  // 0.392, 0.813
        let b = (c + 132186 * d + 32768) >> 16  // 2.017
        return (UInt8(clamping: r), UInt8(clamping: g), UInt8(clamping: b))
    }

    private func prepare(_ box: Letterbox) {
        letterbox = box
        let plane = box.inputWidth * box.inputHeight
        if tensor.count != 3 * plane {
            tensor.deallocate()
            tensor = .allocate(capacity: 3 * plane)
        }
        for c in 0..<3 {
            let fill = lookup[c * 256 + Int(normalization.padByte)]
            (tensor.baseAddress! + c * plane).initialize(repeating: fill, count: plane)
        }
        // Sample at pixel centres: source = floor((dst + 0.5) / scale), clamped to the frame.
        sourceColumn = (0..<box.scaledWidth).map { x in
            Int32(min(box.frameWidth - 1, Int((Float(x) + 0.5) / box.scale)))
        }
        sourceRow = (0..<box.scaledHeight).map { y in
            Int32(min(box.frameHeight - 1, Int((Float(y) + 0.5) / box.scale)))
        }
    }
}
