/* test_collector.c - the /proc, statvfs and NVML readers, and the collector
 * that runs them on libuv's thread pool, against this process and children
 * that sleep, burn a core, touch memory or die. */
#include <criterion/criterion.h>
#include <criterion/logging.h>

#include "metrics/collector.h"
#include "metrics/gpu.h"

#include <dlfcn.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <math.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define DEADLINE_MS 10000
#define TOUCH_MB    64

/* ---- children: every one is killed and reaped when its test ends ---- */

static pid_t children[32];
static size_t n_children;

static void kill_children(void)
{
    for (size_t i = 0; i < n_children; i++) {
        kill(children[i], SIGKILL);
        waitpid(children[i], NULL, 0);
    }
    n_children = 0;
}

TestSuite(collector, .fini = kill_children);

/* Forks a child that dies with the test and runs body(arg). */
static pid_t spawn(void (*body)(void *), void *arg)
{
    cr_assert_lt(n_children, sizeof(children) / sizeof(children[0]));
    pid_t pid = fork();
    cr_assert_geq(pid, 0, "fork");
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        body(arg);
        _exit(0);
    }
    children[n_children++] = pid;
    return pid;
}

static void forget_child(pid_t pid)
{
    for (size_t i = 0; i < n_children; i++) {
        if (children[i] == pid) {
            children[i] = children[--n_children];
            return;
        }
    }
}

static void body_sleep(void *arg)
{
    (void)arg;
    for (;;)
        pause();
}

static void body_exec_sleep(void *arg)
{
    (void)arg;
    execlp("sleep", "sleep", "600", (char *)NULL);
}

static void body_burn(void *arg)
{
    (void)arg;
    volatile uint64_t x = 0;
    for (;;)
        x++;
}

static void body_exit(void *arg)
{
    (void)arg;
}

static double cpu_seconds(clockid_t clock)
{
    struct timespec ts;
    clock_gettime(clock, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void burn(double seconds)
{
    double until = cpu_seconds(CLOCK_PROCESS_CPUTIME_ID) + seconds;
    volatile uint64_t x = 0;
    while (cpu_seconds(CLOCK_PROCESS_CPUTIME_ID) < until)
        x++;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0)
        ;
}

/* Two pipes to a child that touches TOUCH_MB on request. */
typedef struct toucher {
    int go[2], done[2];
} toucher_t;

static void body_touch(void *arg)
{
    toucher_t *t = arg;
    char byte;
    if (read(t->go[0], &byte, 1) != 1)
        _exit(1);
    size_t len = (size_t)TOUCH_MB << 20;
    char *m = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED)
        _exit(1);
    madvise(m, len, MADV_NOHUGEPAGE); /* 4 KiB pages, the slow case for smaps_rollup */
    memset(m, 1, len);
    if (write(t->done[1], "x", 1) != 1)
        _exit(1);
    for (;;)
        pause();
}

/* A child named name that burns 50 ms of CPU, then says so on a pipe. */
typedef struct named {
    const char *name;
    int ready[2];
} named_t;

static void body_named(void *arg)
{
    named_t *n = arg;
    prctl(PR_SET_NAME, n->name);
    burn(0.05);
    if (write(n->ready[1], "x", 1) != 1)
        _exit(1);
    for (;;)
        pause();
}

/* ---- a real loop ---- */

typedef struct result {
    int calls;
    system_sample_t sys;
    process_sample_t procs[COLLECTOR_MAX_PIDS];
    size_t n;
} result_t;

static void on_done(const system_sample_t *sys, const process_sample_t *procs, size_t n, void *ctx)
{
    result_t *r = ctx;
    r->calls++;
    r->sys = *sys;
    memcpy(r->procs, procs, n * sizeof(procs[0]));
    r->n = n;
}

static void on_deadline(uv_timer_t *t)
{
    *(bool *)t->data = true;
}

/* Runs loop until *calls reaches want or DEADLINE_MS passes. */
static void run_until(uv_loop_t *loop, const int *calls, int want)
{
    bool expired = false;
    uv_timer_t deadline;
    uv_timer_init(loop, &deadline);
    deadline.data = &expired;
    uv_timer_start(&deadline, on_deadline, DEADLINE_MS, 0);
    while (*calls < want && !expired)
        uv_run(loop, UV_RUN_ONCE);
    uv_close((uv_handle_t *)&deadline, NULL);
    uv_run(loop, UV_RUN_NOWAIT);
    cr_assert_geq(*calls, want, "no collection within %d ms", DEADLINE_MS);
}

static void collect(uv_loop_t *loop, collector_t *c, const int *pids, size_t n, result_t *r)
{
    int before = r->calls;
    cr_assert_eq(collector_collect(c, pids, n, on_done, r), 0);
    run_until(loop, &r->calls, before + 1);
    cr_assert_eq(r->n, n);
}

static void close_loop(uv_loop_t *loop)
{
    uv_run(loop, UV_RUN_DEFAULT);
    cr_assert_eq(uv_loop_close(loop), 0, "a handle or request was left on the loop");
}

/* ---- readers ---- */

Test(collector, readers_on_this_process)
{
    burn(0.05);
    uint64_t ticks = 0;
    cr_assert_eq(procfs_read_process_ticks(getpid(), &ticks), 0);
    cr_expect_gt(ticks, 0, "50 ms of CPU spent, yet no ticks");

    double rss, pss, resident;
    cr_assert_eq(procfs_read_smaps_rollup(getpid(), &rss, &pss), 0);
    cr_expect_gt(rss, 0.5);
    cr_expect_gt(pss, 0.0);
    cr_expect_leq(pss, rss + 0.01, "pss %.2f > rss %.2f", pss, rss);
    cr_assert_eq(procfs_read_resident(getpid(), &resident), 0);
    cr_expect_lt(fabs(resident - rss), 1.0 + 0.1 * rss, "statm %.2f vs smaps_rollup %.2f", resident,
                 rss);

    uint64_t total1, idle1, total2, idle2;
    cr_assert_eq(procfs_read_cpu_totals(&total1, &idle1), 0);
    burn(0.03);
    cr_assert_eq(procfs_read_cpu_totals(&total2, &idle2), 0);
    cr_expect_gt(total1, idle1);
    cr_expect_geq(total2, total1);
}

Test(collector, readers_refuse_what_is_not_there)
{
    uint64_t ticks;
    double a, b, d;
    static const int pids[] = {0, -1, INT_MAX};
    for (size_t i = 0; i < sizeof(pids) / sizeof(pids[0]); i++) {
        cr_expect_lt(procfs_read_process_ticks(pids[i], &ticks), 0, "pid %d", pids[i]);
        cr_expect_lt(procfs_read_smaps_rollup(pids[i], &a, &b), 0, "pid %d", pids[i]);
        cr_expect_lt(procfs_read_resident(pids[i], &a), 0, "pid %d", pids[i]);
    }
    cr_expect_lt(collector_read_disk("/nonexistent/inferd", &a, &b, &d), 0);
    cr_expect_lt(collector_read_disk("/proc", &a, &b, &d), 0, "proc has no disk");
    cr_expect_lt(collector_read_disk(NULL, &a, &b, &d), 0);
}

Test(collector, meminfo_is_sane)
{
    double total, available;
    cr_assert_eq(procfs_read_meminfo(&total, &available), 0);
    cr_expect_gt(total, 0.0);
    cr_expect_gt(available, 0.0);
    cr_expect_leq(available, total);
}

Test(collector, disk_of_the_working_directory_is_sane)
{
    double total, free_mb, percent;
    cr_assert_eq(collector_read_disk(".", &total, &free_mb, &percent), 0);
    cr_expect_gt(total, 0.0);
    cr_expect_geq(free_mb, 0.0);
    cr_expect_leq(free_mb, total);
    cr_expect(percent >= 0.0 && percent <= 100.0, "percent %.2f", percent);
}

Test(collector, ticks_of_a_process_whose_name_holds_blanks_and_parentheses)
{
    static const char *names[] = {"a) (b c)", "x y", ")(", "((", "1 2 3 4 5 6"};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        named_t n = {.name = names[i]};
        cr_assert_eq(pipe(n.ready), 0);
        pid_t pid = spawn(body_named, &n);
        char byte;
        cr_assert_eq(read(n.ready[0], &byte, 1), 1);
        close(n.ready[0]);
        close(n.ready[1]);

        char path[64], comm[64] = "";
        snprintf(path, sizeof(path), "/proc/%d/comm", pid);
        FILE *f = fopen(path, "r");
        cr_assert_not_null(f);
        cr_assert_not_null(fgets(comm, sizeof(comm), f));
        fclose(f);
        comm[strcspn(comm, "\n")] = '\0';
        cr_assert_str_eq(comm, names[i], "the child did not take its name");

        uint64_t ticks = 0;
        cr_expect_eq(procfs_read_process_ticks(pid, &ticks), 0, "name '%s'", names[i]);
        cr_expect_gt(ticks, 0, "name '%s': 50 ms of CPU, yet no ticks", names[i]);
        cr_expect_lt(ticks, 1000, "name '%s': ticks %llu are not utime + stime", names[i],
                     (unsigned long long)ticks);
    }
}

/* ---- the collector ---- */

Test(collector, first_collection_has_no_rates_the_second_has)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    collector_t *c = collector_new(&loop, ".");
    result_t r = {0};
    int self = getpid();
    cr_expect(isnan(collector_last_cost_us(c)));

    collect(&loop, c, &self, 1, &r);
    cr_expect(isnan(r.sys.cpu_percent), "no previous jiffies yet");
    cr_expect(isnan(r.procs[0].cpu_percent), "no previous ticks yet");
    cr_expect_eq(r.procs[0].pid, self);
    cr_expect(r.procs[0].alive);
    cr_expect_gt(r.procs[0].rss_mb, 0.0);
    cr_expect_gt(r.procs[0].pss_mb, 0.0);
    cr_expect_eq(r.procs[0].pss_age_seconds, 0.0);
    cr_expect_gt(r.sys.memory_total_mb, 0.0);
    cr_expect_leq(r.sys.memory_available_mb, r.sys.memory_total_mb);
    cr_expect(r.sys.memory_percent >= 0.0 && r.sys.memory_percent <= 100.0);
    cr_expect_gt(r.sys.disk_total_mb, 0.0);
    cr_expect(r.sys.disk_percent >= 0.0 && r.sys.disk_percent <= 100.0);

    burn(0.1); /* so that jiffies and this process's ticks move */
    collect(&loop, c, &self, 1, &r);
    cr_expect(r.sys.cpu_percent >= 0.0 && r.sys.cpu_percent <= 100.0, "machine cpu %.2f",
              r.sys.cpu_percent);
    cr_expect(r.procs[0].cpu_percent >= 0.0, "process cpu %.2f", r.procs[0].cpu_percent);
    cr_expect_eq(collector_samples(c), 2);
    cr_expect_gt(collector_last_cost_us(c), 0.0);

    collector_free(c);
    close_loop(&loop);
}

/* Time pid has spent on a CPU, in seconds, from the scheduler's own
 * nanosecond account (/proc/PID/schedstat): the truth the tick-based figure
 * is checked against. NAN without schedstat. */
static double on_cpu_seconds(int pid)
{
    char path[64], line[128];
    snprintf(path, sizeof(path), "/proc/%d/schedstat", pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return NAN;
    char *got = fgets(line, sizeof(line), f);
    fclose(f);
    char *end;
    unsigned long long ns = got ? strtoull(line, &end, 10) : 0;
    return got && end != line ? (double)ns / 1e9 : NAN;
}

Test(collector, a_burning_child_shows_one_core_a_sleeping_one_none)
{
    int pids[2];
    pids[0] = spawn(body_burn, NULL);
    pids[1] = spawn(body_sleep, NULL);
    uv_loop_t loop;
    uv_loop_init(&loop);
    collector_t *c = collector_new(&loop, ".");
    result_t r = {0};

    double on_cpu = on_cpu_seconds(pids[0]), wall = cpu_seconds(CLOCK_MONOTONIC);
    collect(&loop, c, pids, 2, &r);
    cr_expect(isnan(r.procs[0].cpu_percent));
    cr_expect(isnan(r.procs[1].cpu_percent));
    sleep_ms(500); /* the measured interval, not a wait for a condition */
    collect(&loop, c, pids, 2, &r);
    double truth =
        100.0 * (on_cpu_seconds(pids[0]) - on_cpu) / (cpu_seconds(CLOCK_MONOTONIC) - wall);
    cr_log_info("burner %.1f %% of one core (scheduler: %.1f %%), sleeper %.1f %%, machine %.1f %%",
                r.procs[0].cpu_percent, truth, r.procs[1].cpu_percent, r.sys.cpu_percent);
    /* Near 100 on an idle machine. A busy one may give the burner less of
     * its core; the scheduler's account says how much it really got. */
    cr_expect(r.procs[0].cpu_percent > 20.0 && r.procs[0].cpu_percent < 110.0,
              "burner at %.1f %% of one core", r.procs[0].cpu_percent);
    if (!isnan(truth))
        cr_expect_lt(fabs(r.procs[0].cpu_percent - truth), 10.0,
                     "burner at %.1f %%, the scheduler says %.1f %%", r.procs[0].cpu_percent,
                     truth);
    cr_expect(r.procs[1].cpu_percent >= 0.0 && r.procs[1].cpu_percent < 5.0,
              "sleeper at %.1f %% of one core", r.procs[1].cpu_percent);
    cr_expect_gt(r.sys.cpu_percent, 0.0, "a core burns, yet the machine is idle");

    collector_free(c);
    close_loop(&loop);
}

Test(collector, memory_of_a_child_that_touches_64_mib_grows_by_that)
{
    toucher_t t;
    cr_assert_eq(pipe(t.go), 0);
    cr_assert_eq(pipe(t.done), 0);
    int pid = spawn(body_touch, &t);
    uv_loop_t loop;
    uv_loop_init(&loop);
    collector_t *c = collector_new(&loop, ".");
    result_t r = {0};

    collect(&loop, c, &pid, 1, &r);
    process_sample_t before = r.procs[0];
    double rss0, pss0;
    cr_assert_eq(procfs_read_smaps_rollup(pid, &rss0, &pss0), 0);

    char byte;
    cr_assert_eq(write(t.go[1], "x", 1), 1);
    cr_assert_eq(read(t.done[0], &byte, 1), 1);

    collect(&loop, c, &pid, 1, &r);
    process_sample_t after = r.procs[0];
    double rss1, pss1;
    cr_assert_eq(procfs_read_smaps_rollup(pid, &rss1, &pss1), 0);

    cr_log_info("rss %.1f -> %.1f MiB, pss %.1f -> %.1f MiB", before.rss_mb, after.rss_mb,
                before.pss_mb, after.pss_mb);
    static const char *what[4] = {"collector rss", "collector pss", "reader rss", "reader pss"};
    double from[4] = {before.rss_mb, before.pss_mb, rss0, pss0};
    double to[4] = {after.rss_mb, after.pss_mb, rss1, pss1};
    for (size_t i = 0; i < 4; i++) {
        double grown = to[i] - from[i];
        cr_expect(grown > TOUCH_MB - 2 && grown < TOUCH_MB + 4, "%s grew by %.2f MiB", what[i],
                  grown);
    }
    cr_expect_eq(after.pss_age_seconds, 0.0);

    for (int i = 0; i < 2; i++) {
        close(t.go[i]);
        close(t.done[i]);
    }
    collector_free(c);
    close_loop(&loop);
}

Test(collector, a_dead_or_absent_pid_is_not_alive_and_has_no_figures)
{
    /* Rows: a child reaped, a child not yet reaped (zombie), pids that
     * cannot exist. */
    int reaped = spawn(body_exit, NULL);
    cr_assert_eq(waitpid(reaped, NULL, 0), reaped);
    forget_child(reaped);
    int zombie = spawn(body_exit, NULL);
    siginfo_t info;
    cr_assert_eq(waitid(P_PID, (id_t)zombie, &info, WEXITED | WNOWAIT), 0);
    const int pids[] = {reaped, zombie, INT_MAX, 0, -7};
    size_t n = sizeof(pids) / sizeof(pids[0]);

    uv_loop_t loop;
    uv_loop_init(&loop);
    collector_t *c = collector_new(&loop, ".");
    result_t r = {0};
    for (int round = 0; round < 2; round++) {
        collect(&loop, c, pids, n, &r);
        for (size_t i = 0; i < n; i++) {
            const process_sample_t *p = &r.procs[i];
            cr_expect_eq(p->pid, pids[i]);
            cr_expect_not(p->alive, "pid %d alive", pids[i]);
            cr_expect(isnan(p->cpu_percent) && isnan(p->rss_mb) && isnan(p->pss_mb) &&
                          isnan(p->pss_age_seconds),
                      "pid %d has figures", pids[i]);
        }
    }
    collector_free(c);
    close_loop(&loop);
}

Test(collector, a_pid_left_out_of_a_collection_starts_afresh)
{
    int a = spawn(body_sleep, NULL), b = spawn(body_sleep, NULL);
    const int both[] = {a, b, b};
    uv_loop_t loop;
    uv_loop_init(&loop);
    collector_t *c = collector_new(&loop, ".");
    result_t r = {0};

    collect(&loop, c, &a, 1, &r);
    collect(&loop, c, &b, 1, &r);
    collect(&loop, c, both, 3, &r);
    cr_expect(isnan(r.procs[0].cpu_percent), "a was dropped from the table");
    cr_expect_not(isnan(r.procs[1].cpu_percent), "b was in the previous collection");
    cr_expect_not(isnan(r.procs[2].cpu_percent), "a pid listed twice gets figures twice");
    collect(&loop, c, both, 3, &r);
    for (size_t i = 0; i < 3; i++)
        cr_expect_not(isnan(r.procs[i].cpu_percent), "row %zu", i);

    collector_free(c);
    close_loop(&loop);
}

Test(collector, one_collection_at_a_time)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    collector_t *c = collector_new(&loop, ".");
    result_t r = {0};
    int self = getpid();
    static int many[COLLECTOR_MAX_PIDS + 1];

    cr_assert_eq(collector_collect(c, &self, 1, on_done, &r), 0);
    cr_expect_eq(collector_collect(c, &self, 1, on_done, &r), -1, "busy");
    run_until(&loop, &r.calls, 1);
    cr_expect_eq(r.calls, 1);
    cr_expect_eq(collector_collect(c, many, COLLECTOR_MAX_PIDS + 1, on_done, &r), -1);
    cr_expect_eq(collector_collect(c, NULL, 1, on_done, &r), -1);
    cr_expect_eq(collector_collect(c, &self, 1, NULL, &r), -1);
    collect(&loop, c, NULL, 0, &r);
    cr_expect_eq(collector_samples(c), 2);

    collector_free(c);
    close_loop(&loop);
}

Test(collector, free_while_collecting_skips_the_callback)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    collector_t *c = collector_new(&loop, ".");
    result_t r = {0};
    int self = getpid();
    cr_assert_eq(collector_collect(c, &self, 1, on_done, &r), 0);
    collector_free(c);
    close_loop(&loop); /* the pending work ends; the sanitizer sees the free */
    cr_expect_eq(r.calls, 0);
}

/* Collects `left` more times from inside the callback, then frees there. */
typedef struct chain {
    collector_t *c;
    int left, calls;
    uint64_t samples;
} chain_t;

static void on_chain(const system_sample_t *sys, const process_sample_t *procs, size_t n, void *ctx)
{
    (void)sys;
    (void)procs;
    (void)n;
    chain_t *ch = ctx;
    ch->calls++;
    ch->samples = collector_samples(ch->c);
    if (ch->left-- > 0) {
        int self = getpid();
        cr_assert_eq(collector_collect(ch->c, &self, 1, on_chain, ch), 0);
        return;
    }
    collector_free(ch->c);
}

Test(collector, the_callback_may_collect_again_or_free)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    chain_t ch = {.c = collector_new(&loop, "."), .left = 2};
    int self = getpid();
    cr_assert_eq(collector_collect(ch.c, &self, 1, on_chain, &ch), 0);
    close_loop(&loop);
    cr_expect_eq(ch.calls, 3);
    cr_expect_eq(ch.samples, 3);
}

/* A callback that frees while a collection it queued is still running. */
static void on_collect_then_free(const system_sample_t *sys, const process_sample_t *procs,
                                 size_t n, void *ctx)
{
    (void)sys;
    (void)procs;
    (void)n;
    chain_t *ch = ctx;
    ch->calls++;
    int self = getpid();
    cr_assert_eq(collector_collect(ch->c, &self, 1, on_collect_then_free, ch), 0);
    collector_free(ch->c);
}

Test(collector, free_from_the_callback_after_queueing_the_next)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    chain_t ch = {.c = collector_new(&loop, ".")};
    int self = getpid();
    cr_assert_eq(collector_collect(ch.c, &self, 1, on_collect_then_free, &ch), 0);
    close_loop(&loop);
    cr_expect_eq(ch.calls, 1);
}

Test(collector, without_a_budget_pss_is_null_and_rss_comes_from_statm)
{
    int pid = spawn(body_sleep, NULL);
    uv_loop_t loop;
    uv_loop_init(&loop);
    collector_t *c = collector_new(&loop, ".");
    collector_set_pss_budget(c, 0);
    result_t r = {0};
    for (int k = 0; k < 3; k++) {
        collect(&loop, c, &pid, 1, &r);
        cr_expect(r.procs[0].alive);
        cr_expect_gt(r.procs[0].rss_mb, 0.0);
        cr_expect(isnan(r.procs[0].pss_mb) && isnan(r.procs[0].pss_age_seconds));
    }
    collector_free(c);
    close_loop(&loop);
}

/* Which of n samples has the stalest PSS: never read first (lowest index),
 * then the oldest. */
static int stalest(const process_sample_t *p, int n)
{
    int best = 0;
    for (int i = 1; i < n; i++) {
        bool never_i = isnan(p[i].pss_mb), never_best = isnan(p[best].pss_mb);
        if (never_best)
            continue;
        if (never_i || p[i].pss_age_seconds > p[best].pss_age_seconds)
            best = i;
    }
    return best;
}

Test(collector, a_small_budget_refreshes_pss_stalest_first_and_pays_its_debt)
{
    /* 2 µs per collection buys less than one read of smaps_rollup, so each
     * read leaves a debt: at most one pid is read per collection, always the
     * stalest, and some collections read none. */
    enum { N = 3, COLLECTIONS_MAX = 50000 };
    int pids[N];
    for (size_t i = 0; i < N; i++)
        pids[i] = spawn(body_sleep, NULL);
    uv_loop_t loop;
    uv_loop_init(&loop);
    collector_t *c = collector_new(&loop, ".");
    collector_set_pss_budget(c, 2);
    result_t r = {0};
    process_sample_t prev[N];
    int reads = 0, idle_collections = 0, k;
    for (k = 0; k < COLLECTIONS_MAX && reads < 2 * N; k++) {
        collect(&loop, c, pids, N, &r);
        int fresh = -1, n_fresh = 0;
        for (int i = 0; i < N; i++) {
            cr_expect_gt(r.procs[i].rss_mb, 0.0, "collection %d pid %d: rss from statm", k, i);
            if (r.procs[i].pss_age_seconds == 0.0) {
                fresh = i;
                n_fresh++;
            }
        }
        cr_assert_leq(n_fresh, 1, "collection %d read %d pids", k, n_fresh);
        if (k == 0)
            cr_assert_eq(fresh, 0, "the first collection reads the first pid");
        else if (fresh >= 0)
            cr_assert_eq(fresh, stalest(prev, N), "collection %d read pid %d", k, fresh);
        reads += n_fresh;
        idle_collections += n_fresh == 0;
        memcpy(prev, r.procs, sizeof(prev));
    }
    cr_log_info("%d reads in %d collections", reads, k);
    cr_expect_eq(reads, 2 * N, "every pid read twice within %d collections", COLLECTIONS_MAX);
    cr_expect_gt(idle_collections, 0, "a debt skips reads");
    for (int i = 0; i < N; i++)
        cr_expect_not(isnan(r.procs[i].pss_mb));
    collector_free(c);
    close_loop(&loop);
}

/* ---- GPU ---- */

Test(collector, no_gpu_here_means_unavailable_not_zero)
{
    void *nvml = dlopen("libnvidia-ml.so.1", RTLD_NOW | RTLD_NOLOAD);
    if (!nvml)
        nvml = dlopen("libnvidia-ml.so.1", RTLD_LAZY);
    if (nvml) {
        dlclose(nvml);
        cr_skip_test("NVML is installed on this machine");
    }
    gpu_reading_t g;
    gpu_read(&g);
    cr_expect_not(g.available);
    cr_expect_eq(g.devices, 0);
    cr_expect(isnan(g.utilisation_percent) && isnan(g.memory_used_mb) && isnan(g.memory_total_mb));

    uv_loop_t loop;
    uv_loop_init(&loop);
    collector_t *c = collector_new(&loop, NULL);
    result_t r = {0};
    collect(&loop, c, NULL, 0, &r);
    cr_expect_not(r.sys.gpu_available);
    cr_expect_eq(r.sys.gpu_devices, 0);
    cr_expect(isnan(r.sys.gpu_percent) && isnan(r.sys.gpu_memory_used_mb) &&
              isnan(r.sys.gpu_memory_total_mb));
    cr_expect(isnan(r.sys.disk_total_mb) && isnan(r.sys.disk_percent), "no data dir");
    collector_free(c);
    close_loop(&loop);
}

/* A fake NVML: devices as rows, each call answering from its row. */
typedef struct fake_device {
    int handle_ret, utilization_ret, memory_ret;
    unsigned gpu_percent;
    unsigned long long used_mb, total_mb;
} fake_device_t;

static const fake_device_t *fake_devices;
static unsigned fake_count;
static int fake_count_ret;

static int fake_get_count(unsigned int *count)
{
    *count = fake_count;
    return fake_count_ret;
}

static int fake_get_handle(unsigned int index, gpu_nvml_device_t *device)
{
    if (index >= fake_count)
        return 2; /* NVML_ERROR_INVALID_ARGUMENT */
    *device = (gpu_nvml_device_t)(uintptr_t)(index + 1);
    return fake_devices[index].handle_ret;
}

static const fake_device_t *fake_of(gpu_nvml_device_t device)
{
    uintptr_t i = (uintptr_t)device;
    cr_assert(i >= 1 && i <= fake_count, "a handle NVML never gave");
    return &fake_devices[i - 1];
}

static int fake_get_utilization(gpu_nvml_device_t device, gpu_nvml_utilization_t *u)
{
    const fake_device_t *d = fake_of(device);
    u->gpu = d->gpu_percent;
    u->memory = 0;
    return d->utilization_ret;
}

static int fake_get_memory(gpu_nvml_device_t device, gpu_nvml_memory_t *m)
{
    const fake_device_t *d = fake_of(device);
    m->total = d->total_mb << 20;
    m->used = d->used_mb << 20;
    m->free = m->total - m->used;
    return d->memory_ret;
}

Test(collector, gpu_figures_from_nvml_calls)
{
    static const gpu_nvml_api_t api = {
        .get_count = fake_get_count,
        .get_handle = fake_get_handle,
        .get_utilization = fake_get_utilization,
        .get_memory = fake_get_memory,
    };
    enum { OK = 0, NOT_SUPPORTED = 3, NO_PERMISSION = 4 };
    static const fake_device_t one[] = {{OK, OK, OK, 40, 1000, 16000}};
    static const fake_device_t two[] = {{OK, OK, OK, 40, 1000, 16000},
                                        {OK, OK, OK, 80, 3000, 24000}};
    static const fake_device_t util_unsupported[] = {{OK, NOT_SUPPORTED, OK, 0, 500, 8000},
                                                     {OK, OK, OK, 60, 1500, 8000}};
    static const fake_device_t memory_failing[] = {{OK, OK, NOT_SUPPORTED, 10, 0, 0},
                                                   {OK, OK, OK, 30, 1500, 8000}};
    static const fake_device_t no_handle[] = {{NO_PERMISSION, OK, OK, 90, 1, 1},
                                              {OK, OK, OK, 30, 1500, 8000}};
    static const fake_device_t nothing[] = {{OK, NOT_SUPPORTED, NOT_SUPPORTED, 0, 0, 0}};
    /* NAN in an expected column means the figure must be NAN. */
    static const struct {
        const char *situation;
        const fake_device_t *devices;
        unsigned count;
        int count_ret;
        bool available;
        double utilisation, used_mb, total_mb;
    } rows[] = {
        {"one device", one, 1, OK, true, 40, 1000, 16000},
        {"two devices: mean and sums", two, 2, OK, true, 60, 4000, 40000},
        {"no utilisation from one: mean of the other", util_unsupported, 2, OK, true, 60, 2000,
         16000},
        {"no memory from one: no partial sum", memory_failing, 2, OK, true, 20, NAN, NAN},
        {"a device we may not open", no_handle, 2, OK, true, 30, NAN, NAN},
        {"a device that reports nothing", nothing, 1, OK, true, NAN, NAN, NAN},
        {"no device", one, 0, OK, false, NAN, NAN, NAN},
        {"count fails", one, 1, 9 /* NVML_ERROR_DRIVER_NOT_LOADED */, false, NAN, NAN, NAN},
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        fake_devices = rows[i].devices;
        fake_count = rows[i].count;
        fake_count_ret = rows[i].count_ret;
        gpu_reading_t g;
        gpu_read_from(&api, &g);
        cr_expect_eq(g.available, rows[i].available, "%s", rows[i].situation);
        cr_expect_eq(g.devices, rows[i].available ? rows[i].count : 0, "%s", rows[i].situation);
        const double want[] = {rows[i].utilisation, rows[i].used_mb, rows[i].total_mb};
        const double got[] = {g.utilisation_percent, g.memory_used_mb, g.memory_total_mb};
        for (size_t k = 0; k < 3; k++) {
            if (isnan(want[k]))
                cr_expect(isnan(got[k]), "%s: figure %zu is %.2f, not null", rows[i].situation, k,
                          got[k]);
            else
                cr_expect(fabs(got[k] - want[k]) < 1e-9, "%s: figure %zu is %.2f, not %.2f",
                          rows[i].situation, k, got[k], want[k]);
        }
    }
    gpu_reading_t g;
    gpu_read_from(NULL, &g);
    cr_expect_not(g.available, "no library");
    cr_expect(isnan(g.utilisation_percent));
}

/* ---- cost ---- */

#define COST_PIDS        20 /* 10 models x 2 replicas */
#define COST_COLLECTIONS 200

Test(collector, cost_of_a_collection_of_twenty_replicas)
{
    int pids[COST_PIDS];
    for (size_t i = 0; i < COST_PIDS; i++)
        pids[i] = spawn(body_exec_sleep, NULL);
    uv_loop_t loop;
    uv_loop_init(&loop);
    collector_t *c = collector_new(&loop, ".");
    result_t r = {0};
    collect(&loop, c, pids, COST_PIDS, &r); /* warm: threads started, NVML looked for */

    struct rusage before, after;
    getrusage(RUSAGE_SELF, &before); /* every thread: the loop and the pool */
    double wall = cpu_seconds(CLOCK_MONOTONIC);
    double pool_us = 0.0;
    for (int i = 0; i < COST_COLLECTIONS; i++) {
        collect(&loop, c, pids, COST_PIDS, &r);
        pool_us += collector_last_cost_us(c);
    }
    wall = cpu_seconds(CLOCK_MONOTONIC) - wall;
    getrusage(RUSAGE_SELF, &after);
    for (size_t i = 0; i < COST_PIDS; i++)
        cr_expect(r.procs[i].alive && r.procs[i].pss_age_seconds == 0.0, "pid %zu", i);

    double cpu_us = (double)(after.ru_utime.tv_sec - before.ru_utime.tv_sec) * 1e6 +
                    (double)(after.ru_utime.tv_usec - before.ru_utime.tv_usec) +
                    (double)(after.ru_stime.tv_sec - before.ru_stime.tv_sec) * 1e6 +
                    (double)(after.ru_stime.tv_usec - before.ru_stime.tv_usec);
    double per_collection = cpu_us / COST_COLLECTIONS;
    /* One collection a second: per_collection µs of CPU per 1e6 µs. */
    double percent_of_core = per_collection / 1e6 * 100.0;
    cr_log_info("cost: %d pids, %.0f us CPU per collection (%.0f us of it on the pool), "
                "%.3f %% of one core at 1 s; wall %.0f us per collection",
                COST_PIDS, per_collection, pool_us / COST_COLLECTIONS, percent_of_core,
                wall / COST_COLLECTIONS * 1e6);
    cr_expect_lt(percent_of_core, 1.0);

    collector_free(c);
    close_loop(&loop);
}
