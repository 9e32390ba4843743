/*
 * netevd-hookexec: runs one hook script and makes sure nothing of it outlives the run.
 *
 *   netevd-hookexec [-n] [-g GRACE_MS] -- PATH
 *   netevd-hookexec -s        (the launcher: runs on request, see serve() below)
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
 * Small, single-threaded: it runs as the hook's user (root for root hooks).
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <poll.h>
#include <stdint.h>
#include <sys/signalfd.h>
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

/*
 * The supervisor's own set-up, before it forks the script's process: a child subreaper, the
 * signals it waits for blocked (the previous mask in *old, for the script), and SIGTERM when its
 * parent dies (the caller dying, even by SIGKILL, ends the run like a stop).
 */
static void supervisor_setup(sigset_t *old) {
  if (prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) < 0) die("prctl(PR_SET_CHILD_SUBREAPER)");
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGCHLD);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGHUP);
  if (sigprocmask(SIG_BLOCK, &set, old) < 0) die("sigprocmask");
  pid_t parent = getppid();
  if (prctl(PR_SET_PDEATHSIG, SIGTERM, 0, 0, 0) < 0) die("prctl(PR_SET_PDEATHSIG)");
  if (getppid() != parent) kill(getpid(), SIGTERM);
}

/* In the script's process, right before the exec: own process group, default signal state. */
static void script_setup(const sigset_t *old) {
  setpgid(0, 0);
  prctl(PR_SET_PDEATHSIG, 0, 0, 0, 0);
  signal(SIGPIPE, SIG_DFL);
  sigprocmask(SIG_SETMASK, old, NULL);
}

static const char *errname(int e) {
  return strerrorname_np(e) ? strerrorname_np(e) : strerror(e);
}

static void supervise_loop(pid_t child, int exec_errno, long grace_ms) __attribute__((noreturn));

/*
 * Run `path` with argv [path] and environment envp, supervise it and everything it starts, and exit
 * with its status (see the top of the file). Never returns. fds 0-2 are the script's.
 */
static void supervise(const char *path, char *const envp[], int nnp, long grace_ms) {
  close_fds_from(3);
  if (nnp && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) die("prctl(PR_SET_NO_NEW_PRIVS)");
  limit_inheritable(nnp);
  sigset_t old;
  supervisor_setup(&old);

  int errpipe[2];
  if (pipe2(errpipe, O_CLOEXEC) < 0) die("pipe2");
  pid_t child = fork();
  if (child < 0) die("fork");
  if (child == 0) {
    close(errpipe[0]);
    script_setup(&old);
    char *const cargv[] = {(char *)path, NULL};
    execve(path, cargv, envp);
    int e = errno;
    if (write(errpipe[1], &e, sizeof e) < 0) { /* nothing more to do */ }
    _exit(127);
  }
  close(errpipe[1]);
  int exec_errno = 0;
  if (read(errpipe[0], &exec_errno, sizeof exec_errno) == (ssize_t)sizeof exec_errno)
    fprintf(stderr, "%s: cannot execute %s: %s\n", prog, path, errname(exec_errno));
  close(errpipe[0]);
  supervise_loop(child, exec_errno, grace_ms);
}

/* Wait for the script and everything it started; exit with its status. */
static void supervise_loop(pid_t child, int exec_errno, long grace_ms) {
  pid_t self = getpid();
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGCHLD);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGHUP);
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
        if (exec_errno) _exit(127);
        if (WIFEXITED(main_status)) _exit(WEXITSTATUS(main_status));
        int sig = WTERMSIG(main_status);
        struct rlimit no_core = {0, 0};
        setrlimit(RLIMIT_CORE, &no_core);
        signal(sig, SIG_DFL);
        sigset_t one;
        sigemptyset(&one);
        sigaddset(&one, sig);
        sigprocmask(SIG_UNBLOCK, &one, NULL);
        kill(self, sig);
        _exit(128 + sig);
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

/* ---- the launcher (-s): one long-lived process per daemon that starts the runs it is asked for.
 *
 * The daemon (a big Node process) would otherwise fork itself for every run; this process is small.
 * It runs as the daemon's user with the daemon's ambient capabilities, like the per-run launcher
 * did. Each run's supervisor is a child of this process that does what the per-run launcher above
 * does (fds closed, NoNewPrivs and the inheritable limit for the script, subreaper, argv [path],
 * the same supervise_loop()); its stdout and stderr come back here through two pipes and go to the
 * daemon as frames over stdout, followed by its exit status once it and everything it started are
 * gone.
 *
 * Requests (stdin), each: u32 length of the rest (little-endian), u8 type, then
 *   RUN  (1): u32 id, u8 nnp, path NUL, then the environment as "NAME=value" NUL ...
 *   KILL (2): u32 id, u8 signal (SIGTERM: end the run as a timeout does; SIGKILL: the backstop)
 * Replies (stdout), each: u32 length of the rest, u8 type, u32 id, then
 *   OUT (1) / ERR (2): bytes of the run's stdout / stderr
 *   EXIT (3): i32 wait status of the run's supervisor (it mirrors the script's)
 *   FAIL (4): i32 errno: the run could not be started (pipe, fork)
 * -g GRACE_MS applies to every run. A spare run (see `spare` below) is kept ready, so that a request
 * costs no fork before the script's exec.
 * EOF on stdin (the daemon closed it or died; PR_SET_PDEATHSIG covers SIGKILL too) ends this
 * process; every run then gets SIGTERM from its own PR_SET_PDEATHSIG and ends as at a stop.
 */
enum { REQ_RUN = 1, REQ_KILL = 2, REP_OUT = 1, REP_ERR = 2, REP_EXIT = 3, REP_FAIL = 4 };
/* A request larger than this is a broken daemon (environments fit execve's limits, a few MiB). */
#define MAX_REQUEST (16u << 20)
#define MAX_RUNS 4096

struct run { uint32_t id; pid_t pid; int fd[2]; };
static struct run runs[MAX_RUNS];
static int nruns;

static uint32_t get32(const unsigned char *b) {
  return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
}
static void put32(unsigned char *b, uint32_t v) {
  b[0] = (unsigned char)v; b[1] = (unsigned char)(v >> 8); b[2] = (unsigned char)(v >> 16); b[3] = (unsigned char)(v >> 24);
}

static void write_all(int fd, const void *buf, size_t len) {
  const char *p = buf;
  while (len > 0) {
    ssize_t w = write(fd, p, len);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) _exit(0); /* the daemon is gone: so are we (the runs get SIGTERM) */
    p += w;
    len -= (size_t)w;
  }
}

static void reply(int type, uint32_t id, const void *data, uint32_t len) {
  unsigned char h[9];
  put32(h, 5 + len);
  h[4] = (unsigned char)type;
  put32(h + 5, id);
  if (len == 0) { write_all(1, h, sizeof h); return; }
  static unsigned char frame[9 + 65536];
  memcpy(frame, h, sizeof h);
  memcpy(frame + sizeof h, data, len); /* one write: a frame is never split by a short pipe write of another */
  write_all(1, frame, sizeof h + len);
}

static void reply_int(int type, uint32_t id, int32_t v) {
  unsigned char b[4];
  put32(b, (uint32_t)v);
  reply(type, id, b, 4);
}

/* Forward what the run's pipe holds now; returns 0 at EOF (the fd is closed then). */
static int forward(struct run *r, int which) {
  static unsigned char buf[65536];
  for (;;) {
    ssize_t n = read(r->fd[which], buf, sizeof buf);
    if (n > 0) { reply(which == 0 ? REP_OUT : REP_ERR, r->id, buf, (uint32_t)n); continue; }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) return 1;
    close(r->fd[which]);
    r->fd[which] = -1;
    return 0;
  }
}

/*
 * The spare: a supervisor forked ahead of time, whose script process is forked already too and
 * waits for its request (NoNewPrivs flag, path, environment) on a pipe. A run then costs no fork
 * on its way to the exec: the waiting process reads the request and execs at once. A new spare is
 * made right after it is taken.
 */
static struct { pid_t pid; int req; int fd[2]; } spare = {-1, -1, {-1, -1}};
static long grace_ms_all = 2000;
static sigset_t serve_origmask;

/* The waiting script process: read the request from fd 3 until EOF, then exec (never returns). */
static void spare_script(const sigset_t *old) {
  /* until the exec: dies with its supervisor, and of SIGTERM (the mask the script gets) */
  prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
  sigprocmask(SIG_SETMASK, old, NULL);
  size_t cap = 65536, have = 0;
  char *buf = malloc(cap);
  if (!buf) _exit(127);
  for (;;) {
    if (have == cap) {
      if (cap > MAX_REQUEST) _exit(127);
      cap *= 2;
      char *nb = realloc(buf, cap);
      if (!nb) _exit(127);
      buf = nb;
    }
    ssize_t r = read(3, buf + have, cap - have);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) break;
    have += (size_t)r;
  }
  close(3);
  /* nothing (the spare is retired), or not a request: exit quietly */
  if (have < 3 || buf[have - 1] != 0 || buf[1] != '/') _exit(0);
  int nnp = buf[0] != 0;
  const char *path = buf + 1;
  char *end = buf + have;
  size_t nenv = 0;
  for (char *q = buf + 1 + strlen(path) + 1; q < end; q += strlen(q) + 1) nenv++;
  char **envp = calloc(nenv + 1, sizeof *envp);
  if (!envp) die("calloc");
  size_t k = 0;
  for (char *q = buf + 1 + strlen(path) + 1; q < end; q += strlen(q) + 1) envp[k++] = q;
  if (nnp && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) die("prctl(PR_SET_NO_NEW_PRIVS)");
  limit_inheritable(nnp);
  script_setup(old);
  char *const cargv[] = {(char *)path, NULL};
  execve(path, cargv, envp);
  fprintf(stderr, "%s: cannot execute %s: %s\n", prog, path, errname(errno));
  _exit(127);
}

static void close_pair(int p[2]) {
  if (p[0] >= 0) close(p[0]);
  if (p[1] >= 0) close(p[1]);
}

/* Fork a supervisor for a run: its stdout/stderr pipes in fd[], req: the spare's request pipe. */
static pid_t fork_supervisor(int fd[2], int *req, const char *path, char *const envp[], int nnp) {
  int out[2] = {-1, -1}, err[2] = {-1, -1}, rq[2] = {-1, -1};
  if (pipe2(out, O_CLOEXEC) < 0 || pipe2(err, O_CLOEXEC) < 0 || (req && pipe2(rq, O_CLOEXEC) < 0)) {
    int e = errno;
    close_pair(out); close_pair(err); close_pair(rq);
    errno = e;
    return -1;
  }
  pid_t pid = fork();
  if (pid == 0) {
    /* the run's supervisor: its own session (as the per-run launcher, started detached) */
    int devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (devnull < 0 || dup2(devnull, 0) < 0 || dup2(out[1], 1) < 0 || dup2(err[1], 2) < 0) _exit(127);
    setsid();
    signal(SIGPIPE, SIG_DFL);
    sigprocmask(SIG_SETMASK, &serve_origmask, NULL);
    if (!req) supervise(path, envp, nnp, grace_ms_all);
    if (dup2(rq[0], 3) < 0) _exit(127);
    close_fds_from(4);
    sigset_t old;
    supervisor_setup(&old);
    pid_t child = fork();
    if (child < 0) die("fork");
    if (child == 0) spare_script(&old);
    close(3);
    supervise_loop(child, 0, grace_ms_all);
  }
  int e = errno;
  close(out[1]);
  close(err[1]);
  if (req) close(rq[0]);
  if (pid < 0) {
    close(out[0]); close(err[0]);
    if (req) close(rq[1]);
    errno = e;
    return -1;
  }
  fcntl(out[0], F_SETFL, O_NONBLOCK);
  fcntl(err[0], F_SETFL, O_NONBLOCK);
  fd[0] = out[0];
  fd[1] = err[0];
  if (req) *req = rq[1];
  return pid;
}

static void make_spare(void) {
  if (spare.pid > 0) return;
  spare.pid = fork_supervisor(spare.fd, &spare.req, NULL, NULL, 0);
}

/* Write all of buf to fd; 0 on success (a spare gone before its request: EPIPE). */
static int write_fd(int fd, const void *buf, size_t len) {
  const char *p = buf;
  while (len > 0) {
    ssize_t w = write(fd, p, len);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return -1;
    p += w;
    len -= (size_t)w;
  }
  return 0;
}

static void start_run(unsigned char *req, uint32_t len) {
  if (len < 4) return;
  uint32_t id = get32(req);
  /* then u8 nnp, the path, NUL-terminated env strings; the request ends with a NUL */
  char *p = (char *)req + 5, *end = (char *)req + len;
  if (len < 7 || end[-1] != 0 || *p != '/' || nruns >= MAX_RUNS) { reply_int(REP_FAIL, id, EINVAL); return; }
  if (spare.pid > 0) {
    /* the spare's script process reads the request and execs; the zygote pays for the next spare after */
    int fd[2] = {spare.fd[0], spare.fd[1]};
    pid_t pid = spare.pid;
    int ok = write_fd(spare.req, req + 4, len - 4) == 0;
    close(spare.req);
    spare.pid = -1;
    if (ok) {
      runs[nruns++] = (struct run){id, pid, {fd[0], fd[1]}};
      make_spare();
      return;
    }
    /* its script process is gone: the supervisor ends by itself; this run takes the slow way */
    kill(pid, SIGKILL);
    close(fd[0]);
    close(fd[1]);
  }
  int nnp = req[4] != 0;
  const char *path = p;
  size_t nenv = 0;
  for (char *q = p + strlen(p) + 1; q < end; q += strlen(q) + 1) nenv++;
  char **envp = calloc(nenv + 1, sizeof *envp);
  if (!envp) { reply_int(REP_FAIL, id, ENOMEM); return; }
  size_t k = 0;
  for (char *q = p + strlen(p) + 1; q < end; q += strlen(q) + 1) envp[k++] = q;
  int fd[2];
  pid_t pid = fork_supervisor(fd, NULL, path, envp, nnp);
  int e = errno;
  free(envp);
  if (pid < 0) { reply_int(REP_FAIL, id, e); return; }
  runs[nruns++] = (struct run){id, pid, {fd[0], fd[1]}};
  make_spare();
}

static void kill_run(const unsigned char *req, uint32_t len) {
  if (len < 5) return;
  uint32_t id = get32(req);
  int sig = req[4];
  if (sig != SIGTERM && sig != SIGKILL) return;
  for (int i = 0; i < nruns; i++)
    if (runs[i].id == id) kill(runs[i].pid, sig);
}

/* A supervisor exited: everything of its run is gone, so its pipes reach EOF within what they hold. */
static void reap(void) {
  for (;;) {
    int st;
    pid_t p = waitpid(-1, &st, WNOHANG);
    if (p <= 0) return;
    if (p == spare.pid) { /* a spare that died before it was used: the next run makes another */
      close(spare.req);
      close(spare.fd[0]);
      close(spare.fd[1]);
      spare.pid = -1;
      continue;
    }
    for (int i = 0; i < nruns; i++) {
      if (runs[i].pid != p) continue;
      for (int w = 0; w < 2; w++) {
        if (runs[i].fd[w] < 0) continue;
        /* a descendant it could not kill (none should be left) must not keep us here: EAGAIN ends it */
        forward(&runs[i], w);
        if (runs[i].fd[w] >= 0) { close(runs[i].fd[w]); runs[i].fd[w] = -1; }
      }
      reply_int(REP_EXIT, runs[i].id, st);
      runs[i] = runs[--nruns];
      break;
    }
  }
}

static int serve(void) {
  signal(SIGPIPE, SIG_IGN);
  sigset_t chld;
  sigemptyset(&chld);
  sigaddset(&chld, SIGCHLD);
  if (sigprocmask(SIG_BLOCK, &chld, &serve_origmask) < 0) die("sigprocmask");
  sigdelset(&serve_origmask, SIGCHLD);
  /* the daemon dying (even SIGKILL) ends us, and through each run's own death signal, the runs */
  pid_t parent = getppid();
  if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0) die("prctl(PR_SET_PDEATHSIG)");
  if (getppid() != parent) return 0;
  close_fds_from(3);
  int sfd = signalfd(-1, &chld, SFD_CLOEXEC | SFD_NONBLOCK);
  if (sfd < 0) die("signalfd");
  make_spare();

  size_t cap = 65536, have = 0;
  unsigned char *buf = malloc(cap);
  if (!buf) die("malloc");
  static struct pollfd pfd[2 + 2 * MAX_RUNS];
  for (;;) {
    int n = 0;
    pfd[n++] = (struct pollfd){0, POLLIN, 0};
    pfd[n++] = (struct pollfd){sfd, POLLIN, 0};
    for (int i = 0; i < nruns; i++)
      for (int w = 0; w < 2; w++)
        if (runs[i].fd[w] >= 0) pfd[n++] = (struct pollfd){runs[i].fd[w], POLLIN, 0};
    if (poll(pfd, (nfds_t)n, -1) < 0) {
      if (errno == EINTR) continue;
      die("poll");
    }
    /* output first: a run's last bytes go before its exit status */
    for (int i = 0; i < nruns; i++)
      for (int w = 0; w < 2; w++) {
        if (runs[i].fd[w] < 0) continue;
        for (int j = 2; j < n; j++)
          if (pfd[j].fd == runs[i].fd[w] && pfd[j].revents) { forward(&runs[i], w); break; }
      }
    if (pfd[1].revents) {
      struct signalfd_siginfo si;
      while (read(sfd, &si, sizeof si) == (ssize_t)sizeof si) { /* drain */ }
      reap();
    }
    if (pfd[0].revents) {
      if (have == cap) {
        if (cap > MAX_REQUEST) { fprintf(stderr, "%s: request too large\n", prog); return 2; }
        cap *= 2;
        unsigned char *nb = realloc(buf, cap);
        if (!nb) die("realloc");
        buf = nb;
      }
      ssize_t r = read(0, buf + have, cap - have);
      if (r < 0 && (errno == EINTR || errno == EAGAIN)) continue;
      if (r <= 0) return 0; /* the daemon closed the channel */
      have += (size_t)r;
      size_t off = 0;
      while (have - off >= 5) {
        uint32_t len = get32(buf + off);
        if (len == 0 || len > MAX_REQUEST) { fprintf(stderr, "%s: bad request length %u\n", prog, len); return 2; }
        if (have - off - 4 < len) break;
        unsigned char *req = buf + off + 4;
        if (req[0] == REQ_RUN) start_run(req + 1, len - 1);
        else if (req[0] == REQ_KILL) kill_run(req + 1, len - 1);
        off += 4 + len;
      }
      memmove(buf, buf + off, have - off);
      have -= off;
    }
  }
}

int main(int argc, char **argv) {
  int nnp = 0, serving = 0;
  long grace_ms = 2000;
  int opt;
  while ((opt = getopt(argc, argv, "+nsg:")) != -1) {
    if (opt == 'n') nnp = 1;
    else if (opt == 's') serving = 1;
    else if (opt == 'g') grace_ms = strtol(optarg, NULL, 10);
    else { fprintf(stderr, "usage: %s [-n] [-g GRACE_MS] -- PATH | %s -s [-g GRACE_MS]\n", prog, prog); return 127; }
  }
  if (serving) {
    grace_ms_all = grace_ms;
    return optind == argc && grace_ms >= 0 ? serve() : 127;
  }
  if (optind != argc - 1 || argv[optind][0] != '/' || grace_ms < 0) {
    fprintf(stderr, "usage: %s [-n] [-g GRACE_MS] -- PATH (absolute)\n", prog);
    return 127;
  }
  extern char **environ;
  supervise(argv[optind], environ, nnp, grace_ms);
}
