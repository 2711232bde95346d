/* procfs.h - readings from /proc for the process and machine figures
 * inferd reports. Each returns a negative value when the file cannot be
 * read, so a caller reports null instead of inventing a number. */
#ifndef INFERD_PROCFS_H
#define INFERD_PROCFS_H

/* Resident memory (VmRSS) of process pid in MiB; pid 0 = this process. */
double procfs_rss_mb(int pid);

#endif
