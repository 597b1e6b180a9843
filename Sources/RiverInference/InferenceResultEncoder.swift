import Foundation

extension InferenceResult {
    /// The encoder for result documents (`river infer`'s output, a worker's REPLY body): compact,
    /// keys sorted, so a document is stable byte for byte and can be compared in tests.
    public static var encoder: JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }
}
