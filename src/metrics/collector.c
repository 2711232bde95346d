/* collector.c - one collection of machine and replica figures, off the loop.
 *
 * collector_collect() copies the pid list into the job and queues it on
 * libuv's thread pool. The work function only reads: raw counters and, per
 * pid, the monotonic time its counters were read; it touches nothing but the
 * job. The after-work callback, back on the loop, turns counters into rates
 * against the previous collection and owns everything that spans
 * collections (the machine's previous jiffies, a small table of per-pid
 * history). So the job, handed to the pool by uv_queue_work and back by the
 * after-work callback, is the only memory two threads ever see, and never at
 * the same time; the results given to the callback live apart from it, so a
 * callback may queue the next collection while it still reads them.
 *
 * The readers below are plain blocking functions: a read of /proc is served
 * from kernel memory, but statvfs on a network file system or NVML can
 * stall, which is why a collection runs on the pool.
 */
#include "metrics/collector.h"
#include "metrics/gpu.h"
#include "util/xalloc.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#define KB_PER_MB    1024.0
#define BYTES_PER_MB (1024.0 * 1024.0)
#define NS_PER_S     1e9

/* ---- readers ---- */

/* Reads up to size - 1 bytes of path and terminates them: enough for every
 * file below but /proc/stat, of which only the first line is wanted. */
static ssize_t read_text(const char *path, char *buf, size_t size)
{
    size_t len = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    while (len + 1 < size) {
        ssize_t n = read(fd, buf + len, size - 1 - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            goto fail;
        if (n == 0)
            break;
        len += (size_t)n;
    }
    close(fd);
    buf[len] = '\0';
    return (ssize_t)len;
fail:
    close(fd);
    return -1;
}

/* Parses the unsigned decimal at *p (after blanks), advancing *p past it. */
static int parse_u64(const char **p, uint64_t *out)
{
    while (**p == ' ' || **p == '\t')
        (*p)++;
    if (**p < '0' || **p > '9')
        return -1;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(*p, &end, 10);
    if (errno != 0)
        return -1;
    *p = end;
    *out = v;
    return 0;
}

/* The value of a "Name:   1234 kB" line of a /proc file, in MiB. */
static int find_kb_field(const char *text, const char *name, double *mb)
{
    size_t name_len = strlen(name);
    for (const char *line = text; line && *line;) {
        if (strncmp(line, name, name_len) == 0 && line[name_len] == ':') {
            const char *p = line + name_len + 1;
            uint64_t kb;
            if (parse_u64(&p, &kb) != 0 || strncmp(p, " kB", 3) != 0)
                return -1;
            *mb = (double)kb / KB_PER_MB;
            return 0;
        }
        line = strchr(line, '\n');
        if (line)
            line++;
    }
    return -1;
}

int procfs_read_cpu_totals(uint64_t *total, uint64_t *idle)
{
    char buf[4096];
    if (read_text("/proc/stat", buf, sizeof(buf)) < 0 || strncmp(buf, "cpu ", 4) != 0)
        return -1;
    /* user nice system idle iowait irq softirq steal; the guest columns that
     * follow are already counted in user and nice, so they are left out. */
    uint64_t v[8];
    int n = 0;
    const char *p = buf + 4;
    while (n < 8 && *p != '\n' && parse_u64(&p, &v[n]) == 0)
        n++;
    if (n < 4)
        return -1;
    uint64_t sum = 0;
    for (int i = 0; i < n; i++)
        sum += v[i];
    *total = sum;
    *idle = v[3] + (n > 4 ? v[4] : 0);
    return 0;
}

int procfs_read_meminfo(double *total_mb, double *available_mb)
{
    char buf[8192];
    double total, available;
    if (read_text("/proc/meminfo", buf, sizeof(buf)) < 0)
        return -1;
    /* MemAvailable exists since Linux 3.14; without it the figure is unknown,
     * not MemFree, which leaves out the reclaimable page cache. */
    if (find_kb_field(buf, "MemTotal", &total) != 0 ||
        find_kb_field(buf, "MemAvailable", &available) != 0)
        return -1;
    *total_mb = total;
    *available_mb = available;
    return 0;
}

/* utime + stime, start time (tells a reused pid apart) and state of pid. */
static int read_process_stat(int pid, uint64_t *ticks, uint64_t *start, char *state)
{
    char path[64], buf[2048];
    if (pid <= 0)
        return -1;
    snprintf(path, sizeof(path), "/proc/%d/stat", pid);
    if (read_text(path, buf, sizeof(buf)) < 0)
        return -1;
    /* Field 2 is the command name in parentheses, which may itself hold
     * blanks and parentheses; the last ')' ends it. */
    const char *p = strrchr(buf, ')');
    if (!p)
        return -1;
    p++;
    uint64_t utime = 0, stime = 0, starttime = 0;
    for (int field = 3; field <= 22; field++) {
        while (*p == ' ')
            p++;
        if (field == 3) {
            if (*p == '\0')
                return -1;
            *state = *p;
        } else if (field == 14 || field == 15 || field == 22) {
            uint64_t v;
            if (parse_u64(&p, &v) != 0)
                return -1;
            if (field == 14)
                utime = v;
            else if (field == 15)
                stime = v;
            else
                starttime = v;
            continue;
        }
        /* skip a field we do not use (some are negative numbers) */
        if (*p == '\0' || *p == '\n')
            return -1;
        while (*p != ' ' && *p != '\0' && *p != '\n')
            p++;
    }
    *ticks = utime + stime;
    *start = starttime;
    return 0;
}

int procfs_read_process_ticks(int pid, uint64_t *ticks)
{
    uint64_t start;
    char state;
    return read_process_stat(pid, ticks, &start, &state);
}

int procfs_read_smaps_rollup(int pid, double *rss_mb, double *pss_mb)
{
    char path[64], buf[4096];
    double rss, pss;
    if (pid <= 0)
        return -1;
    snprintf(path, sizeof(path), "/proc/%d/smaps_rollup", pid);
    /* Empty for a zombie or a kernel thread: no memory to report. */
    if (read_text(path, buf, sizeof(buf)) <= 0)
        return -1;
    if (find_kb_field(buf, "Rss", &rss) != 0 || find_kb_field(buf, "Pss", &pss) != 0)
        return -1;
    *rss_mb = rss;
    *pss_mb = pss;
    return 0;
}

int procfs_read_resident(int pid, double *rss_mb)
{
    char path[64], buf[256];
    uint64_t size, resident;
    if (pid <= 0)
        return -1;
    snprintf(path, sizeof(path), "/proc/%d/statm", pid);
    if (read_text(path, buf, sizeof(buf)) <= 0)
        return -1;
    const char *p = buf;
    if (parse_u64(&p, &size) != 0 || parse_u64(&p, &resident) != 0)
        return -1;
    long page = sysconf(_SC_PAGESIZE);
    if (page <= 0)
        return -1;
    *rss_mb = (double)resident * (double)page / BYTES_PER_MB;
    return 0;
}

int collector_read_disk(const char *path, double *total_mb, double *free_mb, double *used_percent)
{
    struct statvfs s;
    if (!path || statvfs(path, &s) != 0)
        return -1;
    /* A file system with no blocks (proc, sysfs) has no disk to report. */
    if (s.f_blocks == 0 || s.f_bfree > s.f_blocks)
        return -1;
    double unit = (double)(s.f_frsize ? s.f_frsize : s.f_bsize);
    double used = (double)(s.f_blocks - s.f_bfree) * unit;
    double available = (double)s.f_bavail * unit;
    *total_mb = (double)s.f_blocks * unit / BYTES_PER_MB;
    *free_mb = available / BYTES_PER_MB;
    *used_percent = used + available > 0 ? 100.0 * used / (used + available) : 100.0;
    return 0;
}

static uint64_t clock_ns(clockid_t clock)
{
    struct timespec ts;
    clock_gettime(clock, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* ---- the collector ---- */

/* What the work function read for one pid. */
typedef struct pid_raw {
    int pid;
    bool alive;
    uint64_t ticks;   /* utime + stime */
    uint64_t start;   /* start time in ticks since boot */
    uint64_t read_ns; /* monotonic time of the ticks read */
    bool pss_read;    /* smaps_rollup read this time */
    uint64_t pss_ns;
    double rss_mb, pss_mb;
} pid_raw_t;

/* What the loop keeps of one pid between collections. */
typedef struct pid_history {
    int pid;
    uint64_t start, ticks, read_ns;
    double pss_mb;
    uint64_t pss_ns; /* 0: never read */
} pid_history_t;

struct collector {
    uv_loop_t *loop;
    uv_work_t work;
    char *data_dir;
    double clock_ticks; /* sysconf(_SC_CLK_TCK) */
    int64_t pss_budget_ns;
    bool busy;           /* a job is on the pool */
    bool in_callback;    /* inside done() */
    bool free_requested; /* collector_free() came while busy or in done() */
    uint64_t samples;
    double last_cost_us;

    /* The job: set by collector_collect(), filled on the pool, read by
     * collect_after(). */
    collector_done_fn done;
    void *ctx;
    size_t n;
    pid_raw_t raw[COLLECTOR_MAX_PIDS];
    uint16_t pss_order[COLLECTOR_MAX_PIDS]; /* indexes into raw, stalest PSS first */
    bool job_cpu_ok;
    uint64_t job_cpu_total, job_cpu_idle;
    system_sample_t job_sys;
    uint64_t job_cost_ns;
    int64_t job_pss_budget_ns;
    int64_t pss_credit_ns; /* the pool's alone: may go negative (a debt) */

    /* Loop-only state. */
    bool cpu_prev_ok;
    uint64_t cpu_prev_total, cpu_prev_idle;
    size_t n_history;
    pid_history_t history[COLLECTOR_MAX_PIDS];
    pid_history_t next_history[COLLECTOR_MAX_PIDS];
    system_sample_t sys;
    process_sample_t procs[COLLECTOR_MAX_PIDS];
};

collector_t *collector_new(uv_loop_t *loop, const char *data_dir)
{
    collector_t *c = xcalloc(1, sizeof(*c));
    c->loop = loop;
    c->data_dir = data_dir ? xstrdup(data_dir) : NULL;
    long tck = sysconf(_SC_CLK_TCK);
    c->clock_ticks = tck > 0 ? (double)tck : 100.0;
    c->pss_budget_ns = (int64_t)COLLECTOR_PSS_BUDGET_US * 1000;
    c->last_cost_us = NAN;
    return c;
}

static void collector_destroy(collector_t *c)
{
    free(c->data_dir);
    free(c);
}

void collector_free(collector_t *c)
{
    if (!c)
        return;
    if (c->busy) {
        /* Not started yet: the pool drops it and collect_after() sees
         * UV_ECANCELED. Running: it completes first. Either way
         * collect_after() frees. */
        c->free_requested = true;
        uv_cancel((uv_req_t *)&c->work);
        return;
    }
    if (c->in_callback) {
        c->free_requested = true;
        return;
    }
    collector_destroy(c);
}

uint64_t collector_samples(const collector_t *c)
{
    return c->samples;
}

double collector_last_cost_us(const collector_t *c)
{
    return c->last_cost_us;
}

void collector_set_pss_budget(collector_t *c, unsigned budget_us)
{
    c->pss_budget_ns = (int64_t)budget_us * 1000;
}

static const pid_history_t *find_history(const pid_history_t *h, size_t n, int pid)
{
    for (size_t i = 0; i < n; i++)
        if (h[i].pid == pid)
            return &h[i];
    return NULL;
}

static void read_system(collector_t *c)
{
    system_sample_t *s = &c->job_sys;
    c->job_cpu_ok = procfs_read_cpu_totals(&c->job_cpu_total, &c->job_cpu_idle) == 0;
    s->cpu_percent = NAN; /* a rate: collect_after() computes it */
    if (procfs_read_meminfo(&s->memory_total_mb, &s->memory_available_mb) == 0 &&
        s->memory_total_mb > 0) {
        s->memory_percent =
            100.0 * (s->memory_total_mb - s->memory_available_mb) / s->memory_total_mb;
    } else {
        s->memory_total_mb = s->memory_available_mb = s->memory_percent = NAN;
    }
    int disk =
        collector_read_disk(c->data_dir, &s->disk_total_mb, &s->disk_free_mb, &s->disk_percent);
    if (disk != 0)
        s->disk_total_mb = s->disk_free_mb = s->disk_percent = NAN;
    gpu_reading_t g;
    gpu_read(&g);
    s->gpu_available = g.available;
    s->gpu_devices = g.devices;
    s->gpu_percent = g.utilisation_percent;
    s->gpu_memory_used_mb = g.memory_used_mb;
    s->gpu_memory_total_mb = g.memory_total_mb;
}

/* On the pool. */
static void collect_work(uv_work_t *req)
{
    collector_t *c = req->data;
    uint64_t cost_start = clock_ns(CLOCK_THREAD_CPUTIME_ID);
    read_system(c);

    for (size_t i = 0; i < c->n; i++) {
        pid_raw_t *r = &c->raw[i];
        char state = '?';
        r->alive = read_process_stat(r->pid, &r->ticks, &r->start, &state) == 0 && state != 'Z' &&
                   state != 'X';
        r->read_ns = clock_ns(CLOCK_MONOTONIC);
        r->pss_read = false;
        r->rss_mb = r->pss_mb = NAN;
    }

    /* smaps_rollup, stalest first, while this collection's budget lasts. A
     * read costs what it costs (one 8 GiB replica: some 40 ms), so its
     * overrun is a debt that the next collections' budgets pay before any
     * further read: on average the reads stay within the budget whatever
     * the replicas' size, and a large replica's PSS just ages longer. */
    c->pss_credit_ns += c->job_pss_budget_ns;
    if (c->pss_credit_ns > c->job_pss_budget_ns)
        c->pss_credit_ns = c->job_pss_budget_ns;
    for (size_t k = 0; k < c->n && c->pss_credit_ns > 0; k++) {
        pid_raw_t *r = &c->raw[c->pss_order[k]];
        if (!r->alive)
            continue;
        uint64_t before = clock_ns(CLOCK_THREAD_CPUTIME_ID);
        if (procfs_read_smaps_rollup(r->pid, &r->rss_mb, &r->pss_mb) == 0) {
            r->pss_read = true;
            r->pss_ns = clock_ns(CLOCK_MONOTONIC);
        }
        c->pss_credit_ns -= (int64_t)(clock_ns(CLOCK_THREAD_CPUTIME_ID) - before);
    }
    for (size_t i = 0; i < c->n; i++) {
        pid_raw_t *r = &c->raw[i];
        if (r->alive && !r->pss_read && procfs_read_resident(r->pid, &r->rss_mb) != 0)
            r->rss_mb = NAN;
    }
    c->job_cost_ns = clock_ns(CLOCK_THREAD_CPUTIME_ID) - cost_start;
}

static double machine_cpu_percent(collector_t *c)
{
    if (!c->job_cpu_ok)
        return NAN; /* keep the old baseline: the next rate spans both intervals */
    uint64_t total = c->job_cpu_total, idle = c->job_cpu_idle;
    double percent = NAN;
    if (c->cpu_prev_ok && total == c->cpu_prev_total)
        return NAN; /* within one jiffy: no interval to measure yet */
    if (c->cpu_prev_ok && total > c->cpu_prev_total) {
        double dt = (double)(total - c->cpu_prev_total);
        /* iowait may step back on some kernels: clamp, never go negative */
        double di = idle > c->cpu_prev_idle ? (double)(idle - c->cpu_prev_idle) : 0.0;
        if (di > dt)
            di = dt;
        percent = 100.0 * (dt - di) / dt;
    }
    /* first reading, or totals went back (CPU hot-unplug): a new baseline */
    c->cpu_prev_ok = true;
    c->cpu_prev_total = total;
    c->cpu_prev_idle = idle;
    return percent;
}

static void process_figures(collector_t *c)
{
    size_t n_next = 0;
    for (size_t i = 0; i < c->n; i++) {
        const pid_raw_t *r = &c->raw[i];
        process_sample_t *p = &c->procs[i];
        *p = (process_sample_t){
            .pid = r->pid,
            .alive = r->alive,
            .cpu_percent = NAN,
            .rss_mb = NAN,
            .pss_mb = NAN,
            .pss_age_seconds = NAN,
        };
        if (!r->alive)
            continue; /* and its history is dropped */
        const pid_history_t *h = find_history(c->history, c->n_history, r->pid);
        if (h && h->start != r->start)
            h = NULL; /* the pid was reused by another process */
        if (h && r->ticks >= h->ticks && r->read_ns > h->read_ns) {
            double seconds = (double)(r->read_ns - h->read_ns) / NS_PER_S;
            p->cpu_percent = 100.0 * (double)(r->ticks - h->ticks) / c->clock_ticks / seconds;
        }
        p->rss_mb = r->rss_mb;
        double pss_mb = NAN;
        uint64_t pss_ns = 0;
        if (r->pss_read) {
            pss_mb = r->pss_mb;
            pss_ns = r->pss_ns;
            p->pss_age_seconds = 0.0;
        } else if (h && h->pss_ns != 0) {
            pss_mb = h->pss_mb;
            pss_ns = h->pss_ns;
            p->pss_age_seconds = (double)(r->read_ns - h->pss_ns) / NS_PER_S;
        }
        p->pss_mb = pss_mb;
        if (find_history(c->next_history, n_next, r->pid))
            continue; /* the same pid twice in the list */
        c->next_history[n_next++] = (pid_history_t){
            .pid = r->pid,
            .start = r->start,
            .ticks = r->ticks,
            .read_ns = r->read_ns,
            .pss_mb = pss_mb,
            .pss_ns = pss_ns,
        };
    }
    memcpy(c->history, c->next_history, n_next * sizeof(c->history[0]));
    c->n_history = n_next;
}

/* On the loop. */
static void collect_after(uv_work_t *req, int status)
{
    collector_t *c = req->data;
    c->busy = false;
    /* Only collector_free() cancels (status UV_ECANCELED), so a request to
     * free covers every status but 0. */
    (void)status;
    if (c->free_requested) {
        collector_destroy(c);
        return;
    }
    c->sys = c->job_sys;
    c->sys.cpu_percent = machine_cpu_percent(c);
    process_figures(c);
    c->samples++;
    c->last_cost_us = (double)c->job_cost_ns / 1000.0;

    size_t n = c->n;
    c->in_callback = true;
    c->done(&c->sys, c->procs, n, c->ctx);
    c->in_callback = false;
    if (c->free_requested && !c->busy)
        collector_destroy(c);
}

typedef struct pss_rank {
    uint64_t pss_ns;
    uint16_t index;
} pss_rank_t;

static int compare_rank(const void *a, const void *b)
{
    const pss_rank_t *x = a, *y = b;
    if (x->pss_ns != y->pss_ns)
        return x->pss_ns < y->pss_ns ? -1 : 1;
    return (int)x->index - (int)y->index;
}

int collector_collect(collector_t *c, const int *pids, size_t n_pids, collector_done_fn done,
                      void *ctx)
{
    if (c->busy || c->free_requested || n_pids > COLLECTOR_MAX_PIDS || (n_pids > 0 && !pids) ||
        !done)
        return -1;
    pss_rank_t rank[COLLECTOR_MAX_PIDS];
    for (size_t i = 0; i < n_pids; i++) {
        c->raw[i] = (pid_raw_t){.pid = pids[i]};
        const pid_history_t *h = find_history(c->history, c->n_history, pids[i]);
        rank[i] = (pss_rank_t){.pss_ns = h ? h->pss_ns : 0, .index = (uint16_t)i};
    }
    qsort(rank, n_pids, sizeof(rank[0]), compare_rank);
    for (size_t i = 0; i < n_pids; i++)
        c->pss_order[i] = rank[i].index;
    c->n = n_pids;
    c->job_pss_budget_ns = c->pss_budget_ns;
    c->done = done;
    c->ctx = ctx;
    c->work.data = c;
    if (uv_queue_work(c->loop, &c->work, collect_work, collect_after) != 0)
        return -1;
    c->busy = true;
    return 0;
}
