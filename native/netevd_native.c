/*
 * netevd_native: the small piece of netevd that JavaScript cannot do by itself.
 *
 *   - NETLINK_ROUTE sockets polled on the libuv loop (uv_poll_t), delivering every readable burst
 *     of datagrams to JavaScript as ONE Buffer (datagrams concatenated; each is a sequence of
 *     4-byte aligned nlmsghdr records, so the concatenation stays decodable);
 *   - the kernel's host name, watched on the same loop: /proc/sys/kernel/hostname polled for
 *     POLLPRI (the kernel's sysctl change notification), each change a callback;
 *   - privilege helpers: clear the ambient capability set, read the effective set, sd_notify;
 *   - process plumbing: execve, socketpair, close-on-exec, SO_PEERCRED, NoNewPrivs.
 *
 * N-API only (no V8/C++), C11. Handles are small positive integers that are never reused, so a
 * stale close() can never hit a newer socket.
 */
#include <node_api.h>
#include <uv.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#if defined(__GLIBC__) || defined(__linux__)
#include <malloc.h>
#endif
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>
#include <linux/capability.h>
#include <linux/netlink.h>

#ifndef SOL_NETLINK
#define SOL_NETLINK 270
#endif
#ifndef NETLINK_ADD_MEMBERSHIP
#define NETLINK_ADD_MEMBERSHIP 1
#endif
#ifndef NETLINK_NO_ENOBUFS
#define NETLINK_NO_ENOBUFS 5
#endif
#ifndef NETLINK_CAP_ACK
#define NETLINK_CAP_ACK 10
#endif
#ifndef NETLINK_EXT_ACK
#define NETLINK_EXT_ACK 11
#endif
#ifndef PR_CAP_AMBIENT
#define PR_CAP_AMBIENT 47
#endif
#ifndef PR_CAP_AMBIENT_CLEAR_ALL
#define PR_CAP_AMBIENT_CLEAR_ALL 4
#endif

#define MAX_SOCKS 64
#define RECV_CHUNK (64 * 1024)              /* room guaranteed for each recv (kernel dumps use <= 32 KiB) */
#define BATCH_MAX_DGRAMS 256                /* deliver at most this many datagrams per callback ... */
#define BATCH_MAX_BYTES (4 * 1024 * 1024)   /* ... or about this many bytes; the rest comes next poll */

/*
 * Flood coalescing (sockets opened with a hold time, i.e. the multicast monitor). Under a flood the
 * kernel queues one or two notifications per wake-up, and each wake-up (epoll, recv, the callback
 * into JavaScript) costs ten times the decoding of a message: most of the CPU goes to waking up.
 * So when FLOOD_STREAK wake-ups in a row found data less than FLOOD_GAP_NS after the socket was
 * last ready again, the poll pauses for the hold time (1-2 ms) and the next read takes everything
 * that queued meanwhile, in one batch. Order and content are unchanged; only timing under a flood.
 * A message after a quiet moment is delivered at once, as is one read by readNow() (it reads the
 * socket directly). The receive buffer (MiBs) holds far more than arrives during a hold.
 */
#define FLOOD_GAP_NS 250000ULL
#define FLOOD_STREAK 4

/* what a handle polls: a netlink socket, or a sysctl file whose changes are watched */
enum handle_kind { KIND_NETLINK = 0, KIND_SYSCTL = 1 };

typedef struct nl_sock {
  int32_t id;
  int kind;
  int fd;
  int closing;
  struct addon_state *st;
  napi_env env;
  napi_ref cb;
  napi_async_context actx;
  uv_poll_t poll; /* poll.data points back here; the struct is freed in the uv close callbacks */
  uv_timer_t hold; /* flood coalescing: runs while the poll is paused (hold_ms > 0 only) */
  uint64_t hold_ms; /* 0: no coalescing (request sockets: a dump must not wait between chunks) */
  uint64_t ready_ns; /* uv_hrtime() when the socket was last ready to read again */
  uint32_t streak;  /* consecutive wake-ups with data less than FLOOD_GAP_NS after ready_ns */
  uint32_t holds;   /* times the poll was paused */
  int holding;
  int delivered; /* read_burst (poll path) handed data to JavaScript since on_poll last looked */
  int open_handles; /* uv handles still to close before the struct is freed */
  uint8_t *buf;
  size_t cap;
  size_t chunk; /* bytes offered to each recv: RECV_CHUNK, smaller only for tests (truncation) */
} nl_sock;

typedef struct addon_state {
  nl_sock *socks[MAX_SOCKS];
  int32_t next_id;
  int pending_closes;  /* uv_close() issued, close callback not run yet */
  int tearing_down;    /* the environment is exiting (worker terminate, process teardown) */
  napi_async_cleanup_hook_handle cleanup; /* removed once every handle is closed */
} addon_state;

/* ---------- errors ---------- */

static const char *errno_name(int err) {
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 32))
  const char *n = strerrorname_np(err);
  if (n) return n;
#endif
  switch (err) {
    case EPERM: return "EPERM";
    case ENOENT: return "ENOENT";
    case EBADF: return "EBADF";
    case EAGAIN: return "EAGAIN";
    case ENOMEM: return "ENOMEM";
    case EACCES: return "EACCES";
    case EEXIST: return "EEXIST";
    case EINVAL: return "EINVAL";
    case ENFILE: return "ENFILE";
    case EMFILE: return "EMFILE";
    case EMSGSIZE: return "EMSGSIZE";
    case EPROTONOSUPPORT: return "EPROTONOSUPPORT";
    case EAFNOSUPPORT: return "EAFNOSUPPORT";
    case ENOBUFS: return "ENOBUFS";
    case ECONNREFUSED: return "ECONNREFUSED";
    default: return "EUNKNOWN";
  }
}

/* Throws Error(message) with .code = "EXXX", .errno = n, .syscall = syscall. Returns NULL. */
static napi_value throw_errno(napi_env env, int err, const char *syscall) {
  char msg[256];
  napi_value code, message, error, num, sc;
  snprintf(msg, sizeof msg, "%s failed: %s (%s)", syscall, strerror(err), errno_name(err));
  if (napi_create_string_utf8(env, errno_name(err), NAPI_AUTO_LENGTH, &code) != napi_ok ||
      napi_create_string_utf8(env, msg, NAPI_AUTO_LENGTH, &message) != napi_ok ||
      napi_create_error(env, code, message, &error) != napi_ok) {
    napi_throw_error(env, NULL, msg);
    return NULL;
  }
  napi_create_int32(env, err, &num);
  napi_set_named_property(env, error, "errno", num);
  napi_create_string_utf8(env, syscall, NAPI_AUTO_LENGTH, &sc);
  napi_set_named_property(env, error, "syscall", sc);
  napi_throw(env, error);
  return NULL;
}

#define CHECK_NAPI(env, call)                                   \
  do {                                                          \
    if ((call) != napi_ok) {                                    \
      bool pending_ = false;                                    \
      napi_is_exception_pending((env), &pending_);              \
      if (!pending_) napi_throw_error((env), NULL, "N-API call failed: " #call); \
      return NULL;                                              \
    }                                                           \
  } while (0)

static addon_state *get_state(napi_env env) {
  void *data = NULL;
  napi_get_instance_data(env, &data);
  return (addon_state *)data;
}

/* Any open handle (close, ref, unref); find_sock: a netlink socket only (send, read, ...). */
static nl_sock *find_handle(napi_env env, napi_value v) {
  addon_state *st = get_state(env);
  int32_t id = 0;
  if (!st || napi_get_value_int32(env, v, &id) != napi_ok || id <= 0) return NULL;
  for (int i = 0; i < MAX_SOCKS; i++)
    if (st->socks[i] && st->socks[i]->id == id && !st->socks[i]->closing) return st->socks[i];
  return NULL;
}

static nl_sock *find_sock(napi_env env, napi_value v) {
  nl_sock *s = find_handle(env, v);
  return s && s->kind == KIND_NETLINK ? s : NULL;
}

/* ---------- socket helpers ---------- */

static int set_rcvbuf(int fd, int64_t bytes) {
  int v = bytes > INT_MAX / 2 ? INT_MAX / 2 : (int)bytes;
  /* SO_RCVBUFFORCE ignores net.core.rmem_max but needs CAP_NET_ADMIN; SO_RCVBUF is capped. */
  if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &v, sizeof v) == 0) return 0;
  if (setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &v, sizeof v) == 0) return 0;
  return errno;
}

/* ---------- delivery to JavaScript ---------- */

/*
 * Calls onData(buf|null, errno) through napi_make_callback, so the call gets an async context and
 * process.nextTick / promise microtasks queued by the callback run when it returns (napi_call_function
 * from a uv callback would leave them queued until some unrelated callback ran).
 *
 * Exceptions: an exception thrown by the callback must not abort the process from here. It comes
 * back as napi_pending_exception; we take it with napi_get_and_clear_last_exception and hand it to
 * napi_fatal_exception, which in Node 20 runs the normal uncaught-exception path: a
 * process.on('uncaughtException') handler sees it and the process goes on; without a handler Node
 * prints it and exits, exactly as for an exception thrown from any other event callback. The
 * JavaScript wrappers (socket.ts) catch their own errors first, so this is the last line only.
 */
static void call_js_mode(nl_sock *s, const uint8_t *data, size_t len, int err, int sync) {
  napi_env env = s->env;
  napi_handle_scope scope;
  napi_value cb, recv, argv[2], result;
  if (s->closing || !s->cb || s->st->tearing_down) return;
  if (napi_open_handle_scope(env, &scope) != napi_ok) return;
  if (napi_get_reference_value(env, s->cb, &cb) != napi_ok || cb == NULL) goto out;
  napi_get_global(env, &recv); /* napi_make_callback needs an object receiver */
  if (data) {
    void *copy;
    if (napi_create_buffer_copy(env, len, data, &copy, &argv[0]) != napi_ok) goto out;
  } else {
    napi_get_null(env, &argv[0]);
  }
  napi_create_int32(env, err, &argv[1]);
  if (sync) {
    /* called from JavaScript (readNow): an exception stays pending and reaches the caller */
    napi_call_function(env, recv, cb, 2, argv, &result);
    napi_close_handle_scope(env, scope);
    return;
  }
  napi_make_callback(env, s->actx, recv, cb, 2, argv, &result);
out:;
  bool pending = false;
  if (napi_is_exception_pending(env, &pending) == napi_ok && pending) {
    napi_value exc;
    if (napi_get_and_clear_last_exception(env, &exc) == napi_ok) napi_fatal_exception(env, exc);
  }
  napi_close_handle_scope(env, scope);
}

static void call_js(nl_sock *s, const uint8_t *data, size_t len, int err) { call_js_mode(s, data, len, err, 0); }

static int exception_pending(napi_env env) {
  bool pending = false;
  return napi_is_exception_pending(env, &pending) == napi_ok && pending;
}

static int ensure_room(nl_sock *s, size_t used) {
  if (s->cap - used >= RECV_CHUNK) return 0;
  size_t ncap = s->cap ? s->cap * 2 : 2 * RECV_CHUNK;
  while (ncap - used < RECV_CHUNK) ncap *= 2;
  uint8_t *nb = realloc(s->buf, ncap);
  if (!nb) return ENOMEM;
  s->buf = nb;
  s->cap = ncap;
  return 0;
}

static int read_burst(nl_sock *s, int sync);
static void on_hold_end(uv_timer_t *t);

static void on_poll(uv_poll_t *h, int status, int events) {
  nl_sock *s = (nl_sock *)h->data;
  if (s->closing) return;
  if (status < 0) {
    /*
     * libuv turns POLLERR into status UV_EBADF and stops the watcher. On a netlink socket POLLERR
     * normally means a pending socket error, i.e. ENOBUFS after the kernel dropped messages: fetch
     * (and clear) it with SO_ERROR, report it, re-arm the poll and read on. Only when the fd
     * itself is bad do we stop for good.
     */
    int soerr = 0;
    socklen_t sl = sizeof soerr;
    if (getsockopt(s->fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) < 0) {
      call_js(s, NULL, 0, errno);
      return;
    }
    int r = uv_poll_start(&s->poll, UV_READABLE, on_poll);
    if (soerr) call_js(s, NULL, 0, soerr);
    if (s->closing) return;
    if (r < 0) {
      call_js(s, NULL, 0, -r);
      return;
    }
  }
  if (!s->hold_ms) {
    read_burst(s, 0);
    return;
  }
  uint64_t woke = uv_hrtime();
  int more = read_burst(s, 0);
  if (s->closing || more < 0) return;
  if (s->delivered) {
    s->streak = woke - s->ready_ns < FLOOD_GAP_NS ? s->streak + 1 : 0;
    s->delivered = 0;
  }
  s->ready_ns = uv_hrtime();
  /* more == 1: the batch limit was hit and data is queued; the poll fires again at once anyway */
  if (s->streak >= FLOOD_STREAK && more == 0 && !s->holding) {
    if (uv_poll_stop(&s->poll) == 0 && uv_timer_start(&s->hold, on_hold_end, s->hold_ms, 0) == 0) {
      s->holding = 1;
      s->holds++;
    } else {
      uv_poll_start(&s->poll, UV_READABLE, on_poll);
    }
  }
}

static void on_hold_end(uv_timer_t *t) {
  nl_sock *s = (nl_sock *)t->data;
  s->holding = 0;
  if (s->closing) return;
  /* still a flood if data is queued by now: the next wake-up comes at once and keeps the streak */
  s->ready_ns = uv_hrtime();
  int r = uv_poll_start(&s->poll, UV_READABLE, on_poll);
  if (r < 0) call_js(s, NULL, 0, -r);
}

/*
 * Read what is queued (up to one batch) and deliver it: data first (it is older than any loss),
 * then MSG_TRUNC as EMSGSIZE, then a receive error (ENOBUFS: the kernel dropped messages; the
 * socket stays usable). Returns 1 when the batch limit was hit (more may be queued), 0 when the
 * queue was empty, -1 when the socket closed or (sync) the callback threw.
 */
static int read_burst(nl_sock *s, int sync) {
  size_t total = 0;
  int ndgrams = 0, err = 0, truncated = 0, more = 0;
  for (;;) {
    if ((err = ensure_room(s, total)) != 0) break;
    struct sockaddr_nl from;
    socklen_t fromlen = sizeof from;
    memset(&from, 0, sizeof from);
    ssize_t n = recvfrom(s->fd, s->buf + total, s->chunk, MSG_DONTWAIT | MSG_TRUNC,
                         (struct sockaddr *)&from, &fromlen);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno != EAGAIN && errno != EWOULDBLOCK) err = errno;
      break;
    }
    if (n == 0) break;
    if ((size_t)n > s->chunk) { truncated = 1; continue; } /* MSG_TRUNC: real size was larger */
    if (from.nl_pid != 0) continue; /* not from the kernel: another process writing to our port */
    size_t padded = ((size_t)n + 3) & ~(size_t)3;
    if (padded != (size_t)n) memset(s->buf + total + n, 0, padded - (size_t)n);
    total += padded;
    if (++ndgrams >= BATCH_MAX_DGRAMS || total >= BATCH_MAX_BYTES) { more = 1; break; } /* level-triggered: rest next time */
  }
  napi_env env = s->env;
  /* Data received before an error is valid and older than the loss: deliver it first. */
  if (total > 0) {
    if (!sync) s->delivered = 1;
    call_js_mode(s, s->buf, total, 0, sync);
  }
  if (s->closing || (sync && exception_pending(env))) return -1;
  if (truncated) call_js_mode(s, NULL, 0, EMSGSIZE, sync);
  if (s->closing || (sync && exception_pending(env))) return -1;
  /* ENOBUFS: the kernel dropped messages; the socket stays usable and the poll stays armed. */
  if (err) call_js_mode(s, NULL, 0, err, sync);
  if (s->closing || (sync && exception_pending(env))) return -1;
  return more;
}

/* ---------- closing ---------- */

/*
 * Teardown. A uv close callback runs on a later loop iteration; when the environment ends (worker
 * terminate) Node unloads this library afterwards, so a close callback still pending then would
 * jump into unmapped code. Hence an *async* cleanup hook: it closes every socket and is removed only
 * when the last close callback has run, and Node keeps the environment (and this library) until
 * then. The instance data (addon_state) lives as long as the napi_env, which the hook keeps alive.
 */
static void on_closed(uv_handle_t *h) {
  nl_sock *s = (nl_sock *)h->data;
  addon_state *st = s->st;
  --st->pending_closes;
  if (--s->open_handles > 0) return; /* the poll and the hold timer: the last one frees */
  if (s->fd >= 0) close(s->fd);
  for (int i = 0; i < MAX_SOCKS; i++)
    if (st->socks[i] == s) st->socks[i] = NULL;
  if (s->cb) napi_delete_reference(s->env, s->cb);
  if (s->actx && !st->tearing_down) napi_async_destroy(s->env, s->actx);
  free(s->buf);
  free(s);
  if (st->pending_closes == 0 && st->tearing_down && st->cleanup) {
    napi_async_cleanup_hook_handle hh = st->cleanup;
    st->cleanup = NULL;
    napi_remove_async_cleanup_hook(hh);
  }
}

/* A closing socket stays in the table (find_sock skips it) until on_closed. */
static void close_sock(nl_sock *s) {
  if (s->closing) return;
  s->closing = 1;
  uv_poll_stop(&s->poll);
  /* fd, references and memory go in on_closed: this may run inside our own onData callback. */
  s->open_handles = 1;
  s->st->pending_closes++;
  if (s->hold_ms) {
    uv_timer_stop(&s->hold);
    s->open_handles++;
    s->st->pending_closes++;
    uv_close((uv_handle_t *)&s->hold, on_closed);
  }
  uv_close((uv_handle_t *)&s->poll, on_closed);
}

static void async_cleanup(napi_async_cleanup_hook_handle handle, void *arg) {
  addon_state *st = (addon_state *)arg;
  st->tearing_down = 1;
  for (int i = 0; i < MAX_SOCKS; i++)
    if (st->socks[i]) close_sock(st->socks[i]);
  if (st->pending_closes == 0 && st->cleanup) {
    st->cleanup = NULL;
    napi_remove_async_cleanup_hook(handle);
  }
}

static void state_finalize(napi_env env, void *data, void *hint) { free(data); }

/* ---------- exports: netlink ---------- */

/* A free handle slot, or -1 when all MAX_SOCKS are taken. */
static int free_slot(const addon_state *st) {
  for (int i = 0; i < MAX_SOCKS; i++)
    if (!st->socks[i]) return i;
  return -1;
}

/*
 * The common tail of opening a polled handle: s (calloc'ed, fd and kind set) gets its callback
 * reference, async context and uv poll (plus the hold timer when given), a slot and an id, and
 * polling starts. On failure s is freed and fd closed, and an exception is pending.
 */
static napi_value start_polled(napi_env env, uv_loop_t *loop, addon_state *st, int slot, nl_sock *s, napi_value cb, const char *resource_name, int events,
                               uv_poll_cb on, int with_hold) {
  s->env = env;
  s->st = st;
  s->poll.data = s;
  napi_value resource, name;
  if (napi_create_reference(env, cb, 1, &s->cb) != napi_ok || napi_create_object(env, &resource) != napi_ok ||
      napi_create_string_utf8(env, resource_name, NAPI_AUTO_LENGTH, &name) != napi_ok || napi_async_init(env, resource, name, &s->actx) != napi_ok) {
    if (s->cb) napi_delete_reference(env, s->cb);
    close(s->fd);
    free(s);
    return NULL; /* an exception is pending */
  }
  int r = uv_poll_init(loop, &s->poll, s->fd);
  if (r < 0) {
    napi_delete_reference(env, s->cb);
    napi_async_destroy(env, s->actx);
    close(s->fd);
    free(s);
    return throw_errno(env, -r, "uv_poll_init");
  }
  if (with_hold) {
    s->hold.data = s;
    uv_timer_init(loop, &s->hold); /* cannot fail */
  }
  s->id = ++st->next_id;
  st->socks[slot] = s;
  r = uv_poll_start(&s->poll, events, on);
  if (r < 0) {
    close_sock(s);
    return throw_errno(env, -r, "uv_poll_start");
  }
  napi_value ret;
  CHECK_NAPI(env, napi_create_int32(env, s->id, &ret));
  return ret;
}

/*
 * open(groups: number[], rcvbufBytes: number, onData: (buf: Buffer | null, errno: number) => void,
 *      recvChunk?: number, floodHoldMs?: number): number
 * recvChunk (tests only) offers each recv fewer bytes than RECV_CHUNK, so that real kernel
 * datagrams arrive truncated (MSG_TRUNC, reported as EMSGSIZE). floodHoldMs > 0 turns on flood
 * coalescing (see FLOOD_GAP_NS) with that pause; 0 or absent: every wake-up is read at once.
 */
static napi_value js_open(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value argv[5];
  CHECK_NAPI(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 3) {
    napi_throw_type_error(env, NULL, "open(groups, rcvbufBytes, onData) needs 3 arguments");
    return NULL;
  }
  bool isarr = false;
  napi_valuetype t;
  uint32_t ngroups = 0;
  int64_t rcvbuf = 0;
  napi_is_array(env, argv[0], &isarr);
  if (!isarr) { napi_throw_type_error(env, NULL, "groups must be an array of numbers"); return NULL; }
  CHECK_NAPI(env, napi_get_array_length(env, argv[0], &ngroups));
  if (ngroups > 64) { napi_throw_range_error(env, NULL, "too many groups"); return NULL; }
  uint32_t groups[64];
  for (uint32_t i = 0; i < ngroups; i++) {
    napi_value g;
    CHECK_NAPI(env, napi_get_element(env, argv[0], i, &g));
    if (napi_get_value_uint32(env, g, &groups[i]) != napi_ok || groups[i] == 0) {
      napi_throw_type_error(env, NULL, "groups must be positive integers (RTNLGRP_*)");
      return NULL;
    }
  }
  if (napi_get_value_int64(env, argv[1], &rcvbuf) != napi_ok) {
    napi_throw_type_error(env, NULL, "rcvbufBytes must be a number");
    return NULL;
  }
  CHECK_NAPI(env, napi_typeof(env, argv[2], &t));
  if (t != napi_function) { napi_throw_type_error(env, NULL, "onData must be a function"); return NULL; }
  int64_t chunk = RECV_CHUNK;
  if (argc >= 4) {
    CHECK_NAPI(env, napi_typeof(env, argv[3], &t));
    if (t != napi_undefined && (napi_get_value_int64(env, argv[3], &chunk) != napi_ok || chunk < 16 || chunk > RECV_CHUNK)) {
      napi_throw_range_error(env, NULL, "recvChunk must be a number 16..65536");
      return NULL;
    }
  }
  int64_t hold_ms = 0;
  if (argc >= 5) {
    CHECK_NAPI(env, napi_typeof(env, argv[4], &t));
    if (t != napi_undefined && (napi_get_value_int64(env, argv[4], &hold_ms) != napi_ok || hold_ms < 0 || hold_ms > 100)) {
      napi_throw_range_error(env, NULL, "floodHoldMs must be a number 0..100");
      return NULL;
    }
  }

  addon_state *st = get_state(env);
  int slot = free_slot(st);
  if (slot < 0) return throw_errno(env, EMFILE, "netevd_native.open");

  uv_loop_t *loop = NULL;
  CHECK_NAPI(env, napi_get_uv_event_loop(env, &loop));

  int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, NETLINK_ROUTE);
  if (fd < 0) return throw_errno(env, errno, "socket");
  struct sockaddr_nl sa;
  memset(&sa, 0, sizeof sa);
  sa.nl_family = AF_NETLINK;
  sa.nl_pid = 0; /* the kernel assigns a unique port id */
  if (bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
    int e = errno;
    close(fd);
    return throw_errno(env, e, "bind");
  }
  for (uint32_t i = 0; i < ngroups; i++) {
    if (setsockopt(fd, SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, &groups[i], sizeof groups[i]) < 0) {
      int e = errno;
      close(fd);
      return throw_errno(env, e, "setsockopt(NETLINK_ADD_MEMBERSHIP)");
    }
  }
  if (rcvbuf > 0) {
    int e = set_rcvbuf(fd, rcvbuf);
    if (e) { close(fd); return throw_errno(env, e, "setsockopt(SO_RCVBUF)"); }
  }
  int off = 0, one = 1;
  /* We want ENOBUFS reported (it is off by default; make sure). */
  setsockopt(fd, SOL_NETLINK, NETLINK_NO_ENOBUFS, &off, sizeof off);
  /* Extended ACKs (error messages) and capped ACKs (no echo of our request); optional. */
  setsockopt(fd, SOL_NETLINK, NETLINK_EXT_ACK, &one, sizeof one);
  setsockopt(fd, SOL_NETLINK, NETLINK_CAP_ACK, &one, sizeof one);

  nl_sock *s = calloc(1, sizeof *s);
  if (!s) { close(fd); return throw_errno(env, ENOMEM, "calloc"); }
  s->fd = fd;
  s->chunk = (size_t)chunk;
  s->hold_ms = (uint64_t)hold_ms;
  return start_polled(env, loop, st, slot, s, argv[2], "netevd:netlink", UV_READABLE, on_poll, s->hold_ms > 0);
}

/* send(handle, buf): number of bytes sent */
static napi_value js_send(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  CHECK_NAPI(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  nl_sock *s = argc >= 1 ? find_sock(env, argv[0]) : NULL;
  if (!s) return throw_errno(env, EBADF, "send");
  void *data = NULL;
  size_t len = 0;
  bool isbuf = false;
  if (argc >= 2) napi_is_buffer(env, argv[1], &isbuf);
  if (!isbuf) { napi_throw_type_error(env, NULL, "send(handle, buf): buf must be a Buffer"); return NULL; }
  CHECK_NAPI(env, napi_get_buffer_info(env, argv[1], &data, &len));
  struct sockaddr_nl to;
  memset(&to, 0, sizeof to);
  to.nl_family = AF_NETLINK; /* nl_pid 0, nl_groups 0: the kernel */
  ssize_t n;
  do {
    n = sendto(s->fd, data, len, 0, (struct sockaddr *)&to, sizeof to);
  } while (n < 0 && errno == EINTR);
  if (n < 0) return throw_errno(env, errno, "sendto");
  napi_value ret;
  CHECK_NAPI(env, napi_create_int64(env, (int64_t)n, &ret));
  return ret;
}

static napi_value js_port_id(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CHECK_NAPI(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  nl_sock *s = argc >= 1 ? find_sock(env, argv[0]) : NULL;
  if (!s) return throw_errno(env, EBADF, "getsockname");
  struct sockaddr_nl sa;
  socklen_t sl = sizeof sa;
  memset(&sa, 0, sizeof sa);
  if (getsockname(s->fd, (struct sockaddr *)&sa, &sl) < 0) return throw_errno(env, errno, "getsockname");
  napi_value ret;
  CHECK_NAPI(env, napi_create_uint32(env, sa.nl_pid, &ret));
  return ret;
}

static napi_value js_close(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CHECK_NAPI(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  nl_sock *s = argc >= 1 ? find_handle(env, argv[0]) : NULL;
  if (s) close_sock(s); /* unknown or already closed: nothing to do */
  return NULL;
}

/*
 * Read and discard everything queued on the socket. After an overflow the queue still holds
 * messages older than the loss, whose successors may be the ones dropped: applying them after a
 * fresh dump would bring back state that is gone. Returns the number of datagrams discarded.
 */
static napi_value js_drain(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CHECK_NAPI(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  nl_sock *s = argc >= 1 ? find_sock(env, argv[0]) : NULL;
  if (!s) return throw_errno(env, EBADF, "drain");
  uint32_t n = 0;
  for (;;) {
    uint8_t scratch[256];
    ssize_t r = recv(s->fd, scratch, sizeof scratch, MSG_DONTWAIT | MSG_TRUNC);
    if (r < 0) {
      if (errno == EINTR || errno == ENOBUFS) continue; /* a further overflow: keep emptying */
      break;                                            /* EAGAIN: empty */
    }
    n++;
  }
  napi_value ret;
  CHECK_NAPI(env, napi_create_uint32(env, n, &ret));
  return ret;
}

/*
 * readNow(handle): read everything queued on the socket now, synchronously, delivering it through
 * the socket's onData callback before returning (same batches and error reports as the poll path).
 * A caller that is about to act on another source's news (a D-Bus signal) uses it so that every
 * kernel notification queued before that news has been applied first. Returns the number of
 * batches delivered. At most 64 batches, so a flood cannot hold the caller forever.
 */
static napi_value js_read_now(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CHECK_NAPI(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  nl_sock *s = argc >= 1 ? find_sock(env, argv[0]) : NULL;
  if (!s) return throw_errno(env, EBADF, "readNow");
  uint32_t batches = 0;
  for (int i = 0; i < 64; i++) {
    int r = read_burst(s, 1);
    if (r < 0 && exception_pending(env)) return NULL;
    batches++;
    if (r <= 0) break;
  }
  napi_value ret;
  CHECK_NAPI(env, napi_create_uint32(env, batches, &ret));
  return ret;
}

static napi_value js_set_rcvbuf(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  int64_t bytes = 0;
  CHECK_NAPI(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  nl_sock *s = argc >= 1 ? find_sock(env, argv[0]) : NULL;
  if (!s) return throw_errno(env, EBADF, "setsockopt(SO_RCVBUF)");
  if (argc < 2 || napi_get_value_int64(env, argv[1], &bytes) != napi_ok || bytes <= 0) {
    napi_throw_type_error(env, NULL, "setRcvbuf(handle, bytes): bytes must be a positive number");
    return NULL;
  }
  int e = set_rcvbuf(s->fd, bytes);
  if (e) return throw_errno(env, e, "setsockopt(SO_RCVBUF)");
  return NULL;
}

static napi_value ref_unref(napi_env env, napi_callback_info info, int ref) {
  size_t argc = 1;
  napi_value argv[1];
  CHECK_NAPI(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  nl_sock *s = argc >= 1 ? find_handle(env, argv[0]) : NULL;
  if (!s) return throw_errno(env, EBADF, ref ? "ref" : "unref");
  /* the hold timer stands in for the paused poll: it keeps the loop alive exactly when the poll does */
  if (ref) {
    uv_ref((uv_handle_t *)&s->poll);
    if (s->hold_ms) uv_ref((uv_handle_t *)&s->hold);
  } else {
    uv_unref((uv_handle_t *)&s->poll);
    if (s->hold_ms) uv_unref((uv_handle_t *)&s->hold);
  }
  return NULL;
}
/* floodHolds(handle): how many times flood coalescing paused the poll (0 without it) */
static napi_value js_flood_holds(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CHECK_NAPI(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  nl_sock *s = argc >= 1 ? find_sock(env, argv[0]) : NULL;
  if (!s) return throw_errno(env, EBADF, "floodHolds");
  napi_value ret;
  CHECK_NAPI(env, napi_create_uint32(env, s->holds, &ret));
  return ret;
}

static napi_value js_ref(napi_env env, napi_callback_info info) { return ref_unref(env, info, 1); }
static napi_value js_unref(napi_env env, napi_callback_info info) { return ref_unref(env, info, 0); }

/* ---------- exports: the kernel's host name ---------- */

/*
 * The kernel notifies pollers of a /proc/sys file that has a poll table (kernel/utsname_sysctl.c
 * gives hostname and domainname one) after every change: sethostname() in any UTS namespace, or a
 * write to the file. proc_sys_poll() compares the event count this open file saw last with the
 * table's; when they differ it returns POLLERR|POLLPRI and stores the new count in the file, so the
 * poll itself re-arms the watch and no read is needed. The file is also always POLLIN|POLLOUT:
 * asking for those would spin. So we ask libuv for UV_PRIORITIZED (EPOLLPRI) only; epoll is
 * level-triggered, and its next poll of the file (the counts now equal) reports nothing we asked for.
 * The count is global, not per namespace: a change in another UTS namespace wakes us too, and the
 * caller compares the name it reads with the last one.
 */
static void on_sysctl_poll(uv_poll_t *h, int status, int events) {
  nl_sock *s = (nl_sock *)h->data;
  if (s->closing) return;
  if (status < 0) {
    /* POLLERR without POLLPRI (the sysctl went away: POLLERR|POLLHUP); libuv stopped the watcher */
    call_js(s, NULL, 0, -status);
    return;
  }
  if (events & UV_PRIORITIZED) call_js(s, NULL, 0, 0);
}

/*
 * watchHostname(onChange: (_: null, errno: number) => void): number
 * A handle (close/ref/unref as for sockets) whose onChange(null, 0) runs after each change of the
 * kernel's host name; onChange(null, errno) once if the watch broke (it is then stopped).
 */
static napi_value js_watch_hostname(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_valuetype t = napi_undefined;
  CHECK_NAPI(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 1 || napi_typeof(env, argv[0], &t) != napi_ok || t != napi_function) {
    napi_throw_type_error(env, NULL, "watchHostname(onChange: function)");
    return NULL;
  }
  addon_state *st = get_state(env);
  int slot = free_slot(st);
  if (slot < 0) return throw_errno(env, EMFILE, "netevd_native.watchHostname");
  uv_loop_t *loop = NULL;
  CHECK_NAPI(env, napi_get_uv_event_loop(env, &loop));

  /* the open records the current event count: only changes after it are reported */
  int fd = open("/proc/sys/kernel/hostname", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return throw_errno(env, errno, "open(/proc/sys/kernel/hostname)");
  nl_sock *s = calloc(1, sizeof *s);
  if (!s) { close(fd); return throw_errno(env, ENOMEM, "calloc"); }
  s->kind = KIND_SYSCTL;
  s->fd = fd;
  return start_polled(env, loop, st, slot, s, argv[0], "netevd:hostname", UV_PRIORITIZED, on_sysctl_poll, 0);
}

/* ---------- exports: privileges and systemd ---------- */

static napi_value js_ambient_clear_all(napi_env env, napi_callback_info info) {
  if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0)
    return throw_errno(env, errno, "prctl(PR_CAP_AMBIENT_CLEAR_ALL)");
  return NULL;
}

/* ambientRaise(cap): add one capability (already permitted and inheritable) to the ambient set. */
static napi_value js_ambient_raise(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  int32_t cap = -1;
  CHECK_NAPI(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 1 || napi_get_value_int32(env, argv[0], &cap) != napi_ok || cap < 0 || cap > 63) {
    napi_throw_type_error(env, NULL, "ambientRaise(cap): cap must be a capability number");
    return NULL;
  }
  if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, (unsigned long)cap, 0, 0) < 0)
    return throw_errno(env, errno, "prctl(PR_CAP_AMBIENT_RAISE)");
  return NULL;
}

/* capEffective(): the calling thread's effective capability set, 16 hex digits. */
static napi_value js_cap_effective(napi_env env, napi_callback_info info) {
  struct __user_cap_header_struct hdr;
  struct __user_cap_data_struct data[2];
  memset(&hdr, 0, sizeof hdr);
  memset(data, 0, sizeof data);
  hdr.version = _LINUX_CAPABILITY_VERSION_3;
  hdr.pid = 0;
  if (syscall(SYS_capget, &hdr, data) < 0) return throw_errno(env, errno, "capget");
  uint64_t eff = ((uint64_t)data[1].effective << 32) | (uint64_t)data[0].effective;
  char hex[17];
  snprintf(hex, sizeof hex, "%016llx", (unsigned long long)eff);
  napi_value ret;
  CHECK_NAPI(env, napi_create_string_utf8(env, hex, 16, &ret));
  return ret;
}

static char *get_string(napi_env env, napi_value v, size_t *len_out) {
  size_t len = 0;
  if (napi_get_value_string_utf8(env, v, NULL, 0, &len) != napi_ok) return NULL;
  char *s = malloc(len + 1);
  if (!s) return NULL;
  napi_get_value_string_utf8(env, v, s, len + 1, &len);
  if (len_out) *len_out = len;
  return s;
}

/*
 * sdNotify(message: string, socketPath?: string): boolean
 * socketPath defaults to $NOTIFY_SOCKET as the C environment has it. Returns false when there is no
 * socket (not started by systemd with Type=notify) or its address kind is unsupported (vsock:);
 * throws on a send failure.
 */
static napi_value js_sd_notify(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2], ret;
  napi_valuetype t = napi_undefined;
  CHECK_NAPI(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 1 || napi_typeof(env, argv[0], &t) != napi_ok || t != napi_string) {
    napi_throw_type_error(env, NULL, "sdNotify(message: string, socketPath?: string)");
    return NULL;
  }
  char *path = NULL;
  if (argc >= 2 && napi_typeof(env, argv[1], &t) == napi_ok && t == napi_string) {
    path = get_string(env, argv[1], NULL);
  } else {
    const char *e = getenv("NOTIFY_SOCKET");
    if (e) path = strdup(e);
  }
  if (!path || (path[0] != '/' && path[0] != '@')) {
    free(path);
    CHECK_NAPI(env, napi_get_boolean(env, false, &ret));
    return ret;
  }
  struct sockaddr_un sun;
  memset(&sun, 0, sizeof sun);
  sun.sun_family = AF_UNIX;
  size_t plen = strlen(path);
  if (plen >= sizeof sun.sun_path) {
    free(path);
    return throw_errno(env, ENAMETOOLONG, "sd_notify");
  }
  memcpy(sun.sun_path, path, plen);
  socklen_t slen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + plen);
  if (path[0] == '@') sun.sun_path[0] = '\0'; /* abstract namespace: no trailing NUL */
  else slen += 1;
  free(path);
  size_t mlen = 0;
  char *msg = get_string(env, argv[0], &mlen);
  if (!msg) return throw_errno(env, ENOMEM, "sd_notify");
  int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    int e = errno;
    free(msg);
    return throw_errno(env, e, "socket(AF_UNIX)");
  }
  ssize_t n;
  do {
    n = sendto(fd, msg, mlen, MSG_NOSIGNAL, (struct sockaddr *)&sun, slen);
  } while (n < 0 && errno == EINTR);
  int e = errno;
  close(fd);
  free(msg);
  if (n < 0) return throw_errno(env, e, "sendto(NOTIFY_SOCKET)");
  CHECK_NAPI(env, napi_get_boolean(env, true, &ret));
  return ret;
}

/* ---------- exports: process plumbing for the privilege drop and the hook runner ---------- */

/* Frees a NULL-terminated array of strings made by get_string_array. */
static void free_strings(char **v) {
  if (!v) return;
  for (char **p = v; *p; p++) free(*p);
  free(v);
}

/* A JS array of strings as a NULL-terminated char* array (NULL on error, with an exception thrown). */
static char **get_string_array(napi_env env, napi_value arr) {
  bool isarr = false;
  uint32_t n = 0;
  if (napi_is_array(env, arr, &isarr) != napi_ok || !isarr || napi_get_array_length(env, arr, &n) != napi_ok) {
    napi_throw_type_error(env, NULL, "expected an array of strings");
    return NULL;
  }
  char **v = calloc((size_t)n + 1, sizeof *v);
  if (!v) { napi_throw_error(env, NULL, "out of memory"); return NULL; }
  for (uint32_t i = 0; i < n; i++) {
    napi_value el;
    napi_valuetype t;
    if (napi_get_element(env, arr, i, &el) != napi_ok || napi_typeof(env, el, &t) != napi_ok || t != napi_string ||
        !(v[i] = get_string(env, el, NULL))) {
      free_strings(v);
      napi_throw_type_error(env, NULL, "expected an array of strings");
      return NULL;
    }
  }
  return v;
}

/*
 * execve(file, argv, envp): replace this process (the started-as-root `netevd run` becomes the
 * unprivileged daemon through setpriv, leaving no root parent behind). Returns only on failure (throws).
 */
static napi_value js_execve(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  CHECK_NAPI(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 3) { napi_throw_type_error(env, NULL, "execve(file, argv, envp)"); return NULL; }
  char *file = get_string(env, argv[0], NULL);
  char **av = file ? get_string_array(env, argv[1]) : NULL;
  char **ev = av ? get_string_array(env, argv[2]) : NULL;
  if (!ev) { free(file); free_strings(av); return NULL; }
  execve(file, av, ev);
  int e = errno;
  free(file);
  free_strings(av);
  free_strings(ev);
  return throw_errno(env, e, "execve");
}

/* socketpair(): [fd, fd], AF_UNIX SOCK_STREAM, both close-on-exec. */
static napi_value js_socketpair(napi_env env, napi_callback_info info) {
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) return throw_errno(env, errno, "socketpair");
  napi_value arr, a, b;
  CHECK_NAPI(env, napi_create_array_with_length(env, 2, &arr));
  napi_create_int32(env, sv[0], &a);
  napi_create_int32(env, sv[1], &b);
  napi_set_element(env, arr, 0, a);
  napi_set_element(env, arr, 1, b);
  return arr;
}

/* setCloexec(fd, on) */
static napi_value js_set_cloexec(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  int32_t fd = -1;
  bool on = true;
  CHECK_NAPI(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 2 || napi_get_value_int32(env, argv[0], &fd) != napi_ok || napi_get_value_bool(env, argv[1], &on) != napi_ok) {
    napi_throw_type_error(env, NULL, "setCloexec(fd: number, on: boolean)");
    return NULL;
  }
  int flags = fcntl(fd, F_GETFD);
  if (flags < 0) return throw_errno(env, errno, "fcntl(F_GETFD)");
  if (fcntl(fd, F_SETFD, on ? (flags | FD_CLOEXEC) : (flags & ~FD_CLOEXEC)) < 0) return throw_errno(env, errno, "fcntl(F_SETFD)");
  return NULL;
}

/* peerCred(fd): {pid, uid, gid} of a unix socket's peer (SO_PEERCRED), or throws (ENOTSOCK, ...). */
static napi_value js_peer_cred(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  int32_t fd = -1;
  CHECK_NAPI(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 1 || napi_get_value_int32(env, argv[0], &fd) != napi_ok) {
    napi_throw_type_error(env, NULL, "peerCred(fd: number)");
    return NULL;
  }
  struct ucred cr;
  socklen_t len = sizeof cr;
  if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &len) < 0) return throw_errno(env, errno, "getsockopt(SO_PEERCRED)");
  napi_value obj, v;
  CHECK_NAPI(env, napi_create_object(env, &obj));
  napi_create_int32(env, cr.pid, &v);
  napi_set_named_property(env, obj, "pid", v);
  napi_create_uint32(env, cr.uid, &v);
  napi_set_named_property(env, obj, "uid", v);
  napi_create_uint32(env, cr.gid, &v);
  napi_set_named_property(env, obj, "gid", v);
  return obj;
}

/* setNoNewPrivs(): prctl(PR_SET_NO_NEW_PRIVS, 1) for this process and everything it starts. */
static napi_value js_set_no_new_privs(napi_env env, napi_callback_info info) {
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) return throw_errno(env, errno, "prctl(PR_SET_NO_NEW_PRIVS)");
  return NULL;
}

/*
 * mallocTrim(): give the C heap's free memory back to the kernel (glibc malloc_trim(0)). Start-up
 * (module compilation, the config parser) leaves megabytes freed but still mapped in malloc's
 * arenas; a daemon that then idles for months should not keep them. Returns whether any was released.
 */
static napi_value js_malloc_trim(napi_env env, napi_callback_info info) {
  int released = 0;
#if defined(__GLIBC__)
  released = malloc_trim(0);
#endif
  napi_value ret;
  CHECK_NAPI(env, napi_get_boolean(env, released != 0, &ret));
  return ret;
}

/*
 * getRandom(n): n (1..256) bytes from the kernel's CSPRNG (getrandom(2), blocking only until the pool
 * is first initialised, like OpenSSL's RAND_bytes). Event ids need 3 random bytes per run; loading
 * node:crypto (OpenSSL, about 1 MB of RSS) for them would cost more than all the rest of the ids.
 */
static napi_value js_get_random(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1], ret;
  int32_t n = 0;
  CHECK_NAPI(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 1 || napi_get_value_int32(env, argv[0], &n) != napi_ok || n < 1 || n > 256) {
    napi_throw_range_error(env, NULL, "getRandom(n) needs 1 <= n <= 256");
    return NULL;
  }
  unsigned char buf[256];
  size_t got = 0;
  while (got < (size_t)n) {
    ssize_t r = getrandom(buf + got, (size_t)n - got, 0);
    if (r < 0) {
      if (errno == EINTR) continue;
      return throw_errno(env, errno, "getrandom");
    }
    got += (size_t)r;
  }
  void *data;
  CHECK_NAPI(env, napi_create_buffer_copy(env, (size_t)n, buf, &data, &ret));
  return ret;
}

/* native/netevd_memory.cc */
napi_value netevd_low_memory_notification(napi_env env, napi_callback_info info);
napi_value netevd_set_v8_flags(napi_env env, napi_callback_info info);

/* ---------- module ---------- */

static napi_value init(napi_env env, napi_value exports) {
  addon_state *st = calloc(1, sizeof *st);
  if (!st) {
    napi_throw_error(env, NULL, "netevd_native: out of memory");
    return NULL;
  }
  CHECK_NAPI(env, napi_set_instance_data(env, st, state_finalize, NULL));
  CHECK_NAPI(env, napi_add_async_cleanup_hook(env, async_cleanup, st, &st->cleanup));
  napi_property_descriptor props[] = {
    {"open", NULL, js_open, NULL, NULL, NULL, napi_enumerable, NULL},
    {"send", NULL, js_send, NULL, NULL, NULL, napi_enumerable, NULL},
    {"portId", NULL, js_port_id, NULL, NULL, NULL, napi_enumerable, NULL},
    {"close", NULL, js_close, NULL, NULL, NULL, napi_enumerable, NULL},
    {"setRcvbuf", NULL, js_set_rcvbuf, NULL, NULL, NULL, napi_enumerable, NULL},
    {"drain", NULL, js_drain, NULL, NULL, NULL, napi_enumerable, NULL},
    {"readNow", NULL, js_read_now, NULL, NULL, NULL, napi_enumerable, NULL},
    {"floodHolds", NULL, js_flood_holds, NULL, NULL, NULL, napi_enumerable, NULL},
    {"ref", NULL, js_ref, NULL, NULL, NULL, napi_enumerable, NULL},
    {"unref", NULL, js_unref, NULL, NULL, NULL, napi_enumerable, NULL},
    {"watchHostname", NULL, js_watch_hostname, NULL, NULL, NULL, napi_enumerable, NULL},
    {"ambientClearAll", NULL, js_ambient_clear_all, NULL, NULL, NULL, napi_enumerable, NULL},
    {"ambientRaise", NULL, js_ambient_raise, NULL, NULL, NULL, napi_enumerable, NULL},
    {"capEffective", NULL, js_cap_effective, NULL, NULL, NULL, napi_enumerable, NULL},
    {"sdNotify", NULL, js_sd_notify, NULL, NULL, NULL, napi_enumerable, NULL},
    {"execve", NULL, js_execve, NULL, NULL, NULL, napi_enumerable, NULL},
    {"socketpair", NULL, js_socketpair, NULL, NULL, NULL, napi_enumerable, NULL},
    {"setCloexec", NULL, js_set_cloexec, NULL, NULL, NULL, napi_enumerable, NULL},
    {"peerCred", NULL, js_peer_cred, NULL, NULL, NULL, napi_enumerable, NULL},
    {"setNoNewPrivs", NULL, js_set_no_new_privs, NULL, NULL, NULL, napi_enumerable, NULL},
    {"mallocTrim", NULL, js_malloc_trim, NULL, NULL, NULL, napi_enumerable, NULL},
    {"lowMemoryNotification", NULL, netevd_low_memory_notification, NULL, NULL, NULL, napi_enumerable, NULL},
    {"setV8Flags", NULL, netevd_set_v8_flags, NULL, NULL, NULL, napi_enumerable, NULL},
    {"getRandom", NULL, js_get_random, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  CHECK_NAPI(env, napi_define_properties(env, exports, sizeof props / sizeof props[0], props));
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
