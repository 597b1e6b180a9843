import RiverCore

/// Turns RGB24 or I420 frames into the model's NCHW float tensor, letterboxed.
///
/// Hot path (once per pixel of the model input). A 1:1 letterbox copies pixels; a scaled one samples
/// bilinearly (like OpenCV's `INTER_LINEAR`, which YOLO and most training pipelines use), chroma of
/// I420 by nearest neighbour. Source positions and weights come from per-column and per-row tables
/// built once per geometry; arithmetic is 8-bit fixed point; byte→float goes through 256-entry
/// tables per channel; loops run over raw pointers, so the inner loop has no closures, no bounds
/// checks and no divisions. Margins are written only when the geometry changes, since frames never
/// touch them.
///
/// A class, not a struct: the tensor is one manually allocated buffer handed to ORT in place, so it
/// must not move or be copied on write. Use from one thread at a time.
public final class Preprocessor {
    public let normalization: PixelNormalization
    /// The tensor, `3 × inputHeight × inputWidth` floats, planes R, G, B. Valid until the next
    /// `fill` with another geometry.
    public private(set) var tensor = UnsafeMutableBufferPointer<Float>(start: nil, count: 0)
    public private(set) var letterbox: Letterbox?
    private var columns = Taps(count: 0)
    private var rows = Taps(count: 0)
    /// Three 256-entry tables, R then G then B.
    private let lookup: UnsafeMutablePointer<Float>

    public init(normalization: PixelNormalization) {
        self.normalization = normalization
        lookup = .allocate(capacity: 3 * 256)
        let n = normalization
        let means = [n.mean.0, n.mean.1, n.mean.2]
        let stds = [n.std.0, n.std.1, n.std.2]
        for c in 0..<3 {
            for v in 0..<256 { lookup[c * 256 + v] = (Float(v) * n.scale - means[c]) / stds[c] }
        }
    }

    deinit {
        tensor.deallocate()
        lookup.deallocate()
        columns.deallocate()
        rows.deallocate()
    }

    /// Fills `tensor` from `frame` for the given geometry and returns the geometry.
    @discardableResult
    public func fill(from frame: VideoFrame, letterbox box: Letterbox) -> Letterbox {
        if box != letterbox { prepare(box) }
        let copy = box.scaledWidth == frame.width && box.scaledHeight == frame.height
        frame.data.withUnsafeBufferPointer { source in
            let pixels = source.baseAddress!
            for row in 0..<box.scaledHeight {
                let r = tensor.baseAddress! + (box.padY + row) * box.inputWidth + box.padX
                let out = Planes(
                    r: r, g: r + box.inputWidth * box.inputHeight, b: r + 2 * box.inputWidth * box.inputHeight
                )
                switch (frame.format, copy) {
                case (.rgb24, true): copyRGB(pixels, frame, row, out, box.scaledWidth)
                case (.rgb24, false): scaleRGB(pixels, frame, row, out, box.scaledWidth)
                case (.i420, true): copyI420(pixels, frame, row, out, box.scaledWidth)
                case (.i420, false): scaleI420(pixels, frame, row, out, box.scaledWidth)
                }
            }
        }
        return box
    }

    private struct Planes {
        let r: UnsafeMutablePointer<Float>
        let g: UnsafeMutablePointer<Float>
        let b: UnsafeMutablePointer<Float>
    }

    @inline(__always)
    private func copyRGB(
        _ pixels: UnsafePointer<UInt8>, _ frame: VideoFrame, _ row: Int, _ out: Planes, _ width: Int
    ) {
        var p = pixels + frame.offsets[0] + row * frame.strides[0]
        let (lutR, lutG, lutB) = (lookup, lookup + 256, lookup + 512)
        for x in 0..<width {
            out.r[x] = lutR[Int(p[0])]
            out.g[x] = lutG[Int(p[1])]
            out.b[x] = lutB[Int(p[2])]
            p += 3
        }
    }

    @inline(__always)
    private func scaleRGB(
        _ pixels: UnsafePointer<UInt8>, _ frame: VideoFrame, _ row: Int, _ out: Planes, _ width: Int
    ) {
        let base = pixels + frame.offsets[0]
        let top = base + Int(rows.first[row]) * frame.strides[0]
        let bottom = base + Int(rows.second[row]) * frame.strides[0]
        let wy = rows.weight[row]
        let wy0 = 256 - wy
        let (first, second, weight) = (columns.first, columns.second, columns.weight)
        let luts = [lookup, lookup + 256, lookup + 512]
        let planes = [out.r, out.g, out.b]
        for c in 0..<3 {
            let lut = luts[c]
            let plane = planes[c]
            for x in 0..<width {
                let a = 3 * Int(first[x]) + c
                let b = 3 * Int(second[x]) + c
                let wx = weight[x]
                let wx0 = 256 - wx
                let upper = Int32(top[a]) * wx0 + Int32(top[b]) * wx
                let lower = Int32(bottom[a]) * wx0 + Int32(bottom[b]) * wx
                plane[x] = lut[Int((upper * wy0 + lower * wy + 32768) >> 16)]
            }
        }
    }

    /// 1:1 I420: one chroma pair serves two pixels, so its terms are computed once per pair.
    @inline(__always)
    private func copyI420(
        _ pixels: UnsafePointer<UInt8>, _ frame: VideoFrame, _ row: Int, _ out: Planes, _ width: Int
    ) {
        let luma = pixels + frame.offsets[0] + row * frame.strides[0]
        let u = pixels + frame.offsets[1] + (row >> 1) * frame.strides[1]
        let v = pixels + frame.offsets[2] + (row >> 1) * frame.strides[2]
        let (lutR, lutG, lutB) = (lookup, lookup + 256, lookup + 512)
        var x = 0
        while x < width {
            let d = Int32(u[x >> 1]) - 128
            let e = Int32(v[x >> 1]) - 128
            let red = 104595 * e + 32768
            let green = 32768 - 25690 * d - 53281 * e
            let blue = 132186 * d + 32768
            for i in x..<min(x + 2, width) {
                let c = (Int32(luma[i]) - 16) * 76284
                out.r[i] = lutR[Int(UInt8(clamping: (c + red) >> 16))]
                out.g[i] = lutG[Int(UInt8(clamping: (c + green) >> 16))]
                out.b[i] = lutB[Int(UInt8(clamping: (c + blue) >> 16))]
            }
            x += 2
        }
    }

    @inline(__always)
    private func scaleI420(
        _ pixels: UnsafePointer<UInt8>, _ frame: VideoFrame, _ row: Int, _ out: Planes, _ width: Int
    ) {
        let luma = pixels + frame.offsets[0]
        let chromaRow = Int(rows.nearest[row]) >> 1
        let u = pixels + frame.offsets[1] + chromaRow * frame.strides[1]
        let v = pixels + frame.offsets[2] + chromaRow * frame.strides[2]
        let top = luma + Int(rows.first[row]) * frame.strides[0]
        let bottom = luma + Int(rows.second[row]) * frame.strides[0]
        let wy = rows.weight[row]
        let wy0 = 256 - wy
        let (first, second, weight, nearest) = (
            columns.first, columns.second, columns.weight, columns.nearest
        )
        let (lutR, lutG, lutB) = (lookup, lookup + 256, lookup + 512)
        for x in 0..<width {
            let a = Int(first[x])
            let b = Int(second[x])
            let wx = weight[x]
            let wx0 = 256 - wx
            let upper = Int32(top[a]) * wx0 + Int32(top[b]) * wx
            let lower = Int32(bottom[a]) * wx0 + Int32(bottom[b]) * wx
            let y = UInt8(truncatingIfNeeded: (upper * wy0 + lower * wy + 32768) >> 16)
            let cx = Int(nearest[x]) >> 1
            let rgb = Self.bt601(y, u[cx], v[cx])
            out.r[x] = lutR[Int(rgb.0)]
            out.g[x] = lutG[Int(rgb.1)]
            out.b[x] = lutB[Int(rgb.2)]
        }
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
        columns.deallocate()
        rows.deallocate()
        columns = Taps(output: box.scaledWidth, source: box.frameWidth, scale: box.scale)
        rows = Taps(output: box.scaledHeight, source: box.frameHeight, scale: box.scale)
    }
}

/// Where each output column (or row) samples the source: the two neighbours around its centre, the
/// second one's weight in 1/256, and the nearest pixel (for copies and I420 chroma).
private struct Taps {
    let first: UnsafeMutablePointer<Int32>
    let second: UnsafeMutablePointer<Int32>
    let weight: UnsafeMutablePointer<Int32>
    let nearest: UnsafeMutablePointer<Int32>

    init(count: Int) {
        first = .allocate(capacity: max(count, 1))
        second = .allocate(capacity: max(count, 1))
        weight = .allocate(capacity: max(count, 1))
        nearest = .allocate(capacity: max(count, 1))
    }

    init(output count: Int, source size: Int, scale: Float) {
        self.init(count: count)
        for i in 0..<count {
            // Centres align: source = (i + 0.5) / scale − 0.5, as OpenCV's INTER_LINEAR.
            let position = max(0, (Float(i) + 0.5) / scale - 0.5)
            let lower = min(size - 1, Int(position))
            first[i] = Int32(lower)
            second[i] = Int32(min(size - 1, lower + 1))
            weight[i] = Int32(((position - Float(lower)) * 256).rounded())
            nearest[i] = Int32(min(size - 1, Int((Float(i) + 0.5) / scale)))
        }
    }

    func deallocate() {
        first.deallocate()
        second.deallocate()
        weight.deallocate()
        nearest.deallocate()
    }
}
