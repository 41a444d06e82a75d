// The floor nsjs is compared with: clone(CLONE_VM|CLONE_VFORK|SIGCHLD) on a private stack, then
// either a new uts namespace (CLONE_NEWUTS on the clone) or setns() into a net namespace in the
// child, then execve("/bin/true") with this process's environment; the parent waits for each exit.
//
//   clone_exec [--steps=LETTERS | --like-nsjs] uts <n> [inflight]
//   clone_exec [--steps=LETTERS | --like-nsjs] net <n> <pid> [inflight]
//
// Plain, it does the least a program can do for the job: one stack for all children, waitpid.
//
// --steps adds, one letter each, the system calls nsjs's spawner makes (crates/sys/src/spawn, read
// from the source, not linked), to tell the cost of the design from the cost of the Node glue:
//   S  all signals blocked around clone; in the child the reset of 62 signal dispositions, and
//      the mask cleared before execve
//   U  unshare(CLONE_NEWUTS) in the child instead of CLONE_NEWUTS on the clone
//   D  /dev/null opened per spawn for stdio 'ignore'; in the child dup3 x3 and
//      close_range(3, ~0, CLOSE_RANGE_CLOEXEC)
//   P  a CLOEXEC error pipe per spawn, read to EOF by the parent after clone
//   M  a fresh mmap'ed stack with a guard page per spawn, unmapped after clone
//   F  CLONE_PIDFD, and the exit observed as nsjs does: a reaper thread waits in epoll on a dup of
//      the pidfd, reaps with waitid(P_PIDFD) and wakes the main thread through an eventfd (as a
//      threadsafe function wakes libuv), which waits for that in epoll
//   W  CLONE_PIDFD, the pidfd waited for in the main thread's own epoll and reaped with
//      waitid(P_PIDFD): no thread hop (what a uv_poll on the pidfd would do)
// --like-nsjs is --steps=SUDPMF.
//
// Prints one line of JSON: {"mode":..,"steps":..,"n":..,"inflight":..,"total_ns":..,
// "per_spawn_us":..,"clone_call_us":..,"clone_call_p50_us":..,"clone_call_p90_us":..,
// "parent_cpu_us":..}: the mean, median and 90th percentile of the time the parent spent in clone()
// (it returns once the child has exec'ed: CLONE_VFORK), and this process's CPU per spawn
// (getrusage(RUSAGE_SELF), user+system of every thread). The vfork child is a process of its own
// from clone on (no CLONE_THREAD), so what it runs before execve is its CPU, not ours: the kernel
// adds it to our RUSAGE_CHILDREN when we reap it. With inflight = n, every child is cloned first
// and then all are reaped: the C burst.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"

#ifndef CLONE_PIDFD
#define CLONE_PIDFD 0x00001000
#endif
#ifndef P_PIDFD
#define P_PIDFD 3
#endif
#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC 4
#endif

extern char **environ;

#define STACK_SIZE (256 * 1024)
#define PAGE 4096

static char steps[16] = "";
static int has(char c) { return strchr(steps, c) != NULL; }
static int net_fd = -1;
static int uts;
static char *const child_argv[] = {"/bin/true", NULL};

// What the child needs for --steps, prepared by the parent (one child in clone at a time).
static int child_devnull = -1;
static int child_err_w = -1;

static int child(void *arg) {
  (void)arg;
  // Raw syscalls only, as nsjs's child does (no errno, no libc state on a shared mm).
  if (has('S')) {
    struct { void *handler; unsigned long flags; void *restorer; uint64_t mask; } dfl = {SIG_DFL, 0, NULL, 0};
    for (int s = 1; s <= 64; s++)
      if (s != SIGKILL && s != SIGSTOP) syscall(SYS_rt_sigaction, s, &dfl, NULL, 8);
  }
  if (net_fd >= 0 && syscall(SYS_setns, net_fd, CLONE_NEWNET) != 0) syscall(SYS_exit_group, 126);
  if (uts && has('U') && syscall(SYS_unshare, CLONE_NEWUTS) != 0) syscall(SYS_exit_group, 126);
  if (has('D')) {
    for (int fd = 0; fd < 3; fd++) syscall(SYS_dup3, child_devnull, fd, 0);
    syscall(SYS_close_range, 3, ~0U, CLOSE_RANGE_CLOEXEC);
  }
  if (has('S')) {
    uint64_t none = 0;
    syscall(SYS_rt_sigprocmask, SIG_SETMASK, &none, NULL, 8);
  }
  syscall(SYS_execve, "/bin/true", child_argv, environ);
  if (has('P')) syscall(SYS_write, child_err_w, "x", 1);
  syscall(SYS_exit_group, 127);
  return 127;
}

static void check_status(int status) {
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    fprintf(stderr, "child failed: status %d\n", status);
    exit(1);
  }
}

// ---- the reaper of --like-nsjs ----------------------------------------------------------------

static int reaper_ep = -1, wake_fd = -1, main_ep = -1;

/** Reaps the exited child behind `pidfd` (it must have exited 0) and drops it from `ep`. */
static void reap(int ep, int pidfd) {
  siginfo_t si;
  memset(&si, 0, sizeof si);
  if (syscall(SYS_waitid, P_PIDFD, pidfd, &si, WEXITED | WNOHANG, NULL) != 0 || si.si_code != CLD_EXITED || si.si_status != 0) {
    fprintf(stderr, "child failed: code %d status %d\n", si.si_code, si.si_status);
    exit(1);
  }
  epoll_ctl(ep, EPOLL_CTL_DEL, pidfd, NULL);
  close(pidfd);
}

static void *reaper(void *arg) {
  (void)arg;
  uint64_t all = ~0ULL;
  syscall(SYS_rt_sigprocmask, SIG_BLOCK, &all, NULL, 8);
  struct epoll_event evs[64];
  for (;;) {
    int n = epoll_wait(reaper_ep, evs, 64, -1);
    for (int i = 0; i < n; i++) {
      reap(reaper_ep, evs[i].data.fd);
      uint64_t one = 1;
      if (write(wake_fd, &one, 8) != 8) abort();
    }
  }
  return NULL;
}

static void start_reaper(void) {
  reaper_ep = epoll_create1(EPOLL_CLOEXEC);
  wake_fd = eventfd(0, EFD_CLOEXEC | EFD_SEMAPHORE);
  main_ep = epoll_create1(EPOLL_CLOEXEC);
  struct epoll_event ev = {.events = EPOLLIN, .data.fd = wake_fd};
  if (reaper_ep < 0 || wake_fd < 0 || main_ep < 0 || epoll_ctl(main_ep, EPOLL_CTL_ADD, wake_fd, &ev) != 0) {
    perror("reaper setup");
    exit(1);
  }
  pthread_t t;
  if (pthread_create(&t, NULL, reaper, NULL) != 0) {
    perror("pthread_create");
    exit(1);
  }
}

/** Waits for one exit: waitpid, the pidfd in our own epoll (W), or the reaper's wake-up (F). */
static int own_ep = -1;

static void wait_one(void) {
  if (has('F')) {
    struct epoll_event ev;
    while (epoll_wait(main_ep, &ev, 1, -1) < 1) {
    }
    uint64_t v;
    if (read(wake_fd, &v, 8) != 8) abort();
    return;
  }
  if (has('W')) {
    struct epoll_event ev;
    while (epoll_wait(own_ep, &ev, 1, -1) < 1) {
    }
    reap(own_ep, ev.data.fd);
    return;
  }
  int status;
  pid_t p;
  do p = waitpid(-1, &status, 0);
  while (p < 0 && errno == EINTR);
  if (p < 0) {
    perror("waitpid");
    exit(1);
  }
  check_status(status);
}

// ---- one spawn -----------------------------------------------------------------------------------

static char *shared_stack;
static long long clone_ns;
static long long *call_ns; // per spawn, for the percentiles
static long ncalls;

static void spawn_one(void) {
  int flags = CLONE_VM | CLONE_VFORK | SIGCHLD;
  if (uts && !has('U')) flags |= CLONE_NEWUTS;
  if (has('F') || has('W')) flags |= CLONE_PIDFD;
  if (has('D')) {
    child_devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
    if (child_devnull < 0) {
      perror("/dev/null");
      exit(1);
    }
  }
  int err[2] = {-1, -1};
  if (has('P')) {
    if (pipe2(err, O_CLOEXEC) != 0) {
      perror("pipe2");
      exit(1);
    }
    child_err_w = err[1];
  }
  char *top;
  char *stack = NULL;
  if (has('M')) {
    stack = mmap(NULL, STACK_SIZE + PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
    if (stack == MAP_FAILED || mprotect(stack, PAGE, PROT_NONE) != 0) {
      perror("mmap");
      exit(1);
    }
    top = stack + PAGE + STACK_SIZE;
  } else {
    // One stack is enough: CLONE_VFORK returns only once the child has exec'ed or exited.
    top = shared_stack + STACK_SIZE;
  }
  uint64_t all = ~0ULL, old = 0;
  if (has('S')) syscall(SYS_rt_sigprocmask, SIG_SETMASK, &all, &old, 8);
  int pidfd = -1;
  long long t = now_ns();
  pid_t pid = clone(child, top, flags, NULL, &pidfd);
  long long d = now_ns() - t;
  clone_ns += d;
  call_ns[ncalls++] = d;
  if (has('S')) syscall(SYS_rt_sigprocmask, SIG_SETMASK, &old, NULL, 8);
  if (pid < 0) {
    perror("clone");
    exit(1);
  }
  if (has('P')) {
    close(err[1]);
    char b;
    if (read(err[0], &b, 1) != 0) {
      fprintf(stderr, "child failed before exec\n");
      exit(1);
    }
    close(err[0]);
  }
  if (stack) munmap(stack, STACK_SIZE + PAGE);
  if (has('D')) close(child_devnull);
  if (has('F')) {
    int dup = fcntl(pidfd, F_DUPFD_CLOEXEC, 3);
    struct epoll_event ev = {.events = EPOLLIN, .data.fd = dup};
    if (dup < 0 || epoll_ctl(reaper_ep, EPOLL_CTL_ADD, dup, &ev) != 0) {
      perror("watch");
      exit(1);
    }
    // nsjs keeps its own pidfd until the exit callback; closing it here changes nothing measurable.
    close(pidfd);
  } else if (has('W')) {
    struct epoll_event ev = {.events = EPOLLIN, .data.fd = pidfd};
    if (epoll_ctl(own_ep, EPOLL_CTL_ADD, pidfd, &ev) != 0) {
      perror("watch");
      exit(1);
    }
  }
}

static int cmp_ll(const void *a, const void *b) {
  long long x = *(const long long *)a, y = *(const long long *)b;
  return x < y ? -1 : x > y;
}

int main(int argc, char **argv) {
  int a = 1;
  if (a < argc && strcmp(argv[a], "--like-nsjs") == 0) {
    strcpy(steps, "SUDPMF");
    a++;
  } else if (a < argc && strncmp(argv[a], "--steps=", 8) == 0) {
    snprintf(steps, sizeof steps, "%s", argv[a] + 8);
    if (strspn(steps, "SUDPMFW") != strlen(steps) || (has('F') && has('W'))) {
      fprintf(stderr, "--steps: letters of SUDPMF or SUDPMW\n");
      return 2;
    }
    a++;
  }
  if (argc - a < 2) {
    fprintf(stderr, "usage: %s [--steps=LETTERS|--like-nsjs] uts <n> [inflight] | net <n> <pid> [inflight]\n", argv[0]);
    return 2;
  }
  int net = strcmp(argv[a], "net") == 0;
  uts = !net;
  long n = atol(argv[a + 1]);
  int inflight = 1;
  if (net) {
    if (argc - a < 3) {
      fprintf(stderr, "net needs a pid\n");
      return 2;
    }
    char path[64];
    snprintf(path, sizeof path, "/proc/%s/ns/net", argv[a + 2]);
    net_fd = open(path, O_RDONLY | O_CLOEXEC);
    if (net_fd < 0) {
      perror(path);
      return 1;
    }
    if (argc - a > 3) inflight = atoi(argv[a + 3]);
  } else if (argc - a > 2) {
    inflight = atoi(argv[a + 2]);
  }
  if (n < 1) n = 1;
  if (inflight < 1) inflight = 1;

  shared_stack = mmap(NULL, STACK_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
  if (shared_stack == MAP_FAILED) {
    perror("mmap");
    return 1;
  }
  call_ns = calloc(n, sizeof *call_ns);
  if (!call_ns) {
    perror("calloc");
    return 1;
  }
  if (has('F')) start_reaper();
  if (has('W')) own_ep = epoll_create1(EPOLL_CLOEXEC);

  long long cpu0 = cpu_ns();
  long long t0 = now_ns();
  int alive = 0;
  for (long i = 0; i < n; i++) {
    if (alive == inflight) {
      wait_one();
      alive--;
    }
    spawn_one();
    alive++;
  }
  while (alive > 0) {
    wait_one();
    alive--;
  }
  long long total = now_ns() - t0;
  long long cpu = cpu_ns() - cpu0;
  qsort(call_ns, ncalls, sizeof *call_ns, cmp_ll);
  printf("{\"mode\":\"%s\",\"steps\":\"%s\",\"n\":%ld,\"inflight\":%d,\"total_ns\":%lld,\"per_spawn_us\":%.3f,\"clone_call_us\":%.3f,\"clone_call_p50_us\":%.3f,\"clone_call_p90_us\":%.3f,\"parent_cpu_us\":%.3f}\n",
         net ? "net" : "uts", steps, n, inflight, total, total / 1000.0 / n, clone_ns / 1000.0 / n,
         call_ns[ncalls / 2] / 1000.0, call_ns[ncalls * 9 / 10] / 1000.0, cpu / 1000.0 / n);
  return 0;
}
