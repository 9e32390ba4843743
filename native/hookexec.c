/*
 * netevd-hookexec: runs one hook script and makes sure nothing of it outlives the run.
 *
 *   netevd-hookexec [-n] [-g GRACE_MS] -- PATH
 *
 * The environment is passed on to the script as is (the caller built and validated it). Steps:
 *   - every fd above 2 is closed: the script gets stdin/stdout/stderr and nothing else;
 *   - -n sets NoNewPrivs (setuid/setgid bits and file capabilities give nothing);
 *   - the inheritable set is reduced to the ambient set, so a script keeps exactly the capabilities
 *     the caller put in the ambient set (none by default);
 *   - this process becomes a child subreaper: whatever the script starts, even after setsid(2) or a
 *     double fork, is reparented here when its parent dies, and can be found and killed;
 *   - the script is executed by its path with argv = [PATH], in its own process group, so `$0` is
 *     its real path.
 * When the script exits, every descendant left gets SIGKILL. On SIGTERM (the caller's timeout or
 * stop; also sent by the kernel if the caller dies, PR_SET_PDEATHSIG) every descendant gets SIGTERM,
 * and SIGKILL GRACE_MS later. It exits only when no descendant is left, with the script's status
 * (exit code, or killed by the same signal). An exec failure is reported on stderr, exit 127.
 *
 * Small, single-threaded, no allocation after start: it runs as the hook's user (root for root hooks).
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef PR_CAP_AMBIENT
#define PR_CAP_AMBIENT 47
#define PR_CAP_AMBIENT_IS_SET 1
#endif
#ifndef CLOSE_RANGE_UNSHARE
#define CLOSE_RANGE_UNSHARE 2
#endif

static const char *prog = "netevd-hookexec";

static void die(const char *what) {
  fprintf(stderr, "%s: %s: %s\n", prog, what, strerror(errno));
  exit(127);
}

static void close_fds_from(int lowfd) {
#ifdef SYS_close_range
  if (syscall(SYS_close_range, (unsigned)lowfd, ~0U, 0) == 0) return;
#endif
  long max = sysconf(_SC_OPEN_MAX);
  if (max < 0 || max > 1 << 20) max = 1 << 20;
  for (long fd = lowfd; fd < max; fd++) close((int)fd);
}

/*
 * inheritable := inheritable & ambient (dropping inheritable capabilities needs no privilege).
 * If a seccomp filter refuses capset (EPERM) and NoNewPrivs is set, go on: with NoNewPrivs, no
 * file capabilities and an empty permitted set, an inheritable capability can give the script
 * nothing (it could only be raised into the ambient set from the permitted set).
 */
static void limit_inheritable(int nnp) {
  struct __user_cap_header_struct hdr = {_LINUX_CAPABILITY_VERSION_3, 0};
  struct __user_cap_data_struct data[2];
  memset(data, 0, sizeof data);
  if (syscall(SYS_capget, &hdr, data) < 0) die("capget");
  unsigned long long amb = 0;
  for (int cap = 0; cap < 64; cap++) {
    int r = prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_IS_SET, (unsigned long)cap, 0, 0);
    if (r == 1) amb |= 1ULL << cap;
    else if (r < 0) break; /* EINVAL: past the last capability this kernel knows */
  }
  data[0].inheritable &= (unsigned)(amb & 0xffffffffu);
  data[1].inheritable &= (unsigned)(amb >> 32);
  if (syscall(SYS_capset, &hdr, data) < 0 && !(nnp && errno == EPERM)) die("capset");
}

/* Send sig to every process whose chain of parents reaches us (found through /proc). */
static void signal_descendants(pid_t self, int sig) {
  enum { MAXP = 32768 };
  static pid_t pids[MAXP], ppids[MAXP];
  int n = 0;
  DIR *d = opendir("/proc");
  if (!d) return;
  struct dirent *e;
  while ((e = readdir(d)) != NULL && n < MAXP) {
    if (e->d_name[0] < '1' || e->d_name[0] > '9') continue;
    char path[300], buf[512];
    snprintf(path, sizeof path, "/proc/%s/stat", e->d_name);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) continue;
    ssize_t len = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (len <= 0) continue;
    buf[len] = 0;
    char *rp = strrchr(buf, ')');
    if (!rp) continue;
    char state = 0;
    int ppid = 0;
    if (sscanf(rp + 1, " %c %d", &state, &ppid) != 2) continue;
    pids[n] = (pid_t)atoi(e->d_name);
    ppids[n] = (pid_t)ppid;
    n++;
  }
  closedir(d);
  /* mark descendants: repeat until no new one is found (the list is in pid order, not tree order) */
  static unsigned char mark[MAXP];
  memset(mark, 0, sizeof mark);
  for (int changed = 1; changed;) {
    changed = 0;
    for (int i = 0; i < n; i++) {
      if (mark[i]) continue;
      int parent_marked = ppids[i] == self;
      for (int j = 0; !parent_marked && j < n; j++) parent_marked = mark[j] && pids[j] == ppids[i];
      if (parent_marked) { mark[i] = 1; changed = 1; }
    }
  }
  for (int i = 0; i < n; i++)
    if (mark[i]) kill(pids[i], sig);
}

static long long now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int main(int argc, char **argv) {
  int nnp = 0;
  long grace_ms = 2000;
  int opt;
  while ((opt = getopt(argc, argv, "+ng:")) != -1) {
    if (opt == 'n') nnp = 1;
    else if (opt == 'g') grace_ms = strtol(optarg, NULL, 10);
    else { fprintf(stderr, "usage: %s [-n] [-g GRACE_MS] -- PATH\n", prog); return 127; }
  }
  if (optind != argc - 1 || argv[optind][0] != '/' || grace_ms < 0) {
    fprintf(stderr, "usage: %s [-n] [-g GRACE_MS] -- PATH (absolute)\n", prog);
    return 127;
  }
  const char *path = argv[optind];

  close_fds_from(3);
  if (nnp && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) die("prctl(PR_SET_NO_NEW_PRIVS)");
  limit_inheritable(nnp);
  if (prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) < 0) die("prctl(PR_SET_CHILD_SUBREAPER)");

  sigset_t set, old;
  sigemptyset(&set);
  sigaddset(&set, SIGCHLD);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGHUP);
  if (sigprocmask(SIG_BLOCK, &set, &old) < 0) die("sigprocmask");
  /* the caller dying (even SIGKILL) ends the run like a stop */
  pid_t parent = getppid();
  if (prctl(PR_SET_PDEATHSIG, SIGTERM, 0, 0, 0) < 0) die("prctl(PR_SET_PDEATHSIG)");
  if (getppid() != parent) kill(getpid(), SIGTERM);

  int errpipe[2];
  if (pipe2(errpipe, O_CLOEXEC) < 0) die("pipe2");
  pid_t self = getpid();
  pid_t child = fork();
  if (child < 0) die("fork");
  if (child == 0) {
    close(errpipe[0]);
    setpgid(0, 0);
    prctl(PR_SET_PDEATHSIG, 0, 0, 0, 0);
    signal(SIGPIPE, SIG_DFL);
    sigprocmask(SIG_SETMASK, &old, NULL);
    char *const cargv[] = {(char *)path, NULL};
    execv(path, cargv);
    int e = errno;
    if (write(errpipe[1], &e, sizeof e) < 0) { /* nothing more to do */ }
    _exit(127);
  }
  close(errpipe[1]);
  int exec_errno = 0;
  if (read(errpipe[0], &exec_errno, sizeof exec_errno) == (ssize_t)sizeof exec_errno)
    fprintf(stderr, "%s: cannot execute %s: %s\n", prog, path, strerrorname_np(exec_errno) ? strerrorname_np(exec_errno) : strerror(exec_errno));
  close(errpipe[0]);

  int main_status = 0, main_done = 0, terminating = 0, killing = 0;
  long long kill_at = 0;
  for (;;) {
    /* reap everything that has exited */
    for (;;) {
      int st;
      pid_t p = waitpid(-1, &st, WNOHANG);
      if (p == child) { main_status = st; main_done = 1; }
      if (p > 0) continue;
      if (p < 0 && errno == ECHILD && main_done) {
        /* nobody left: leave with the script's status */
        if (exec_errno) return 127;
        if (WIFEXITED(main_status)) return WEXITSTATUS(main_status);
        int sig = WTERMSIG(main_status);
        struct rlimit no_core = {0, 0};
        setrlimit(RLIMIT_CORE, &no_core);
        signal(sig, SIG_DFL);
        sigset_t one;
        sigemptyset(&one);
        sigaddset(&one, sig);
        sigprocmask(SIG_UNBLOCK, &one, NULL);
        kill(self, sig);
        return 128 + sig;
      }
      break;
    }
    if (main_done && !killing) killing = 1; /* the script is gone: what it left behind goes now */
    if (terminating && !killing && now_ms() >= kill_at) killing = 1;
    if (killing) signal_descendants(self, SIGKILL);

    struct timespec ts = {0, 0};
    if (killing) ts.tv_nsec = 20 * 1000000L; /* poll: orphans keep arriving until none is left */
    else if (terminating) {
      long long left = kill_at - now_ms();
      if (left < 0) left = 0;
      ts.tv_sec = left / 1000;
      ts.tv_nsec = (left % 1000) * 1000000L;
    } else ts.tv_sec = 3600;
    siginfo_t si;
    int sig = sigtimedwait(&set, &si, &ts);
    if (sig == SIGTERM || sig == SIGINT || sig == SIGHUP) {
      if (!terminating) {
        terminating = 1;
        kill_at = now_ms() + grace_ms;
        signal_descendants(self, SIGTERM);
      }
    }
  }
}
