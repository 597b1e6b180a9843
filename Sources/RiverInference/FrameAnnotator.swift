import RiverCore

/// Draws detection boxes and landmarks into an RGB24 frame (for `river infer --annotate`).
public enum FrameAnnotator {
    /// Returns `frame` with each box outlined (`thickness` pixels) and each landmark marked.
    /// I420 frames are returned unchanged: annotation is for images saved as PNG.
    public static func annotate(
        _ frame: VideoFrame, with detections: [Detection], color: (UInt8, UInt8, UInt8) = (0, 255, 0),
        thickness: Int = 2
    ) -> VideoFrame {
        guard frame.format == .rgb24 else { return frame }
        var frame = frame
        let w = frame.width
        let h = frame.height
        let stride = frame.strides[0]
        let base = frame.offsets[0]
        func fill(_ x0: Int, _ y0: Int, _ x1: Int, _ y1: Int) {
            let (ax, ay, bx, by) = (max(0, x0), max(0, y0), min(w, x1), min(h, y1))
            guard ax < bx, ay < by else { return }
            for y in ay..<by {
                var p = base + y * stride + ax * 3
                for _ in ax..<bx {
                    frame.data[p] = color.0
                    frame.data[p + 1] = color.1
                    frame.data[p + 2] = color.2
                    p += 3
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
}
