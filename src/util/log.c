/* log.c - stderr logger shared by the gateway and the workers.
 *
 * Each line is formatted into one buffer and written with a single write(2)
 * so that lines from the gateway and its workers, which share stderr, do not
 * interleave mid-line.
 */
#include "util/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

static log_level_t min_level = LOG_INFO;
static const char *const level_names[] = {"debug", "info", "warn", "error"};

void log_set_level(log_level_t level)
{
    min_level = level;
}

int log_parse_level(const char *name, log_level_t *out)
{
    for (int i = LOG_DEBUG; i <= LOG_ERROR; i++) {
        if (strcasecmp(name, level_names[i]) == 0) {
            *out = (log_level_t)i;
            return 0;
        }
    }
    return -1;
}

int log_enabled(log_level_t level)
{
    return level >= min_level;
}

void log_write(log_level_t level, const char *module, const char *fmt, ...)
{
    if (level < min_level)
        return;

    char line[2048];
    struct timespec now;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &now);
    gmtime_r(&now.tv_sec, &tm);

    int n = snprintf(line, sizeof(line),
                     "%-5s %04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %s: ", level_names[level],
                     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                     now.tv_nsec / 1000000, module);
    if (n < 0)
        return;

    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
    va_end(ap);
    size_t len = (size_t)n + (m < 0 ? 0 : (size_t)m);
    if (len > sizeof(line) - 2)
        len = sizeof(line) - 2;
    line[len++] = '\n';

    ssize_t ignored = write(STDERR_FILENO, line, len);
    (void)ignored;
}
