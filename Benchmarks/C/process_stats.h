/*
 * process_stats.h: what the load generators (loadgen.c, fanout.c) read about the server process
 * from /proc, and their own CPU use. Shared by the two generators only; they still share no code
 * with any server.
 */
#ifndef PROCESS_STATS_H
#define PROCESS_STATS_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

/* CPU seconds (user + system) the process has used, or -1. */
static double process_cpu_seconds(long pid) {
    char path[64], line[1024];
    snprintf(path, sizeof path, "/proc/%ld/stat", pid);
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    size_t n = fread(line, 1, sizeof line - 1, f);
    fclose(f);
    line[n] = 0;
    char *p = strrchr(line, ')'); /* the command name may contain spaces */
    if (!p) return -1;
    unsigned long utime = 0, stime = 0;
    /* After ")": state(3) ... utime is field 14, stime 15. */
    if (sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &utime, &stime) != 2) return -1;
    return (double)(utime + stime) / sysconf(_SC_CLK_TCK);
}

/* A "Name:   value kB" figure from /proc/PID/status, or -1. */
static long process_status_value(long pid, const char *name) {
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%ld/status", pid);
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    long value = -1;
    size_t name_len = strlen(name);
    while (fgets(line, sizeof line, f)) {
        if (!strncmp(line, name, name_len) && line[name_len] == ':') { value = atol(line + name_len + 1); break; }
    }
    fclose(f);
    return value;
}

static double own_cpu_seconds(void) {
    struct rusage usage;
    getrusage(RUSAGE_SELF, &usage);
    return usage.ru_utime.tv_sec + usage.ru_utime.tv_usec / 1e6 + usage.ru_stime.tv_sec + usage.ru_stime.tv_usec / 1e6;
}

#endif
