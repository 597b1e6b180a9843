import CONNXRuntime
import Foundation

/// How an ORT session uses the CPU.
public struct SessionOptions: Sendable, Equatable {
    /// Threads inside one operator (ORT's intra-op pool). 1 suits a shared 2-core box.
    public var intraOpThreads: Int
    /// Let pool threads busy-wait for work. Off by default: spinning burns a core that the rest of
    /// the pipeline (decoding, WebRTC) needs, for a latency gain that is small next to a model run.
    public var allowSpinning: Bool

    public init(intraOpThreads: Int = 1, allowSpinning: Bool = false) {
        self.intraOpThreads = intraOpThreads
        self.allowSpinning = allowSpinning
    }
}

/// Name, element type and dimensions (-1 where symbolic) of a model input or output.
public struct TensorInfo: Sendable, Equatable, CustomStringConvertible {
    public let name: String
    public let shape: [Int]
    /// ONNX element type; 1 is float32.
    public let elementType: Int

    public var description: String {
        "\(name)[\(shape.map { $0 < 0 ? "?" : String($0) }.joined(separator: ","))]"
    }
}

/// An output of one run, owned until the value is released with this object.
///
/// `floats` points into ORT's memory; it stays valid while this object lives.
public final class ORTTensor {
    public let shape: [Int]
    public let floats: UnsafeBufferPointer<Float>
    private let value: OpaquePointer
    private let runtime: ORTRuntime

    init(value: OpaquePointer, runtime: ORTRuntime, name: String) throws(InferenceError) {
        self.value = value
        self.runtime = runtime
        let api = runtime.api.pointee
        var info: OpaquePointer?
        do {
            try runtime.check(api.GetTensorTypeAndShape(value, &info), "reading the shape of output \(name)")
        } catch {
            api.ReleaseValue(value)
            throw error
        }
        defer { api.ReleaseTensorTypeAndShapeInfo(info) }
        var type: Int32 = 0
        var rank = 0
        _ = api.GetTensorElementType(info, &type)
        _ = api.GetDimensionsCount(info, &rank)
        var dims = [Int64](repeating: 0, count: rank)
        _ = api.GetDimensions(info, &dims, rank)
        shape = dims.map(Int.init)
        guard type == Int32(RIVER_ORT_TENSOR_FLOAT) else {
            api.ReleaseValue(value)
            throw .runtime(
                operation: "reading output \(name)", message: "element type \(type) is not float32")
        }
        var data: UnsafeMutableRawPointer?
        _ = api.GetTensorMutableData(value, &data)
        let count = shape.reduce(1, *)
        floats = UnsafeBufferPointer(start: data?.assumingMemoryBound(to: Float.self), count: count)
    }

    deinit { runtime.api.pointee.ReleaseValue(value) }
}

/// One ONNX Runtime session over a model file: the thin layer over the C API.
///
/// Not thread-safe by design: use one session from one thread at a time (ORT's `Run` is thread-safe,
/// but river's engine reuses buffers per session and gains nothing from sharing).
public final class ORTSession {
    public let runtime: ORTRuntime
    public let modelPath: String
    public let inputs: [TensorInfo]
    public let outputs: [TensorInfo]
    private let session: OpaquePointer
    private let memoryInfo: OpaquePointer
    private let inputNames: [UnsafeMutablePointer<CChar>]
    private let outputNames: [UnsafeMutablePointer<CChar>]
    private var outputValues: [OpaquePointer?]

    /// Loads `modelPath` with full graph optimisation, the given threads, and spinning as asked.
    public init(modelPath: String, options: SessionOptions = .init(), runtime: ORTRuntime)
        throws(InferenceError)
    {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: modelPath, isDirectory: &isDirectory),
            !isDirectory.boolValue
        else { throw .modelNotFound(path: modelPath) }
        self.runtime = runtime
        self.modelPath = modelPath
        let api = runtime.api.pointee

        var sessionOptions: OpaquePointer?
        try runtime.check(api.CreateSessionOptions(&sessionOptions), "creating session options")
        defer { api.ReleaseSessionOptions(sessionOptions) }
        let spin = options.allowSpinning ? "1" : "0"
        try runtime.check(
            api.SetIntraOpNumThreads(sessionOptions, Int32(max(0, options.intraOpThreads))),
            "setting intra-op threads")
        try runtime.check(api.SetInterOpNumThreads(sessionOptions, 1), "setting inter-op threads")
        try runtime.check(
            api.SetSessionGraphOptimizationLevel(sessionOptions, Int32(RIVER_ORT_ENABLE_ALL)),
            "setting optimisation")
        try runtime.check(
            api.AddSessionConfigEntry(sessionOptions, "session.intra_op.allow_spinning", spin),
            "setting spinning")
        try runtime.check(
            api.AddSessionConfigEntry(sessionOptions, "session.inter_op.allow_spinning", spin),
            "setting spinning")

        var session: OpaquePointer?
        if let status = api.CreateSession(runtime.env, modelPath, sessionOptions, &session) {
            let message = String(cString: api.GetErrorMessage(status)!)
            api.ReleaseStatus(status)
            throw .modelInvalid(path: modelPath, reason: message)
        }
        guard let session else { throw .modelInvalid(path: modelPath, reason: "no session") }
        var memoryInfo: OpaquePointer?
        do {
            try runtime.check(
                api.CreateCpuMemoryInfo(
                    Int32(RIVER_ORT_ARENA_ALLOCATOR), Int32(RIVER_ORT_MEM_TYPE_DEFAULT), &memoryInfo),
                "creating CPU memory info")
            let (inputs, inputNames) = try Self.describe(session, runtime: runtime, outputs: false)
            let (outputs, outputNames) = try Self.describe(session, runtime: runtime, outputs: true)
            self.inputs = inputs
            self.outputs = outputs
            self.inputNames = inputNames
            self.outputNames = outputNames
        } catch {
            if let memoryInfo { api.ReleaseMemoryInfo(memoryInfo) }
            api.ReleaseSession(session)
            throw error
        }
        self.session = session
        self.memoryInfo = memoryInfo!
        self.outputValues = [OpaquePointer?](repeating: nil, count: outputs.count)
    }

    deinit {
        let api = runtime.api.pointee
        for name in inputNames + outputNames { free(name) }
        api.ReleaseMemoryInfo(memoryInfo)
        api.ReleaseSession(session)
    }

    private static func describe(_ session: OpaquePointer, runtime: ORTRuntime, outputs: Bool)
        throws(InferenceError)
        -> ([TensorInfo], [UnsafeMutablePointer<CChar>])
    {
        let api = runtime.api.pointee
        let kind = outputs ? "output" : "input"
        var allocator: OpaquePointer?
        try runtime.check(api.GetAllocatorWithDefaultOptions(&allocator), "getting the default allocator")
        var count = 0
        try runtime.check(
            outputs ? api.SessionGetOutputCount(session, &count) : api.SessionGetInputCount(session, &count),
            "counting \(kind)s")
        var infos: [TensorInfo] = []
        var names: [UnsafeMutablePointer<CChar>] = []
        for index in 0..<count {
            var rawName: UnsafeMutablePointer<CChar>?
            try runtime.check(
                outputs
                    ? api.SessionGetOutputName(session, index, allocator, &rawName)
                    : api.SessionGetInputName(session, index, allocator, &rawName),
                "reading \(kind) \(index)'s name")
            let name = String(cString: rawName!)
            _ = api.AllocatorFree(allocator, rawName)
            names.append(strdup(name))
            var typeInfo: OpaquePointer?
            try runtime.check(
                outputs
                    ? api.SessionGetOutputTypeInfo(session, index, &typeInfo)
                    : api.SessionGetInputTypeInfo(session, index, &typeInfo),
                "reading \(kind) \(name)'s type")
            defer { api.ReleaseTypeInfo(typeInfo) }
            var tensorInfo: OpaquePointer?
            _ = api.CastTypeInfoToTensorInfo(typeInfo, &tensorInfo)
            guard let tensorInfo else {
                infos.append(TensorInfo(name: name, shape: [], elementType: 0))
                continue
            }
            var type: Int32 = 0
            var rank = 0
            _ = api.GetTensorElementType(tensorInfo, &type)
            _ = api.GetDimensionsCount(tensorInfo, &rank)
            var dims = [Int64](repeating: 0, count: rank)
            _ = api.GetDimensions(tensorInfo, &dims, rank)
            infos.append(TensorInfo(name: name, shape: dims.map(Int.init), elementType: Int(type)))
        }
        return (infos, names)
    }

    /// The value of `key` in the model's custom metadata (`metadata_props`), or nil.
    public func metadata(_ key: String) -> String? {
        let api = runtime.api.pointee
        var metadata: OpaquePointer?
        guard api.SessionGetModelMetadata(session, &metadata) == nil, let metadata else { return nil }
        defer { api.ReleaseModelMetadata(metadata) }
        var allocator: OpaquePointer?
        _ = api.GetAllocatorWithDefaultOptions(&allocator)
        var value: UnsafeMutablePointer<CChar>?
        guard api.ModelMetadataLookupCustomMetadataMap(metadata, allocator, key, &value) == nil, let value
        else {
            return nil
        }
        defer { _ = api.AllocatorFree(allocator, value) }
        return String(cString: value)
    }

    /// Runs the model on one float tensor (the first input) and returns every output.
    ///
    /// `input` is read in place (no copy); it must hold `shape.reduce(1, *)` floats.
    public func run(input: UnsafeMutableBufferPointer<Float>, shape: [Int64]) throws(InferenceError)
        -> [ORTTensor]
    {
        let api = runtime.api.pointee
        var value: OpaquePointer?
        try runtime.check(
            api.CreateTensorWithDataAsOrtValue(
                memoryInfo, input.baseAddress, input.count * MemoryLayout<Float>.stride, shape, shape.count,
                Int32(RIVER_ORT_TENSOR_FLOAT), &value),
            "creating the input tensor \(shape)")
        defer { api.ReleaseValue(value) }
        for i in outputValues.indices { outputValues[i] = nil }
        let status = inputNames.withUnsafeBufferPointer { inNames in
            outputNames.withUnsafeBufferPointer { outNames in
                withUnsafePointer(to: value) { inputValue in
                    outputValues.withUnsafeMutableBufferPointer { outValues in
                        inNames.withMemoryRebound(to: UnsafePointer<CChar>?.self) { inNames in
                            outNames.withMemoryRebound(to: UnsafePointer<CChar>?.self) { outNames in
                                api.Run(
                                    session, nil, inNames.baseAddress, inputValue, 1, outNames.baseAddress,
                                    outNames.count, outValues.baseAddress)
                            }
                        }
                    }
                }
            }
        }
        try runtime.check(status, "running \((modelPath as NSString).lastPathComponent)")
        var tensors: [ORTTensor] = []
        tensors.reserveCapacity(outputValues.count)
        var failure: InferenceError?
        for (index, output) in outputValues.enumerated() {
            guard let output else { continue }
            if failure != nil {
                api.ReleaseValue(output)
                continue
            }
            do {
                tensors.append(try ORTTensor(value: output, runtime: runtime, name: outputs[index].name))
            } catch { failure = error }
        }
        if let failure { throw failure }
        return tensors
    }
}
