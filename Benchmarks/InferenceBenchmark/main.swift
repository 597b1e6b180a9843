// Worker path vs bare ONNX Runtime, side by side in one run.
//
//   swift run -c release InferenceBenchmark [--model PATH] [--threads N] [--frames N] [--size WxH]
//       [--input WxH]
//
// `--size` is the frame; `--input` the model input of a model with symbolic dims (as `river onnx
// --input-size`). With `--input`, the frames that fit it (what serve sends since wire version 3, a
// 1:1 letterbox copy for the worker) are measured in the same run after the full-size ones, so the
// worker's cost per frame before and after shows side by side.
// The worker path is `InferenceEngine.run(frame:)`: letterbox pre-processing from an RGB24 or I420
// frame, the ORT run, and decoding. The bare run is `ORTSession.run` on an already-filled tensor of
// the same shape, same model, same threads. Runs alternate (bare, worker, bare, …) so machine noise
// hits both alike. Goals: worker run ≥ 0.97 × bare run; pre + post ≤ 5 % of inference.
import Foundation
import RiverCore
import RiverInference
import RiverMedia

struct Arguments {
    var model: String?
    var threads = 1
    var frames = 60
    var width = 640
    var height = 480
    var input: Size?

    init() {
        var args = CommandLine.arguments.dropFirst().makeIterator()
        while let flag = args.next() {
            let value = args.next() ?? ""
            switch flag {
            case "--model": model = value
            case "--threads": threads = Int(value) ?? threads
            case "--frames": frames = Int(value) ?? frames
            case "--size":
                let parts = value.split(separator: "x").compactMap { Int($0) }
                if parts.count == 2 { (width, height) = (parts[0], parts[1]) }
            case "--input":
                let parts = value.split(separator: "x").compactMap { Int($0) }
                if parts.count == 2 { input = Size(width: parts[0], height: parts[1]) }
            default:
                FileHandle.standardError.write(Data("unknown flag \(flag)\n".utf8))
                exit(2)
            }
        }
    }
}

/// The astronaut photo pasted in the middle of a grey frame of the wanted size (a real face, so
/// post-processing has work), as RGB24 and as I420.
func testFrames(width: Int, height: Int) throws -> [VideoFrame] {
    var rgb = VideoFrame(packedWidth: width, height: height, format: .rgb24)
    for i in rgb.data.indices { rgb.data[i] = 128 }
    var tried: [String] = []
    if let path = PathSearch.find("models/astronaut.png", in: PathSearch.roots(), tried: &tried) {
        let photo = try ImageFile.load(path)
        let ox = max(0, (width - photo.width) / 2)
        let oy = max(0, (height - photo.height) / 2)
        for y in 0..<min(height, photo.height) {
            for x in 0..<min(width, photo.width) {
                for c in 0..<3 {
                    rgb.data[((oy + y) * width + ox + x) * 3 + c] = photo.data[(y * photo.width + x) * 3 + c]
                }
            }
        }
    }
    var yuv = VideoFrame(packedWidth: width, height: height, format: .i420)
    for y in 0..<height {
        for x in 0..<width {
            let i = (y * width + x) * 3
            let (r, g, b) = (Double(rgb.data[i]), Double(rgb.data[i + 1]), Double(rgb.data[i + 2]))
            yuv.data[y * width + x] = UInt8(clamping: Int(16 + 0.257 * r + 0.504 * g + 0.098 * b))
            if x % 2 == 0, y % 2 == 0 {
                let c = (y / 2) * yuv.strides[1] + x / 2
                yuv.data[yuv.offsets[1] + c] = UInt8(clamping: Int(128 - 0.148 * r - 0.291 * g + 0.439 * b))
                yuv.data[yuv.offsets[2] + c] = UInt8(clamping: Int(128 + 0.439 * r - 0.368 * g - 0.071 * b))
            }
        }
    }
    return [rgb, yuv]
}

func format(_ value: Double, _ digits: Int = 2) -> String { String(format: "%.\(digits)f", value) }
func median(_ values: [Double]) -> Double { values.sorted()[values.count / 2] }
func mean(_ values: [Double]) -> Double { values.reduce(0, +) / Double(values.count) }
func milliseconds(_ d: Duration) -> Double {
    Double(d.components.seconds) * 1000 + Double(d.components.attoseconds) / 1e15
}

func main() throws {
    let arguments = Arguments()
    let modelPath = try arguments.model ?? PathSearch.defaultModel()
    let options = InferenceOptions(
        session: SessionOptions(intraOpThreads: arguments.threads), inputSize: arguments.input)
    let engine = try InferenceEngine(modelPath: modelPath, options: options)
    let bareSession = try ORTSession(
        modelPath: modelPath, options: options.session, runtime: engine.session.runtime)
    let clock = ContinuousClock()
    print(
        "ORT \(engine.session.runtime.version), model \(engine.modelName), intra-op threads \(arguments.threads), spinning off"
    )

    var frames = try testFrames(width: arguments.width, height: arguments.height)
    let size = FrameSize(width: arguments.width, height: arguments.height)
    if let box = engine.inputSize, size.fitted(into: box) != size {
        let fitted = size.fitted(into: box)
        frames += try testFrames(width: fitted.width, height: fitted.height).filter { $0.format == .i420 }
    }
    for frame in frames {
        let box = engine.letterbox(frameWidth: frame.width, frameHeight: frame.height)
        let shape: [Int64] = [1, 3, Int64(box.inputHeight), Int64(box.inputWidth)]
        let tensor = Preprocessor(normalization: engine.adapter.normalization)
        tensor.fill(from: frame, letterbox: box)

        // Per-frame milliseconds; medians resist the bursts of a shared machine, means are shown too.
        var bare: [Double] = []
        var worker: [Double] = []
        var pre: [Double] = []
        var run: [Double] = []
        var post: [Double] = []
        var found = 0
        for i in -3..<arguments.frames {  // three warm-up rounds, not counted
            // Swap which goes first every round, so neither always runs on a warmer cache.
            var bareTime = Duration.zero
            var workerTime = Duration.zero
            var result: InferenceResult?
            for turn in (i & 1 == 0 ? [0, 1] : [1, 0]) {
                let start = clock.now
                if turn == 0 {
                    let outputs = try bareSession.run(input: tensor.tensor, shape: shape)
                    bareTime = clock.now - start
                    withExtendedLifetime(outputs) {}
                } else {
                    result = try engine.run(frame: frame)
                    workerTime = clock.now - start
                }
            }
            guard let result else { continue }
            guard i >= 0 else { continue }
            bare.append(milliseconds(bareTime))
            worker.append(milliseconds(workerTime))
            pre.append(result.timings.preprocessMs)
            run.append(result.timings.inferenceMs)
            post.append(result.timings.postprocessMs)
            found = result.detections.count
        }
        let (bareMedian, workerMedian, runMedian) = (median(bare), median(worker), median(run))
        let prePost = median(zip(pre, post).map { $0 + $1 })
        print(
            """

            \(frame.width)x\(frame.height) \(frame.format) (\(frame.data.count) bytes) -> input \(box.inputWidth)x\(box.inputHeight), \
            \(arguments.frames) frames each, interleaved (\(found) detection(s) per frame); medians (means)
              bare ORT run           \(format(1000 / bareMedian, 1)) fps  \(format(bareMedian)) ms (\(format(mean(bare))))
              worker path            \(format(1000 / workerMedian, 1)) fps  \(format(workerMedian)) ms (\(format(mean(worker))))
                = pre \(format(median(pre))) + run \(format(runMedian)) + post \(format(median(post))) ms
              worker/bare, path      \(format(bareMedian / workerMedian, 3)) (means \(format(mean(bare) / mean(worker), 3)))
              worker/bare, run only  \(format(bareMedian / runMedian, 3)) (means \(format(mean(bare) / mean(run), 3)))   goal >= 0.97
              pre+post / inference   \(format(100 * prePost / runMedian)) % (means \(format(100 * (mean(pre) + mean(post)) / mean(run))) %)   goal <= 5 %
            """)
    }
}

do { try main() } catch {
    FileHandle.standardError.write(Data("InferenceBenchmark: error: \(error)\n".utf8))
    exit(1)
}
