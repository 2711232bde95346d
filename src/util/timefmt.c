/* timefmt.c - wall-clock time and its text forms (see timefmt.h). */
#include "util/timefmt.h"

#include <math.h>
#include <stdio.h>
#include <time.h>
#include <uv.h>

double time_unix_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int time_format_iso(double unix_seconds, char out[TIME_ISO_LEN])
{
    struct tm tm;
    out[0] = '\0';
    if (!(unix_seconds > -1e15 && unix_seconds < 1e15))
        return -1;
    time_t t = (time_t)floor(unix_seconds);
    if (!gmtime_r(&t, &tm) || strftime(out, TIME_ISO_LEN, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
        return -1;
    return 0;
}

void time_format_stamp(double unix_seconds, char out[TIME_STAMP_LEN])
{
    struct tm tm;
    double whole = floor(unix_seconds);
    time_t t = (time_t)whole;
    char day[24] = "";
    if (gmtime_r(&t, &tm))
        strftime(day, sizeof(day), "%Y%m%d_%H%M%S", &tm);
    snprintf(out, TIME_STAMP_LEN, "%s_%03d", day, (int)((unix_seconds - whole) * 1000.0));
}

double time_mono_now(void)
{
    return (double)uv_hrtime() / 1e9;
}
