import RiverCore

/// Draws detection boxes and landmarks into a frame: RGB24 (`river infer --annotate`, saved as
/// PNG) or I420 (`river annotate`, re-encoded into video).
public enum FrameAnnotator {
    /// Returns `frame` with each box outlined (`thickness` pixels) and each landmark marked.
    public static func annotate(
        _ frame: VideoFrame, with detections: [Detection], color: (UInt8, UInt8, UInt8) = (0, 255, 0),
        thickness: Int = 2
    ) -> VideoFrame {
        var frame = frame
        let w = frame.width
        let h = frame.height
        // The colour's bytes per plane, and each plane's subsampling.
        let planes: [(bytes: [UInt8], shift: Int)]
        switch frame.format {
        case .rgb24: planes = [([color.0, color.1, color.2], 0)]
        case .i420:
            let (y, cb, cr) = ycbcr(color)
            planes = [([y], 0), ([cb], 1), ([cr], 1)]
        }
        func fill(_ x0: Int, _ y0: Int, _ x1: Int, _ y1: Int) {
            for (plane, (bytes, shift)) in planes.enumerated() {
                let (pw, ph) = ((w + shift) >> shift, (h + shift) >> shift)
                let (ax, ay) = (max(0, x0 >> shift), max(0, y0 >> shift))
                let (bx, by) = (min(pw, (x1 + shift) >> shift), min(ph, (y1 + shift) >> shift))
                guard ax < bx, ay < by else { continue }
                let stride = frame.strides[plane]
                let base = frame.offsets[plane]
                for y in ay..<by {
                    var p = base + y * stride + ax * bytes.count
                    for _ in ax..<bx {
                        for byte in bytes {
                            frame.data[p] = byte
                            p += 1
                        }
                    }
                }
            }
        }
        for detection in detections {
            let x0 = Int(detection.box.x * Float(w))
            let y0 = Int(detection.box.y * Float(h))
            let x1 = Int((detection.box.x + detection.box.w) * Float(w))
            let y1 = Int((detection.box.y + detection.box.h) * Float(h))
            fill(x0, y0, x1, y0 + thickness)
            fill(x0, y1 - thickness, x1, y1)
            fill(x0, y0, x0 + thickness, y1)
            fill(x1 - thickness, y0, x1, y1)
            for point in detection.landmarks ?? [] {
                let x = Int(point.x * Float(w))
                let y = Int(point.y * Float(h))
                fill(x - thickness, y - thickness, x + thickness + 1, y + thickness + 1)
            }
        }
        return frame
    }

    /// An RGB colour in limited-range BT.601 Y'CbCr, what H264 video carries unless told otherwise.
    static func ycbcr(_ color: (UInt8, UInt8, UInt8)) -> (UInt8, UInt8, UInt8) {
        let (r, g, b) = (Double(color.0), Double(color.1), Double(color.2))
        let y = 16 + (65.481 * r + 128.553 * g + 24.966 * b) / 255
        let cb = 128 + (-37.797 * r - 74.203 * g + 112.0 * b) / 255
        let cr = 128 + (112.0 * r - 93.786 * g - 18.214 * b) / 255
        return (UInt8(y.rounded()), UInt8(cb.rounded()), UInt8(cr.rounded()))
    }
}
