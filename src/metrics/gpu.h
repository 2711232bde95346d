/* gpu.h - GPU figures through NVML, loaded with dlopen so that inferd
 * neither links against nor needs the NVIDIA driver. Without the library
 * or a device every figure is unavailable (NAN, reported as null). */
#ifndef INFERD_GPU_H
#define INFERD_GPU_H

#include <stdbool.h>

typedef struct gpu_reading {
    bool available; /* NVML loaded and at least one device */
    unsigned devices;
    double utilisation_percent; /* mean over devices */
    double memory_used_mb;      /* summed */
    double memory_total_mb;
} gpu_reading_t;

/* Loads NVML once (thread-safe); later calls reuse it. A blocking call:
 * the collector makes it on libuv's thread pool. */
void gpu_read(gpu_reading_t *out);

/* ---- the NVML calls gpu_read makes, exposed so that a test can stand in
 * a fake device. Our own declarations of NVML's documented C ABI (no
 * NVIDIA header is needed): every call returns nvmlReturn_t, an int that is
 * 0 (NVML_SUCCESS) on success. ---- */

typedef struct gpu_nvml_device *gpu_nvml_device_t; /* nvmlDevice_t */

typedef struct gpu_nvml_utilization { /* nvmlUtilization_t */
    unsigned int gpu;                 /* percent of the sample period a kernel ran */
    unsigned int memory;              /* percent of it memory was read or written */
} gpu_nvml_utilization_t;

typedef struct gpu_nvml_memory { /* nvmlMemory_t (version 1), bytes */
    unsigned long long total;
    unsigned long long free;
    unsigned long long used;
} gpu_nvml_memory_t;

typedef struct gpu_nvml_api {
    int (*get_count)(unsigned int *count);                            /* nvmlDeviceGetCount_v2 */
    int (*get_handle)(unsigned int index, gpu_nvml_device_t *device); /* ..GetHandleByIndex_v2 */
    int (*get_utilization)(gpu_nvml_device_t device, gpu_nvml_utilization_t *u); /* ..Rates */
    int (*get_memory)(gpu_nvml_device_t device, gpu_nvml_memory_t *m); /* ..GetMemoryInfo */
} gpu_nvml_api_t;

/* Reads every device through api (NVML already initialised). A device that
 * does not report utilisation is left out of the mean (NAN if none does);
 * memory is summed only when every device reports it, else NAN, because a
 * partial sum would understate it. api NULL: unavailable. */
void gpu_read_from(const gpu_nvml_api_t *api, gpu_reading_t *out);

#endif
