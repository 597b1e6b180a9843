// Our own minimal declarations of the ONNX Runtime C API, loaded with dlopen (see ort_loader.c).
//
// No package ships ORT's C headers next to the wheel's libonnxruntime.so, and linking against it would
// pin one exact version through versioned symbols. So we declare only the entries river calls. The
// OrtApi function table is append-only under ORT's ABI policy: an entry's slot never moves. Unused
// slots are padding here, and every used entry's slot is pinned by a static assert below, so an
// accidental edit of the padding fails the build instead of calling the wrong function.
#ifndef RIVER_CONNXRUNTIME_H
#define RIVER_CONNXRUNTIME_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

// Opaque ORT objects.
typedef struct OrtStatus OrtStatus;
typedef struct OrtEnv OrtEnv;
typedef struct OrtSession OrtSession;
typedef struct OrtSessionOptions OrtSessionOptions;
typedef struct OrtRunOptions OrtRunOptions;
typedef struct OrtValue OrtValue;
typedef struct OrtTypeInfo OrtTypeInfo;
typedef struct OrtTensorTypeAndShapeInfo OrtTensorTypeAndShapeInfo;
typedef struct OrtMemoryInfo OrtMemoryInfo;
typedef struct OrtAllocator OrtAllocator;
typedef struct OrtModelMetadata OrtModelMetadata;

/// Values of the C enums we pass or read (OrtLoggingLevel, GraphOptimizationLevel, OrtAllocatorType,
/// OrtMemType, ONNXTensorElementDataType), as plain ints so Swift sees simple constants.
enum {
    RIVER_ORT_LOGGING_LEVEL_ERROR = 3,
    RIVER_ORT_ENABLE_ALL = 99,
    RIVER_ORT_ARENA_ALLOCATOR = 1,
    RIVER_ORT_MEM_TYPE_DEFAULT = 0,
    RIVER_ORT_TENSOR_FLOAT = 1,
};

/// The API version river asks for: every entry declared below exists since ORT 1.14, and
/// `GetApi` hands out older versions of the table from newer libraries.
#define RIVER_ORT_API_VERSION 14

#pragma clang diagnostic push
#pragma clang diagnostic ignored "-Wnullability-completeness"
/// The part of `OrtApi` that river uses. `_slotsA_B` pad entries A..B that we never call.
typedef struct RiverOrtApi {
    OrtStatus *(*_Nonnull CreateStatus)(int code, const char *msg);                         // 0
    int (*_Nonnull GetErrorCode)(const OrtStatus *status);                                   // 1
    const char *(*_Nonnull GetErrorMessage)(const OrtStatus *status);                        // 2
    OrtStatus *(*_Nonnull CreateEnv)(int log_level, const char *log_id, OrtEnv **out);       // 3
    void *_slots4_6[3];
    OrtStatus *(*_Nonnull CreateSession)(const OrtEnv *env, const char *model_path,
                                const OrtSessionOptions *options, OrtSession **out);  // 7
    void *_slot8;
    OrtStatus *(*_Nonnull Run)(OrtSession *session, const OrtRunOptions *run_options,
                      const char *const *input_names, const OrtValue *const *inputs, size_t input_count,
                      const char *const *output_names, size_t output_count, OrtValue **outputs);  // 9
    OrtStatus *(*_Nonnull CreateSessionOptions)(OrtSessionOptions **out);                    // 10
    void *_slots11_22[12];
    OrtStatus *(*_Nonnull SetSessionGraphOptimizationLevel)(OrtSessionOptions *options, int level);  // 23
    OrtStatus *(*_Nonnull SetIntraOpNumThreads)(OrtSessionOptions *options, int threads);    // 24
    OrtStatus *(*_Nonnull SetInterOpNumThreads)(OrtSessionOptions *options, int threads);    // 25
    void *_slots26_29[4];
    OrtStatus *(*_Nonnull SessionGetInputCount)(const OrtSession *session, size_t *out);     // 30
    OrtStatus *(*_Nonnull SessionGetOutputCount)(const OrtSession *session, size_t *out);    // 31
    void *_slot32;
    OrtStatus *(*_Nonnull SessionGetInputTypeInfo)(const OrtSession *session, size_t index, OrtTypeInfo **out);   // 33
    OrtStatus *(*_Nonnull SessionGetOutputTypeInfo)(const OrtSession *session, size_t index, OrtTypeInfo **out);  // 34
    void *_slot35;
    OrtStatus *(*_Nonnull SessionGetInputName)(const OrtSession *session, size_t index, OrtAllocator *allocator,
                                      char **out);                                  // 36
    OrtStatus *(*_Nonnull SessionGetOutputName)(const OrtSession *session, size_t index, OrtAllocator *allocator,
                                       char **out);                                 // 37
    void *_slots38_48[11];
    OrtStatus *(*_Nonnull CreateTensorWithDataAsOrtValue)(const OrtMemoryInfo *info, void *data, size_t data_bytes,
                                                 const int64_t *shape, size_t rank, int element_type,
                                                 OrtValue **out);                   // 49
    void *_slot50;
    OrtStatus *(*_Nonnull GetTensorMutableData)(OrtValue *value, void **out);                // 51
    void *_slots52_54[3];
    OrtStatus *(*_Nonnull CastTypeInfoToTensorInfo)(const OrtTypeInfo *info, const OrtTensorTypeAndShapeInfo **out);  // 55
    void *_slots56_59[4];
    OrtStatus *(*_Nonnull GetTensorElementType)(const OrtTensorTypeAndShapeInfo *info, int *out);   // 60
    OrtStatus *(*_Nonnull GetDimensionsCount)(const OrtTensorTypeAndShapeInfo *info, size_t *out);  // 61
    OrtStatus *(*_Nonnull GetDimensions)(const OrtTensorTypeAndShapeInfo *info, int64_t *dims, size_t count);  // 62
    void *_slots63_64[2];
    OrtStatus *(*_Nonnull GetTensorTypeAndShape)(const OrtValue *value, OrtTensorTypeAndShapeInfo **out);  // 65
    void *_slots66_68[3];
    OrtStatus *(*_Nonnull CreateCpuMemoryInfo)(int allocator_type, int mem_type, OrtMemoryInfo **out);  // 69
    void *_slots70_75[6];
    OrtStatus *(*_Nonnull AllocatorFree)(OrtAllocator *allocator, void *p);                  // 76
    void *_slot77;
    OrtStatus *(*_Nonnull GetAllocatorWithDefaultOptions)(OrtAllocator **out);               // 78
    void *_slots79_91[13];
    void (*_Nonnull ReleaseEnv)(OrtEnv *env);                                                // 92
    void (*_Nonnull ReleaseStatus)(OrtStatus *status);                                       // 93
    void (*_Nonnull ReleaseMemoryInfo)(OrtMemoryInfo *info);                                 // 94
    void (*_Nonnull ReleaseSession)(OrtSession *session);                                    // 95
    void (*_Nonnull ReleaseValue)(OrtValue *value);                                          // 96
    void *_slot97;
    void (*_Nonnull ReleaseTypeInfo)(OrtTypeInfo *info);                                     // 98
    void (*_Nonnull ReleaseTensorTypeAndShapeInfo)(OrtTensorTypeAndShapeInfo *info);         // 99
    void (*_Nonnull ReleaseSessionOptions)(OrtSessionOptions *options);                      // 100
    void *_slots101_110[10];
    OrtStatus *(*_Nonnull SessionGetModelMetadata)(const OrtSession *session, OrtModelMetadata **out);  // 111
    void *_slots112_115[4];
    OrtStatus *(*_Nonnull ModelMetadataLookupCustomMetadataMap)(const OrtModelMetadata *metadata,
                                                       OrtAllocator *allocator, const char *key,
                                                       char **out);                // 116
    void *_slot117;
    void (*_Nonnull ReleaseModelMetadata)(OrtModelMetadata *metadata);                       // 118
    void *_slots119_129[11];
    OrtStatus *(*_Nonnull AddSessionConfigEntry)(OrtSessionOptions *options, const char *key,
                                        const char *value);                         // 130
} RiverOrtApi;
#pragma clang diagnostic pop

#define RIVER_ORT_SLOT(field, n) \
    _Static_assert(offsetof(RiverOrtApi, field) == (n) * sizeof(void *), #field " must be OrtApi slot " #n)
RIVER_ORT_SLOT(CreateStatus, 0);
RIVER_ORT_SLOT(GetErrorCode, 1);
RIVER_ORT_SLOT(GetErrorMessage, 2);
RIVER_ORT_SLOT(CreateEnv, 3);
RIVER_ORT_SLOT(CreateSession, 7);
RIVER_ORT_SLOT(Run, 9);
RIVER_ORT_SLOT(CreateSessionOptions, 10);
RIVER_ORT_SLOT(SetSessionGraphOptimizationLevel, 23);
RIVER_ORT_SLOT(SetIntraOpNumThreads, 24);
RIVER_ORT_SLOT(SetInterOpNumThreads, 25);
RIVER_ORT_SLOT(SessionGetInputCount, 30);
RIVER_ORT_SLOT(SessionGetOutputCount, 31);
RIVER_ORT_SLOT(SessionGetInputTypeInfo, 33);
RIVER_ORT_SLOT(SessionGetOutputTypeInfo, 34);
RIVER_ORT_SLOT(SessionGetInputName, 36);
RIVER_ORT_SLOT(SessionGetOutputName, 37);
RIVER_ORT_SLOT(CreateTensorWithDataAsOrtValue, 49);
RIVER_ORT_SLOT(GetTensorMutableData, 51);
RIVER_ORT_SLOT(CastTypeInfoToTensorInfo, 55);
RIVER_ORT_SLOT(GetTensorElementType, 60);
RIVER_ORT_SLOT(GetDimensionsCount, 61);
RIVER_ORT_SLOT(GetDimensions, 62);
RIVER_ORT_SLOT(GetTensorTypeAndShape, 65);
RIVER_ORT_SLOT(CreateCpuMemoryInfo, 69);
RIVER_ORT_SLOT(AllocatorFree, 76);
RIVER_ORT_SLOT(GetAllocatorWithDefaultOptions, 78);
RIVER_ORT_SLOT(ReleaseEnv, 92);
RIVER_ORT_SLOT(ReleaseStatus, 93);
RIVER_ORT_SLOT(ReleaseMemoryInfo, 94);
RIVER_ORT_SLOT(ReleaseSession, 95);
RIVER_ORT_SLOT(ReleaseValue, 96);
RIVER_ORT_SLOT(ReleaseTypeInfo, 98);
RIVER_ORT_SLOT(ReleaseTensorTypeAndShapeInfo, 99);
RIVER_ORT_SLOT(ReleaseSessionOptions, 100);
RIVER_ORT_SLOT(SessionGetModelMetadata, 111);
RIVER_ORT_SLOT(ModelMetadataLookupCustomMetadataMap, 116);
RIVER_ORT_SLOT(ReleaseModelMetadata, 118);
RIVER_ORT_SLOT(AddSessionConfigEntry, 130);
#undef RIVER_ORT_SLOT

/// Loads the ONNX Runtime shared library at `path` (once per process; later calls return the table
/// already loaded, whatever their path) and returns its API table, or NULL with a reason in `error`.
const RiverOrtApi *_Nullable river_ort_load(const char *_Nonnull path, char *_Nonnull error,
                                            size_t error_capacity);

/// The version string of the loaded library ("1.32.0"), or NULL before a successful load.
const char *_Nullable river_ort_version(void);

#ifdef __cplusplus
}
#endif
#endif
