/* timefmt.h - real (wall-clock) time and the two text forms inferd uses
 * for it, and the monotonic clock: ISO 8601 UTC for documents, and a compact stamp for event ids.
 */
#ifndef INFERD_TIMEFMT_H
#define INFERD_TIMEFMT_H

#define TIME_ISO_LEN   32 /* "2026-12-03T18:02:04Z" and its NUL, with room */
#define TIME_STAMP_LEN 32 /* "20261203_180204_123" and its NUL, with room */

/* Unix seconds, with fractions. */
double time_unix_now(void);

/* Monotonic seconds (the libuv loop's high-resolution clock): the clock of
 * every measurement window, deadline and decision; only differences mean
 * anything. */
double time_mono_now(void);

/* "2026-12-03T18:02:04Z" (whole seconds, UTC). Returns 0, or -1 (out
 * empty) for a time that cannot be written. */
int time_format_iso(double unix_seconds, char out[TIME_ISO_LEN]);

/* "20261203_180204_123": UTC to the millisecond, for ids that sort by time. */
void time_format_stamp(double unix_seconds, char out[TIME_STAMP_LEN]);

#endif
