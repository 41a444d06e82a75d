// The C floor of nsjs's handle operations, for `npm run bench` (bench/README.md, issue 12):
//
//   ns_ops setns <n> <pid>    setns(target, CLONE_NEWNET) then setns(home, CLONE_NEWNET) on this one
//                             thread, n times; both descriptors opened once before (joinSync there
//                             and back, run(() => 0))
//   ns_ops open <n> <pid>     pidfd_open(pid) + ioctl(pidfd, PIDFD_GET_NET_NAMESPACE, 0) + close of
//                             both, n times: safe against pid reuse, as Namespace.open(pid, 'net')
//   ns_ops openall <n> <pid>  pidfd_open(pid) + the 8 PIDFD_GET_<TYPE>_NAMESPACE ioctls + close of
//                             the 9 descriptors, n times, as Namespace.openAll(pid)
//
// Prints one line of JSON: {"mode":..,"n":..,"total_ns":..,"per_op_us":..,"parent_cpu_us":..}
// (parent_cpu_us: getrusage(RUSAGE_SELF) user+system over the loop, divided by n).
#define _GNU_SOURCE
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"

// PIDFD_GET_<TYPE>_NAMESPACE (Linux 6.11): _IO(0xFF, nr), in nsenter's order as crates/sys lists them.
static const unsigned long pidfd_ns_ioctls[8] = {
    (0xFF << 8) | 9,  // user
    (0xFF << 8) | 1,  // cgroup
    (0xFF << 8) | 2,  // ipc
    (0xFF << 8) | 10, // uts
    (0xFF << 8) | 4,  // net
    (0xFF << 8) | 5,  // pid
    (0xFF << 8) | 3,  // mnt
    (0xFF << 8) | 7,  // time
};
#define PIDFD_GET_NET_NAMESPACE ((0xFF << 8) | 4)

static void die(const char *what) {
  perror(what);
  exit(1);
}

static int open_or_die(const char *path) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) die(path);
  return fd;
}

int main(int argc, char **argv) {
  if (argc < 4) {
    fprintf(stderr, "usage: %s setns|open|openall <n> <pid>\n", argv[0]);
    return 2;
  }
  const char *mode = argv[1];
  long n = atol(argv[2]);
  int pid = atoi(argv[3]);
  if (n < 1 || pid < 1) {
    fprintf(stderr, "bad n or pid\n");
    return 2;
  }
  int target = -1, home = -1;
  if (strcmp(mode, "setns") == 0) {
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/ns/net", pid);
    target = open_or_die(path);
    home = open_or_die("/proc/thread-self/ns/net");
  } else if (strcmp(mode, "open") != 0 && strcmp(mode, "openall") != 0) {
    fprintf(stderr, "unknown mode %s\n", mode);
    return 2;
  }

  long long cpu0 = cpu_ns();
  long long t0 = now_ns();
  for (long i = 0; i < n; i++) {
    if (target >= 0) {
      if (setns(target, CLONE_NEWNET) != 0) die("setns there");
      if (setns(home, CLONE_NEWNET) != 0) die("setns back");
      continue;
    }
    int pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
    if (pidfd < 0) die("pidfd_open");
    if (mode[4] == '\0') {
      int fd = ioctl(pidfd, PIDFD_GET_NET_NAMESPACE, 0);
      if (fd < 0) die("ioctl PIDFD_GET_NET_NAMESPACE");
      close(fd);
    } else {
      int fds[8];
      for (int t = 0; t < 8; t++)
        if ((fds[t] = ioctl(pidfd, pidfd_ns_ioctls[t], 0)) < 0) die("ioctl PIDFD_GET_*_NAMESPACE");
      for (int t = 0; t < 8; t++) close(fds[t]);
    }
    close(pidfd);
  }
  long long total = now_ns() - t0;
  long long cpu = cpu_ns() - cpu0;
  printf("{\"mode\":\"%s\",\"n\":%ld,\"total_ns\":%lld,\"per_op_us\":%.3f,\"parent_cpu_us\":%.3f}\n", mode, n, total,
         total / 1000.0 / n, cpu / 1000.0 / n);
  return 0;
}
