// Our own minimal declarations of the ONNX Runtime C API, loaded with dlopen (see ort_loader.c).
#ifndef RIVER_CONNXRUNTIME_H
#define RIVER_CONNXRUNTIME_H
#endif
