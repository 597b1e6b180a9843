// RiverInference: ONNX Runtime through dlopen, model adapters (CenterFace, YOLO, classifier), pre/post-processing and NMS.
// See DESIGN.md for how this module fits the data path.
