/* bench_spawn: the floor of the exec runner (bench/runners.py, row "exec").
 *
 * A bare loop, no daemon: posix_spawn a program (default /bin/cat) with its
 * stdin and stdout piped, write a small JSON, close stdin, read stdout to
 * EOF, waitpid.  With -j K, K such loops run in parallel threads, sharing the
 * N iterations.  Prints one JSON line:
 *   {"runs":N,"jobs":K,"seconds":S,"per_second":R,"failed":F}
 *
 *   bench_spawn [-n N] [-j K] [-- PROGRAM [ARGS...]]
 *
 * Every pipe is O_CLOEXEC, so a child spawned by one thread never holds
 * another child's stdin open (which would keep that child from seeing EOF);
 * posix_spawn's dup2 onto 0 and 1 clears the flag for the child's own ends.
 * The child gets this process's environment; its stderr is inherited.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char** environ;

static const char kInput[] = "{\"text\":\"hello actorq\",\"value\":42}";

static char** g_argv;
static long g_runs;
static atomic_long g_next;   /* iterations handed out */
static atomic_long g_failed; /* runs whose output or exit status was wrong */

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int write_all(int fd, const char* p, size_t n) {
  while (n > 0) {
    ssize_t w = write(fd, p, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      return -1;
    }
    p += w;
    n -= (size_t)w;
  }
  return 0;
}

/* One run: spawn, feed, drain, reap.  0 when the child exited 0. */
static int one_run(void) {
  int in[2], out[2];
  if (pipe2(in, O_CLOEXEC) != 0) return -1;
  if (pipe2(out, O_CLOEXEC) != 0) {
    close(in[0]);
    close(in[1]);
    return -1;
  }
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, in[0], 0);
  posix_spawn_file_actions_adddup2(&fa, out[1], 1);
  pid_t pid;
  int rc = posix_spawn(&pid, g_argv[0], &fa, NULL, g_argv, environ);
  posix_spawn_file_actions_destroy(&fa);
  close(in[0]);
  close(out[1]);
  if (rc != 0) {
    close(in[1]);
    close(out[0]);
    errno = rc;
    return -1;
  }
  int ok = write_all(in[1], kInput, sizeof kInput - 1) == 0;
  close(in[1]);
  char buf[4096];
  size_t got = 0;
  for (;;) {
    ssize_t r = read(out[0], buf, sizeof buf);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) break;
    got += (size_t)r;
  }
  close(out[0]);
  int status;
  while (waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) return -1;
  }
  if (!ok || !WIFEXITED(status) || WEXITSTATUS(status) != 0) return -1;
  (void)got; /* /bin/cat echoes the input; other programs may print anything */
  return 0;
}

static void* loop(void* arg) {
  (void)arg;
  while (atomic_fetch_add(&g_next, 1) < g_runs) {
    if (one_run() != 0) atomic_fetch_add(&g_failed, 1);
  }
  return NULL;
}

static void usage(void) {
  fprintf(stderr, "usage: bench_spawn [-n RUNS] [-j THREADS] [-- PROGRAM [ARGS...]]\n");
  exit(2);
}

int main(int argc, char** argv) {
  long runs = 2000, jobs = 1;
  int i = 1;
  for (; i < argc; ++i) {
    if (strcmp(argv[i], "--") == 0) {
      ++i;
      break;
    }
    if (strcmp(argv[i], "-n") == 0 && i + 1 < argc) runs = atol(argv[++i]);
    else if (strcmp(argv[i], "-j") == 0 && i + 1 < argc) jobs = atol(argv[++i]);
    else usage();
  }
  static char* cat_argv[] = {"/bin/cat", NULL};
  g_argv = i < argc ? argv + i : cat_argv;
  if (runs <= 0 || jobs <= 0 || jobs > 1024) usage();
  g_runs = runs;
  signal(SIGPIPE, SIG_IGN);

  pthread_t* threads = calloc((size_t)jobs, sizeof *threads);
  double t0 = now_s();
  for (long k = 0; k < jobs; ++k) {
    if (pthread_create(&threads[k], NULL, loop, NULL) != 0) {
      perror("bench_spawn: pthread_create");
      return 1;
    }
  }
  for (long k = 0; k < jobs; ++k) pthread_join(threads[k], NULL);
  double secs = now_s() - t0;
  free(threads);
  long failed = atomic_load(&g_failed);
  printf("{\"runs\":%ld,\"jobs\":%ld,\"seconds\":%.6f,\"per_second\":%.1f,\"failed\":%ld}\n",
         runs, jobs, secs, secs > 0 ? (double)runs / secs : 0.0, failed);
  return failed == runs ? 1 : 0;
}
