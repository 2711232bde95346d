/* collector.h - samples the machine and the replica processes.
 *
 * One collection reads /proc/stat, /proc/meminfo, the file system of the
 * data directory (statvfs), NVML when a GPU is present, and for each given
 * pid /proc/PID/stat (CPU) and /proc/PID/smaps_rollup (memory). The reads
 * run on libuv's thread pool (uv_queue_work), never on the loop; the
 * result comes back on the loop through the callback.
 *
 * CPU figures are rates, so they need two samples: the first collection
 * reports them as NAN, and so does a pid seen for the first time. Any
 * figure that cannot be read is NAN (reported as null), never zero.
 *
 * Cost. Every read but one is O(1) in the kernel. smaps_rollup is not: it
 * walks the page tables of the process, 2.5 to 5 ms of CPU per resident
 * GiB in 4 KiB pages, so reading it for twenty 1 GiB replicas every second
 * would take 5 to 10 % of a core. So smaps_rollup is read stalest pid first
 * while a budget of CPU time lasts (COLLECTOR_PSS_BUDGET_US per collection,
 * on average: a read that overruns it is paid back by skipping the next
 * collections' reads). Small replicas are all read every time; large ones
 * have their PSS refreshed in turn and reported with its age, while their
 * RSS comes fresh from /proc/PID/statm, a counter the kernel keeps.
 */
#ifndef INFERD_COLLECTOR_H
#define INFERD_COLLECTOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#define COLLECTOR_MAX_PIDS 256

/* CPU time a collection may spend on smaps_rollup, on average: 0.2 % of
 * one core at the default one-second interval. */
#define COLLECTOR_PSS_BUDGET_US 2000

typedef struct system_sample {
    double cpu_percent;         /* whole machine, all cores, since the previous collection */
    double memory_total_mb;     /* MemTotal */
    double memory_available_mb; /* MemAvailable */
    double memory_percent;      /* (MemTotal - MemAvailable) / MemTotal * 100 */
    double disk_total_mb;       /* file system holding the data directory */
    double disk_free_mb;        /* available to unprivileged users */
    double disk_percent;        /* used share */
    bool gpu_available;         /* NVML found at least one device */
    double gpu_percent;         /* mean utilisation over devices; NAN without a GPU */
    double gpu_memory_used_mb;  /* summed over devices; NAN without a GPU */
    double gpu_memory_total_mb;
    unsigned gpu_devices; /* 0 without a GPU */
} system_sample_t;

typedef struct process_sample {
    int pid;
    bool alive;             /* false when /proc/PID could not be read, or the process has
                               exited and only waits to be reaped (a zombie) */
    double cpu_percent;     /* of one core, since the previous collection (NAN the first time) */
    double rss_mb;          /* smaps_rollup Rss; /proc/PID/statm resident when smaps_rollup
                               was not read this time (the same figure, from a counter) */
    double pss_mb;          /* smaps_rollup Pss: shared pages split among sharers */
    double pss_age_seconds; /* how long ago pss_mb was read: 0 when read by this
                               collection, NAN when pss_mb is NAN */
} process_sample_t;

typedef struct collector collector_t;

/* Called on the loop with one collection's results; procs[i] is for the
 * i-th pid passed to collector_collect(). sys and procs belong to the
 * collector and stay valid until the callback returns; the callback may
 * start the next collection or free the collector. */
typedef void (*collector_done_fn)(const system_sample_t *sys, const process_sample_t *procs,
                                  size_t n_procs, void *ctx);

/* data_dir is copied; NULL leaves the disk figures NAN. Aborts when out
 * of memory, as the gateway does. */
collector_t *collector_new(uv_loop_t *loop, const char *data_dir);

/* Starts one collection. Returns 0, or -1 when the previous one is still
 * running (the caller skips a beat) or n_pids > COLLECTOR_MAX_PIDS. */
int collector_collect(collector_t *c, const int *pids, size_t n_pids, collector_done_fn done,
                      void *ctx);

/* Collections completed since start. */
uint64_t collector_samples(const collector_t *c);

/* CPU time the last completed collection took on the thread pool, in µs
 * (NAN before the first). */
double collector_last_cost_us(const collector_t *c);

/* Sets the smaps_rollup budget of the next collections (default
 * COLLECTOR_PSS_BUDGET_US); 0 turns PSS off (NAN) and RSS comes from statm. */
void collector_set_pss_budget(collector_t *c, unsigned budget_us);

/* Frees c once no collection is running (a running one completes first;
 * its callback is then not called). Until then the pending work keeps the
 * loop alive, so run the loop before closing it. */
void collector_free(collector_t *c);

/* ---- the readers, exposed for tests; each is a plain blocking read ---- */

/* Jiffies of all CPUs: total and idle (idle + iowait). */
int procfs_read_cpu_totals(uint64_t *total, uint64_t *idle);
/* MemTotal and MemAvailable in MiB. */
int procfs_read_meminfo(double *total_mb, double *available_mb);
/* utime + stime of pid in clock ticks. */
int procfs_read_process_ticks(int pid, uint64_t *ticks);
/* Rss and Pss of pid in MiB from smaps_rollup. */
int procfs_read_smaps_rollup(int pid, double *rss_mb, double *pss_mb);
/* Resident memory of pid in MiB from /proc/PID/statm: the kernel's
 * counter, read without a page-table walk. */
int procfs_read_resident(int pid, double *rss_mb);
/* The file system holding path, in MiB: its size, the space unprivileged
 * users may still take, and the used share as df(1) computes it:
 * used / (used + available) * 100, where used = size - free; the blocks
 * reserved for root count neither as used nor as available, so 100 %
 * means an unprivileged writer gets ENOSPC. */
int collector_read_disk(const char *path, double *total_mb, double *free_mb, double *used_percent);

#endif
