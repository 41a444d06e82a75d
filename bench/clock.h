/* The two clocks the C programs of the bench time themselves with (included by clone_exec.c and
 * ns_ops.c, which run.mjs compiles from this directory). */
#ifndef NSJS_BENCH_CLOCK_H
#define NSJS_BENCH_CLOCK_H

#include <sys/resource.h>
#include <time.h>

static long long now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/** This process's user+system CPU, every thread; not its children's (RUSAGE_CHILDREN has those). */
static long long cpu_ns(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000000LL + (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1000LL;
}

#endif
