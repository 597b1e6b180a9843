// ONNX Runtime loader: dlopen + OrtGetApiBase.
