/// Why the inference worker could not load a model or process a frame.
///
/// Every case names the thing at fault (a path, an operation) so that its one-line `description` is
/// enough for a person to act on.
public enum InferenceError: Error, Equatable, CustomStringConvertible {
    /// No ONNX Runtime library was found; `tried` lists the places searched.
    case runtimeNotFound(tried: [String])
    /// The library at `path` could not be loaded as ONNX Runtime.
    case runtimeUnloadable(path: String, reason: String)
    /// The model file does not exist (or is not a regular file).
    case modelNotFound(path: String)
    /// ONNX Runtime refused the model file, e.g. because it is not ONNX.
    case modelInvalid(path: String, reason: String)
    /// The model loads but its inputs or outputs fit none of the adapters.
    case unsupportedModel(path: String, reason: String)
    /// A labels file given for the model could not be read.
    case labelsUnreadable(path: String, reason: String)
    /// An ONNX Runtime call failed while running the model.
    case runtime(operation: String, message: String)
    /// A request or frame that cannot be processed.
    case badRequest(String)

    public var description: String {
        let text =
            switch self {
            case .runtimeNotFound(let tried):
                "ONNX Runtime library not found (set RIVER_ORT_LIB or run scripts/setup.sh); tried: "
                    + tried.joined(separator: ", ")
            case .runtimeUnloadable(let path, let reason):
                "cannot load ONNX Runtime library \(path): \(reason)"
            case .modelNotFound(let path): "model not found: \(path)"
            case .modelInvalid(let path, let reason): "not a loadable ONNX model: \(path): \(reason)"
            case .unsupportedModel(let path, let reason): "unsupported model \(path): \(reason)"
            case .labelsUnreadable(let path, let reason): "cannot read labels file \(path): \(reason)"
            case .runtime(let operation, let message): "ONNX Runtime \(operation) failed: \(message)"
            case .badRequest(let why): "bad inference request: \(why)"
            }
        // ORT messages can span lines; errors must stay one line for logs and the CLI.
        return text.split(whereSeparator: \.isNewline).joined(separator: " ")
    }
}
