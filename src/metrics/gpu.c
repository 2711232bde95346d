/* gpu.c - GPU figures through NVML, found at run time.
 *
 * The NVIDIA management library is opened with dlopen the first time a
 * reading is asked for (pthread_once, so that concurrent callers load it
 * once) and stays loaded for the life of the process; nvmlShutdown is never
 * called because the next reading would need NVML again. Nothing here
 * includes an NVIDIA header: gpu.h declares the five calls we make with the
 * types of NVML's documented C ABI, and the loader resolves their versioned
 * symbol names. A machine without the library, or whose driver does not
 * start, or with no device, reads as unavailable, every figure NAN: the API
 * reports null, never zero.
 */
#include "metrics/gpu.h"

#include <dlfcn.h>
#include <math.h>
#include <pthread.h>
#include <stddef.h>

#define NVML_LIBRARY "libnvidia-ml.so.1"
#define NVML_SUCCESS 0

#define BYTES_PER_MB (1024.0 * 1024.0)

static pthread_once_t nvml_once = PTHREAD_ONCE_INIT;
static gpu_nvml_api_t nvml_api; /* written once under nvml_once, then read-only */
static bool nvml_ready;

/* POSIX lets dlsym's object pointer be converted to a function pointer. */
typedef int (*nvml_init_fn)(void);

static void nvml_load(void)
{
    void *lib = dlopen(NVML_LIBRARY, RTLD_NOW | RTLD_LOCAL);
    if (!lib)
        return;
    nvml_init_fn init = (nvml_init_fn)dlsym(lib, "nvmlInit_v2");
    gpu_nvml_api_t api = {
        .get_count = (int (*)(unsigned int *))dlsym(lib, "nvmlDeviceGetCount_v2"),
        .get_handle =
            (int (*)(unsigned int, gpu_nvml_device_t *))dlsym(lib, "nvmlDeviceGetHandleByIndex_v2"),
        .get_utilization = (int (*)(gpu_nvml_device_t, gpu_nvml_utilization_t *))dlsym(
            lib, "nvmlDeviceGetUtilizationRates"),
        .get_memory =
            (int (*)(gpu_nvml_device_t, gpu_nvml_memory_t *))dlsym(lib, "nvmlDeviceGetMemoryInfo"),
    };
    if (!init || !api.get_count || !api.get_handle || !api.get_utilization || !api.get_memory)
        goto fail;
    if (init() != NVML_SUCCESS)
        goto fail;
    nvml_api = api;
    nvml_ready = true;
    return;
fail:
    dlclose(lib);
}

void gpu_read_from(const gpu_nvml_api_t *api, gpu_reading_t *out)
{
    *out = (gpu_reading_t){
        .available = false,
        .devices = 0,
        .utilisation_percent = NAN,
        .memory_used_mb = NAN,
        .memory_total_mb = NAN,
    };
    unsigned int count = 0;
    if (!api || api->get_count(&count) != NVML_SUCCESS || count == 0)
        return;
    out->available = true;
    out->devices = count;

    double utilisation_sum = 0.0;
    unsigned utilisation_n = 0;
    unsigned long long used = 0, total = 0;
    bool memory_complete = true;
    for (unsigned int i = 0; i < count; i++) {
        gpu_nvml_device_t device = NULL;
        if (api->get_handle(i, &device) != NVML_SUCCESS) {
            memory_complete = false; /* e.g. a device we lack permission for */
            continue;
        }
        gpu_nvml_utilization_t u;
        if (api->get_utilization(device, &u) == NVML_SUCCESS) {
            utilisation_sum += u.gpu;
            utilisation_n++;
        }
        gpu_nvml_memory_t m;
        if (api->get_memory(device, &m) == NVML_SUCCESS) {
            used += m.used;
            total += m.total;
        } else {
            memory_complete = false;
        }
    }
    if (utilisation_n > 0)
        out->utilisation_percent = utilisation_sum / utilisation_n;
    if (memory_complete) {
        out->memory_used_mb = (double)used / BYTES_PER_MB;
        out->memory_total_mb = (double)total / BYTES_PER_MB;
    }
}

void gpu_read(gpu_reading_t *out)
{
    pthread_once(&nvml_once, nvml_load);
    gpu_read_from(nvml_ready ? &nvml_api : NULL, out);
}
