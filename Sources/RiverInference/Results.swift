/// The result documents a worker produces (``InferenceResult``, ``Detection``, …) live in
/// RiverResults, which `river serve` shares without linking ONNX Runtime; they are part of this
/// module's API, so importing RiverInference brings them.
@_exported import RiverResults
