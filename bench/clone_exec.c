// The floor nsjs is compared with: clone(CLONE_VM|CLONE_VFORK|SIGCHLD) on a private stack, then in
// the child either a new uts namespace (CLONE_NEWUTS on the clone) or setns() into a net namespace,
// then execve("/bin/true"); the parent waits for each exit with waitpid.
//
//   clone_exec uts <n> [inflight]
//   clone_exec net <n> <pid> [inflight]
//
// Prints one line of JSON: {"mode":..,"n":..,"inflight":..,"total_ns":..,"per_spawn_us":..}.
// With inflight > 1, up to that many children are alive at once (a new one is started as soon as
// waitpid(-1) returns one); with CLONE_VFORK the clone itself still returns only after execve.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

#define STACK_SIZE (256 * 1024)

static int net_fd = -1;
static char *const child_argv[] = {"/bin/true", NULL};

static int child(void *arg) {
  (void)arg;
  if (net_fd >= 0 && setns(net_fd, CLONE_NEWNET) != 0) _exit(126);
  execve("/bin/true", child_argv, environ);
  _exit(127);
}

static long long now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void reap_one(void) {
  int status;
  pid_t p;
  do p = waitpid(-1, &status, 0);
  while (p < 0 && errno == EINTR);
  if (p < 0) { perror("waitpid"); exit(1); }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    fprintf(stderr, "child failed: status %d\n", status);
    exit(1);
  }
}

int main(int argc, char **argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: %s uts <n> [inflight] | net <n> <pid> [inflight]\n", argv[0]);
    return 2;
  }
  int net = strcmp(argv[1], "net") == 0;
  long n = atol(argv[2]);
  int inflight = 1;
  if (net) {
    if (argc < 4) { fprintf(stderr, "net needs a pid\n"); return 2; }
    char path[64];
    snprintf(path, sizeof path, "/proc/%s/ns/net", argv[3]);
    net_fd = open(path, O_RDONLY | O_CLOEXEC);
    if (net_fd < 0) { perror(path); return 1; }
    if (argc > 4) inflight = atoi(argv[4]);
  } else if (argc > 3) {
    inflight = atoi(argv[3]);
  }
  if (inflight < 1) inflight = 1;

  char *stack = mmap(NULL, STACK_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
  if (stack == MAP_FAILED) { perror("mmap"); return 1; }
  int flags = CLONE_VM | CLONE_VFORK | SIGCHLD | (net ? 0 : CLONE_NEWUTS);

  long long t0 = now_ns();
  int alive = 0;
  for (long i = 0; i < n; i++) {
    if (alive == inflight) { reap_one(); alive--; }
    // One stack is enough: CLONE_VFORK returns only once the child has exec'ed or exited.
    pid_t pid = clone(child, stack + STACK_SIZE, flags, NULL);
    if (pid < 0) { perror("clone"); return 1; }
    alive++;
  }
  while (alive > 0) { reap_one(); alive--; }
  long long total = now_ns() - t0;
  printf("{\"mode\":\"%s\",\"n\":%ld,\"inflight\":%d,\"total_ns\":%lld,\"per_spawn_us\":%.3f}\n",
         net ? "net" : "uts", n, inflight, total, total / 1000.0 / n);
  return 0;
}
