/* log.h - one line per event on stderr.
 *
 * Format: "LEVEL 2026-12-03T18:02:04.123Z module: message key=value ...".
 * The caller writes the message and its key=value pairs with printf
 * formatting; the module adds level, time and a newline.
 */
#ifndef INFERD_LOG_H
#define INFERD_LOG_H

typedef enum { LOG_DEBUG = 0, LOG_INFO, LOG_WARN, LOG_ERROR } log_level_t;

/* Sets the lowest level written (default LOG_INFO). */
void log_set_level(log_level_t level);

/* Parses "debug", "info", "warn" or "error"; returns 0, or -1 if unknown. */
int log_parse_level(const char *name, log_level_t *out);

/* Returns non-zero when a message at `level` would be written. */
int log_enabled(log_level_t level);

void log_write(log_level_t level, const char *module, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define log_debug(module, ...) log_write(LOG_DEBUG, module, __VA_ARGS__)
#define log_info(module, ...)  log_write(LOG_INFO, module, __VA_ARGS__)
#define log_warn(module, ...)  log_write(LOG_WARN, module, __VA_ARGS__)
#define log_error(module, ...) log_write(LOG_ERROR, module, __VA_ARGS__)

#endif
