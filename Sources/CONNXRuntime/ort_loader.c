// ONNX Runtime loader: dlopen + OrtGetApiBase, once per process.
#include "CONNXRuntime.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>

/// ORT's only exported entry point returns this pair of functions.
typedef struct RiverOrtApiBase {
    const RiverOrtApi *(*GetApi)(uint32_t version);
    const char *(*GetVersionString)(void);
} RiverOrtApiBase;

static pthread_mutex_t river_ort_lock = PTHREAD_MUTEX_INITIALIZER;
static const RiverOrtApi *river_ort_api;
static const char *river_ort_version_string;

const RiverOrtApi *river_ort_load(const char *path, char *error, size_t error_capacity) {
    pthread_mutex_lock(&river_ort_lock);
    const RiverOrtApi *api = river_ort_api;
    if (api == NULL) {
        // RTLD_LOCAL: ORT's many symbols stay out of the global namespace; we only need OrtGetApiBase.
        void *handle = dlopen(path, RTLD_NOW | RTLD_LOCAL);
        if (handle == NULL) {
            snprintf(error, error_capacity, "%s", dlerror());
        } else {
            const RiverOrtApiBase *(*get_base)(void) =
                (const RiverOrtApiBase *(*)(void))dlsym(handle, "OrtGetApiBase");
            const RiverOrtApiBase *base = get_base ? get_base() : NULL;
            api = base ? base->GetApi(RIVER_ORT_API_VERSION) : NULL;
            if (api == NULL) {
                snprintf(error, error_capacity, "%s",
                         get_base ? "library does not offer ORT API version 14"
                                  : "not an ONNX Runtime library (no OrtGetApiBase)");
                dlclose(handle);
            } else {
                river_ort_api = api;
                river_ort_version_string = base->GetVersionString();
            }
        }
    }
    pthread_mutex_unlock(&river_ort_lock);
    return api;
}

const char *river_ort_version(void) {
    pthread_mutex_lock(&river_ort_lock);
    const char *v = river_ort_version_string;
    pthread_mutex_unlock(&river_ort_lock);
    return v;
}
