/* procfs.c - small /proc readers. Reads of /proc are served from kernel
 * memory and do not block on a disk, so the gateway may call them on its
 * loop. */
#include "metrics/procfs.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

double procfs_rss_mb(int pid)
{
    char path[64], line[256];
    if (pid > 0)
        snprintf(path, sizeof(path), "/proc/%d/status", pid);
    else
        snprintf(path, sizeof(path), "/proc/self/status");
    FILE *f = fopen(path, "r");
    if (!f)
        return -1.0;
    double mb = -1.0;
    while (fgets(line, sizeof(line), f)) {
        if (strncmp(line, "VmRSS:", 6) == 0) {
            mb = (double)strtoul(line + 6, NULL, 10) / 1024.0;
            break;
        }
    }
    fclose(f);
    return mb;
}
