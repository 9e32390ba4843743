// Runs hook scripts: one script (runScript), or the scripts of one hook directory serially
// (runHookDir). See spec section 2.
//
// What runs is what was checked: the script is opened (following symlinks), the open fd is fstat'ed
// and checked again, and exactly that fd is executed through /proc/self/fd/3 (the fd is passed as
// the child's fd 3, without O_CLOEXEC, so that the interpreter of a `#!` script can re-open it).
// Renaming another file over the path between the check and the exec changes nothing.
// Consequence for `#!` scripts: the kernel hands the interpreter "/proc/self/fd/3" as the script
// path, so `$0` is "/proc/self/fd/3" (argv[0] is the real path only for binaries); LINK/STATE
// in `$1`/`$2` and the environment are unaffected.
//
// Completion is the child's `exit` event, never EOF on its pipes: a backgrounded grandchild that
// keeps stdout open cannot hang a run. When the script exits, what is left of its process group is
// SIGKILLed, its pipes are read for at most PIPE_DRAIN_MS more and then destroyed.
// Known escape: a grandchild that calls setsid(2) (or setpgid) leaves the script's process group
// and survives; only a cgroup per run would catch it.
import { spawn, type ChildProcess } from "node:child_process";
import * as fs from "node:fs";
import { StringDecoder } from "node:string_decoder";
import type { Readable } from "node:stream";
import type { HookJob } from "../../events/types.js";
import { buildHookEnv } from "./env.js";
import { discoverMerged, mergedParts } from "./merge.js";
import { checkStat, type Discovery, type HookScript, type SkippedScript } from "./discover.js";

export interface HookRunResult {
  event: string;
  eventId: string;
  link: string | null;
  script: string;
  path: string;
  /** RFC 3339, milliseconds, UTC */
  startedAt: string;
  durationMs: number;
  exitCode: number | null;
  signal: string | null;
  timedOut: boolean;
  ok: boolean;
  stderrTail: string[];
  /** could not open/check/exec */
  error?: string;
}

export interface HookLogger {
  info(msg: string, fields: Record<string, unknown>): void;
  warn(msg: string, fields: Record<string, unknown>): void;
  error(msg: string, fields: Record<string, unknown>): void;
  debug(msg: string, fields: Record<string, unknown>): void;
}

export interface RunOptions {
  timeoutSec: number;
  daemonUid: number;
  log: HookLogger;
  /** test-only seam: called after the fd was checked and before spawn */
  afterCheck?: (script: HookScript) => void | Promise<void>;
  /** called right before spawn (the benchmark measures event → exec start with it) */
  onSpawn?: (script: HookScript, hrtimeNs: bigint) => void;
}

/** Grace period between SIGTERM and SIGKILL on timeout. */
export const KILL_GRACE_MS = 2000;
/** How long the pipes are still read after the script exited. */
export const PIPE_DRAIN_MS = 100;
/** Lines of stderr kept for the result / failure log. */
export const STDERR_TAIL = 5;
/** A longer line is cut (and the rest of it dropped) so that a script cannot grow our memory. */
export const MAX_LINE = 8192;

const OPEN_FLAGS = fs.constants.O_RDONLY | fs.constants.O_NONBLOCK | fs.constants.O_NOCTTY;

function errCode(e: unknown): string {
  const err = e as NodeJS.ErrnoException | undefined;
  return err?.code ?? err?.message ?? String(e);
}

function killGroup(pid: number, sig: NodeJS.Signals): boolean {
  try {
    process.kill(-pid, sig);
    return true;
  } catch {
    return false; // ESRCH: nothing left in the group
  }
}

/**
 * Splits a stream into lines (LF, a trailing CR is removed), UTF-8 safe, each line capped at
 * MAX_LINE characters. Flushes a final partial line on end/close.
 */
function lineReader(stream: Readable, onLine: (line: string) => void): { flush(): void } {
  const dec = new StringDecoder("utf8");
  let buf = "";
  let skipping = false; // inside an over-long line: drop until the next newline
  let done = false;
  const emit = (line: string): void => {
    onLine(line.endsWith("\r") ? line.slice(0, -1) : line);
  };
  const feed = (text: string): void => {
    let start = 0;
    for (;;) {
      const nl = text.indexOf("\n", start);
      if (nl < 0) break;
      const part = text.slice(start, nl);
      if (skipping) skipping = false;
      else emit(buf + part);
      buf = "";
      start = nl + 1;
    }
    if (skipping) return;
    buf += text.slice(start);
    if (buf.length > MAX_LINE) {
      emit(`${buf.slice(0, MAX_LINE)} [line truncated]`);
      buf = "";
      skipping = true;
    }
  };
  const flush = (): void => {
    if (done) return;
    done = true;
    feed(dec.end());
    if (buf !== "" && !skipping) emit(buf);
    buf = "";
  };
  stream.on("data", (chunk: Buffer) => { if (!done) feed(dec.write(chunk)); });
  stream.on("end", flush);
  stream.on("close", flush);
  stream.on("error", () => { /* destroyed pipe, EPIPE...: nothing to do */ });
  return { flush };
}

/** Wait for a stream's end (EOF) with a deadline. */
function ended(stream: Readable | null, deadline: Promise<void>): Promise<void> {
  if (!stream || stream.readableEnded || stream.destroyed) return Promise.resolve();
  return Promise.race([
    new Promise<void>((res) => { stream.once("end", res); stream.once("close", res); }),
    deadline,
  ]);
}

function elapsedMs(t0: bigint): number {
  return Math.round(Number(process.hrtime.bigint() - t0) / 1e4) / 100;
}

/**
 * Run one script: open + fstat + check, then exec the checked fd. Resolves when the script has
 * exited (or could not be started); never rejects.
 */
export async function runScript(script: HookScript, job: HookJob, env: Record<string, string>, opts: RunOptions): Promise<HookRunResult> {
  const ev = job.event;
  const base = { event: ev.event, eventId: ev.id, link: ev.link, script: script.name, path: script.path };
  const fields = (extra: Record<string, unknown> = {}): Record<string, unknown> =>
    ({ event: ev.event, eventId: ev.id, link: ev.link, script: script.name, ...extra });
  const wallStart = Date.now();
  const t0 = process.hrtime.bigint();
  const failed = (error: string): HookRunResult => {
    const r: HookRunResult = { ...base, startedAt: new Date(wallStart).toISOString(), durationMs: elapsedMs(t0),
      exitCode: null, signal: null, timedOut: false, ok: false, stderrTail: [], error };
    opts.log.error("hook failed", fields({ path: script.path, exitCode: null, signal: null, durationMs: r.durationMs, error }));
    return r;
  };

  // ---- open and check what will be executed
  let fd: number;
  try {
    fd = fs.openSync(script.path, OPEN_FLAGS);
  } catch (e) {
    return failed(`cannot open: ${errCode(e)}`);
  }
  let fdOpen = true;
  const closeFd = (): void => {
    if (fdOpen) { fdOpen = false; try { fs.closeSync(fd); } catch { /* ignore */ } }
  };
  try {
    const reason = checkStat(fs.fstatSync(fd), opts.daemonUid);
    if (reason) { closeFd(); return failed(`refused after open: ${reason}`); }
  } catch (e) {
    closeFd();
    return failed(`cannot fstat: ${errCode(e)}`);
  }

  if (opts.afterCheck) {
    try {
      const p = opts.afterCheck(script);
      if (p) await p;
    } catch (e) {
      closeFd();
      return failed(`afterCheck: ${errCode(e)}`);
    }
  }

  // ---- spawn the checked fd
  let child: ChildProcess;
  const startedAt = new Date().toISOString();
  const t1 = process.hrtime.bigint();
  opts.onSpawn?.(script, t1);
  try {
    // argv carries the same validated values as the environment: a value dropped there is "" here
    child = spawn("/proc/self/fd/3", [env.LINK ?? "", env.STATE ?? ""], {
      argv0: script.target ?? script.path,
      cwd: "/",
      env,
      shell: false,
      detached: true, // setsid(): own session and process group, pgid = pid
      stdio: ["ignore", "pipe", "pipe", fd],
      windowsHide: true,
    });
  } catch (e) {
    closeFd();
    return failed(`cannot exec: ${errCode(e)}`);
  } finally {
    closeFd();
  }

  return new Promise<HookRunResult>((resolve) => {
    const pid = child.pid;
    const stderrTail: string[] = [];
    let timedOut = false;
    let settled = false;
    let termTimer: NodeJS.Timeout | undefined;
    let killTimer: NodeJS.Timeout | undefined;

    const out = child.stdout ? lineReader(child.stdout, (line) =>
      opts.log.info("hook output", fields({ stream: "stdout", line }))) : undefined;
    const err = child.stderr ? lineReader(child.stderr, (line) => {
      stderrTail.push(line);
      if (stderrTail.length > STDERR_TAIL) stderrTail.shift();
      opts.log.info("hook output", fields({ stream: "stderr", line }));
    }) : undefined;

    const finish = async (exitCode: number | null, signal: string | null, error?: string): Promise<void> => {
      if (settled) return;
      settled = true;
      const durationMs = elapsedMs(t1);
      if (termTimer) clearTimeout(termTimer);
      if (killTimer) clearTimeout(killTimer);
      // no grandchild survives the script (except one that left the group with setsid)
      if (pid !== undefined) killGroup(pid, "SIGKILL");
      // read what is still buffered, but never wait for EOF longer than PIPE_DRAIN_MS
      let drainTimer: NodeJS.Timeout | undefined;
      const deadline = new Promise<void>((res) => { drainTimer = setTimeout(res, PIPE_DRAIN_MS); });
      await Promise.all([ended(child.stdout, deadline), ended(child.stderr, deadline)]);
      if (drainTimer) clearTimeout(drainTimer);
      out?.flush();
      err?.flush();
      child.stdout?.destroy();
      child.stderr?.destroy();

      const ok = error === undefined && !timedOut && exitCode === 0;
      const r: HookRunResult = { ...base, startedAt, durationMs, exitCode, signal, timedOut, ok, stderrTail: [...stderrTail] };
      if (error !== undefined) r.error = error;
      const f = fields({ path: script.path, exitCode, signal, durationMs });
      if (ok) opts.log.info("hook finished", f);
      else if (timedOut) opts.log.warn("hook timed out", { ...f, timeoutSec: opts.timeoutSec, stderrTail: r.stderrTail });
      else opts.log.warn("hook failed", { ...f, stderrTail: r.stderrTail, ...(error !== undefined ? { error } : {}) });
      resolve(r);
    };

    child.once("exit", (code, signal) => { void finish(code, signal); });
    child.once("error", (e) => {
      // spawn failure (no 'exit' follows when the process never started)
      if (child.pid === undefined) void finish(null, null, `cannot exec: ${errCode(e)}`);
    });

    if (pid !== undefined && opts.timeoutSec > 0 && Number.isFinite(opts.timeoutSec)) {
      termTimer = setTimeout(() => {
        termTimer = undefined;
        if (settled) return;
        timedOut = true;
        killGroup(pid, "SIGTERM");
        killTimer = setTimeout(() => {
          killTimer = undefined;
          if (!settled) killGroup(pid, "SIGKILL");
        }, KILL_GRACE_MS);
      }, Math.max(1, Math.round(opts.timeoutSec * 1000)));
    }
  });
}

// ---- skip registry: what the API shows as "why skipped"; each (path, reason) is logged once

const loggedSkips = new Set<string>();
const MAX_LOGGED_SKIPS = 10_000;
const currentSkips = new Map<string, SkippedScript[]>();

/**
 * Record the outcome of a discovery: the directory's current skip list replaces the previous one,
 * and every (path, reason) not logged before is logged now.
 */
export function recordDiscovery(d: Discovery, log: HookLogger, ctx: Record<string, unknown> = {}): void {
  const list: SkippedScript[] = [...d.skipped];
  if (d.dirProblem !== undefined) {
    list.unshift({ name: d.dir.slice(d.dir.lastIndexOf("/") + 1), path: d.dir, reason: d.dirProblem });
  }
  if (d.dir !== "") {
    if (list.length > 0) currentSkips.set(d.dir, list);
    else currentSkips.delete(d.dir);
  }
  for (const s of list) {
    const key = `${s.path}\0${s.reason}`;
    if (loggedSkips.has(key)) continue;
    if (loggedSkips.size >= MAX_LOGGED_SKIPS) loggedSkips.clear();
    loggedSkips.add(key);
    const benign = s.reason === "subdirectory" || s.reason.startsWith("hidden file") || s.reason.includes("file name (ends in");
    (benign ? log.info : log.warn).call(log, "hook skipped", { ...ctx, script: s.name, path: s.path, reason: s.reason });
  }
}

/** Everything currently known as skipped (the last discovery of each hook directory). */
export function skippedScripts(): SkippedScript[] {
  const all: SkippedScript[] = [];
  for (const list of currentSkips.values()) all.push(...list);
  return all;
}

/** Test helper: forget the skip registry. */
export function resetSkipRegistry(): void {
  loggedSkips.clear();
  currentSkips.clear();
}

/**
 * Discover the scripts of the job's hook directory (logging each new skip once), build the
 * environment (logging dropped values), then run the scripts serially. A failing script never stops
 * the next one. Resolves with one result per script that was attempted.
 */
export async function runHookDir(scriptsDirs: string | readonly string[], job: HookJob, opts: RunOptions & { daemonEnv: NodeJS.ProcessEnv }): Promise<HookRunResult[]> {
  const ev = job.event;
  const ctx = { event: ev.event, eventId: ev.id, link: ev.link };
  const d = discoverMerged(typeof scriptsDirs === "string" ? [scriptsDirs] : scriptsDirs, ev.event, opts.daemonUid);
  for (const p of mergedParts(d)) if (p.skipped.length > 0 || p.dirProblem !== undefined || currentSkips.has(p.dir)) recordDiscovery(p, opts.log, ctx);
  if (d.scripts.length === 0) return [];

  const { env, problems } = buildHookEnv(job, opts.daemonEnv);
  for (const p of problems) opts.log.warn("hook env value dropped", { ...ctx, variable: p.variable, reason: p.reason });

  const results: HookRunResult[] = [];
  for (const script of d.scripts) results.push(await runScript(script, job, env, opts));
  return results;
}
