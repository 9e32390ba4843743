// Runs hook scripts: one script (runScript), or the scripts of one hook directory serially
// (runHookDir).
//
// What runs is what was checked: the script's real path (symlinks resolved) is checked, the whole
// chain of directories from `/` down included (owned by root or the daemon user, not group- or
// world-writable), so nobody else can swap the file in between, and then executed by that path with
// argv = [path]: a `#!` script's `$0` is its real path.
//
// Each script runs under a supervisor forked by the hook launcher (launcher.ts, native/hookexec.c):
// it closes every fd above 2, sets NoNewPrivs (not for root hooks), limits the inheritable set to
// the ambient set (the capabilities in hooks.capabilities, none by default), and is a child
// subreaper: whatever the script started, even after setsid, is killed when the script exits, at
// the timeout (SIGTERM, SIGKILL 2 s later) and when this process or the launcher dies
// (PR_SET_PDEATHSIG). Completion is the supervisor's exit, never EOF on the pipes. Output is logged
// line by line up to a per-run cap; the rest is counted.
import { isoTime } from "../../time.js";
import * as fs from "node:fs";
import { dirname } from "node:path";
import { StringDecoder } from "node:string_decoder";
import type { HookJob, HookRunResult } from "../../events/types.js";

export type { HookRunResult };
import { nativeExecutable } from "../../netlink/native.js";
import { buildHookEnv, execArgBudget, fitExecLimits } from "./env.js";
import { HookLauncher, type LaunchEnd, type LaunchHandle } from "./launcher.js";
import { discoverMerged, mergedParts } from "./merge.js";
import { chainProblem, checkStat, type Discovery, type HookScript, type SkippedScript } from "./discover.js";

export interface HookLogger {
  info(msg: string, fields: Record<string, unknown>): void;
  warn(msg: string, fields: Record<string, unknown>): void;
  error(msg: string, fields: Record<string, unknown>): void;
  debug(msg: string, fields: Record<string, unknown>): void;
}

/** What a run is for (tags every log record of it). */
export interface RunContext {
  event: string;
  eventId: string;
  link: string | null;
  /** which directories the script comes from: another dispatcher's (compat), else system.scripts_dirs */
  compat?: "networkd-dispatcher";
}

/** The result of a run that never started (refused, or its runner unreachable). */
export function notRunResult(ctx: RunContext, script: string, path: string, error: string): HookRunResult {
  return {
    event: ctx.event,
    eventId: ctx.eventId,
    link: ctx.link,
    script,
    path,
    startedAt: isoTime(),
    durationMs: 0,
    exitCode: null,
    signal: null,
    timedOut: false,
    ok: false,
    stderrTail: [],
    error,
  };
}

export function runContext(job: HookJob): RunContext {
  const rc: RunContext = { event: job.event.event, eventId: job.event.id, link: job.event.link };
  if (job.compat !== undefined) rc.compat = job.compat;
  return rc;
}

export interface RunOptions {
  timeoutSec: number;
  /** owners trusted besides root (the daemon's uid; 0 = root only, as for root hooks) */
  daemonUid: number;
  log: HookLogger;
  /** NoNewPrivs for the script (default true; false only for root hooks) */
  noNewPrivs?: boolean;
  /** called right before the start request to the launcher (the benchmark measures event → exec start with it) */
  onSpawn?: (script: HookScript, hrtimeNs: bigint) => void;
  /** ends the run as a timeout does (SIGTERM to everything, SIGKILL after the grace period) */
  signal?: AbortSignal;
  /** starts the run (default: this process's shared launcher, hookLauncher()) */
  launcher?: HookLauncher;
}

/** Runs one script somewhere else (the privileged runner for hooks.user: root). */
export interface RemoteRunner {
  run(script: HookScript, ctx: RunContext, env: Record<string, string>, timeoutSec: number, log: HookLogger): Promise<HookRunResult>;
  /** end the connection: the runner ends every run of it */
  close(): void;
}

/** Grace period between SIGTERM and SIGKILL on timeout. */
export const KILL_GRACE_MS = 2000;
/** Lines of stderr kept for the result / failure log. */
export const STDERR_TAIL = 5;
/** A longer line is cut (and the rest of it dropped) so that a script cannot grow our memory. */
export const MAX_LINE = 8192;
/** How netevd-hookexec reports a failed exec on stderr (then exit 127). */
const EXEC_FAILED = "netevd-hookexec: cannot execute ";
/** Per run (stdout and stderr together): at most this many lines ... */
export const MAX_LOGGED_LINES = 1000;
/** ... and this many bytes are logged; the rest is counted, and the count logged. */
export const MAX_LOGGED_BYTES = 256 * 1024;

function errCode(e: unknown): string {
  const err = e as NodeJS.ErrnoException | undefined;
  return err?.code ?? err?.message ?? String(e);
}

let argBudget: number | undefined;
function budget(): number {
  if (argBudget === undefined) {
    let text: string | undefined;
    try {
      text = fs.readFileSync("/proc/self/limits", "utf8");
    } catch {
      /* default */
    }
    argBudget = execArgBudget(text);
  }
  return argBudget;
}

/** What a run may still log; shared by its stdout and stderr. */
interface OutputBudget {
  lines: number;
  bytes: number;
  droppedLines: number;
  droppedBytes: number;
}

/**
 * Splits a byte stream into lines (LF, a trailing CR is removed), UTF-8 safe, each line capped at
 * MAX_LINE characters; flush() emits a final partial line. Once the budget is spent and no line is
 * wanted any more (`wantLines` false), only bytes and newlines are counted.
 */
function lineReader(budgetLeft: OutputBudget, wantLines: boolean, onLine: (line: string, logged: boolean) => void): { data(chunk: Buffer): void; flush(): void } {
  const dec = new StringDecoder("utf8");
  let buf = "";
  let skipping = false; // inside an over-long line: drop until the next newline
  let done = false;
  const emit = (line: string): void => {
    const text = line.endsWith("\r") ? line.slice(0, -1) : line;
    const bytes = Buffer.byteLength(text) + 1;
    const logged = budgetLeft.lines > 0 && budgetLeft.bytes >= bytes;
    if (logged) {
      budgetLeft.lines--;
      budgetLeft.bytes -= bytes;
    } else {
      budgetLeft.droppedLines++;
      budgetLeft.droppedBytes += bytes;
    }
    onLine(text, logged);
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
  let partial = false; // counting: the last chunk ended inside a line
  const count = (chunk: Buffer): void => {
    budgetLeft.droppedBytes += chunk.length;
    partial = chunk.length > 0 && chunk[chunk.length - 1] !== 10;
    for (let i = chunk.indexOf(10); i >= 0; i = chunk.indexOf(10, i + 1)) budgetLeft.droppedLines++;
  };
  const flush = (): void => {
    if (done) return;
    done = true;
    if (partial) budgetLeft.droppedLines++;
    feed(dec.end());
    if (buf !== "" && !skipping) emit(buf);
    buf = "";
  };
  const data = (chunk: Buffer): void => {
    if (done) return;
    if (!wantLines && budgetLeft.lines <= 0 && buf === "") count(chunk);
    else feed(dec.write(chunk));
  };
  return { data, flush };
}

function elapsedMs(t0: bigint): number {
  return Math.round(Number(process.hrtime.bigint() - t0) / 1e4) / 100;
}

/**
 * The real path of a script and why it must not run (undefined: it may): the directory chain and
 * the file itself are checked (lstat of the real path: a regular file, owner, mode, no setuid/setgid).
 */
export function checkScriptPath(path: string, daemonUid: number): { real?: string; problem?: string } {
  let real: string;
  try {
    real = fs.realpathSync.native(path);
  } catch (e) {
    return { problem: `cannot resolve: ${errCode(e)}` };
  }
  const chain = chainProblem(dirname(real), daemonUid);
  if (chain) return { real, problem: `path is not trusted: ${chain}` };
  try {
    const reason = checkStat(fs.lstatSync(real), daemonUid);
    if (reason) return { real, problem: reason };
  } catch (e) {
    return { real, problem: `cannot stat: ${errCode(e)}` };
  }
  return { real };
}

/**
 * Run one script: check its path, then exec it through netevd-hookexec. Resolves when the script
 * and everything it started are gone (or it could not be started); never rejects.
 */
export async function runScript(script: HookScript, ctx: RunContext, env: Record<string, string>, opts: RunOptions): Promise<HookRunResult> {
  const base = { event: ctx.event, eventId: ctx.eventId, link: ctx.link, script: script.name, path: script.path };
  // (ctx.compat only chooses directories; it is not part of the result)
  const fields = (extra: Record<string, unknown> = {}): Record<string, unknown> => ({ event: ctx.event, eventId: ctx.eventId, link: ctx.link, script: script.name, ...extra });
  const wallStart = Date.now();
  const t0 = process.hrtime.bigint();
  const failed = (error: string): HookRunResult => {
    const r: HookRunResult = {
      ...base,
      startedAt: isoTime(wallStart),
      durationMs: elapsedMs(t0),
      exitCode: null,
      signal: null,
      timedOut: false,
      ok: false,
      stderrTail: [],
      error,
    };
    opts.log.error("hook failed", fields({ path: script.path, exitCode: null, signal: null, durationMs: r.durationMs, error }));
    return r;
  };

  const { real, problem } = checkScriptPath(script.path, opts.daemonUid);
  if (problem !== undefined || real === undefined) return failed(`refused: ${problem ?? "no path"}`);
  const launcher = opts.launcher ?? hookLauncher();
  // the script's execve gets argv [real] and the environment: both count against its limits
  const fit = fitExecLimits(env, [real], budget());
  for (const p of fit.problems) opts.log.warn("hook env value dropped", fields({ variable: p.variable, reason: p.reason }));

  const startedAt = isoTime();
  const t1 = process.hrtime.bigint();
  opts.onSpawn?.(script, t1);

  return new Promise<HookRunResult>((resolve) => {
    const stderrTail: string[] = [];
    const left: OutputBudget = { lines: MAX_LOGGED_LINES, bytes: MAX_LOGGED_BYTES, droppedLines: 0, droppedBytes: 0 };
    let timedOut = false;
    let settled = false;
    let termTimer: NodeJS.Timeout | undefined;
    let killTimer: NodeJS.Timeout | undefined;

    const out = lineReader(left, false, (line, logged) => {
      if (logged) opts.log.info("hook output", fields({ stream: "stdout", line }));
    });
    const err = lineReader(left, true, (line, logged) => {
      stderrTail.push(line);
      if (stderrTail.length > STDERR_TAIL) stderrTail.shift();
      if (logged) opts.log.info("hook output", fields({ stream: "stderr", line }));
    });

    // the launcher sends a run's end only after all of its output (it and everything it started are gone)
    const finish = (how: LaunchEnd): void => {
      if (settled) return;
      settled = true;
      const durationMs = elapsedMs(t1);
      if (termTimer) clearTimeout(termTimer);
      if (killTimer) clearTimeout(killTimer);
      opts.signal?.removeEventListener("abort", end);
      out.flush();
      err.flush();
      if (left.droppedLines > 0 || left.droppedBytes > 0) {
        opts.log.warn(
          "hook output not logged",
          fields({ droppedLines: left.droppedLines, droppedBytes: left.droppedBytes, limitLines: MAX_LOGGED_LINES, limitBytes: MAX_LOGGED_BYTES }),
        );
      }
      let error = "error" in how ? how.error : undefined;
      const exitCode = "error" in how ? null : how.exitCode;
      const signal = "error" in how ? null : how.signal;
      // the supervisor could not exec the script (ENOEXEC: no #! line, ...): a run error, not an exit code
      const last = stderrTail[stderrTail.length - 1] ?? "";
      if (error === undefined && exitCode === 127 && last.startsWith(EXEC_FAILED)) error = `cannot exec: ${last.slice(EXEC_FAILED.length)}`;
      const ok = error === undefined && !timedOut && exitCode === 0;
      const r: HookRunResult = { ...base, startedAt, durationMs, exitCode, signal, timedOut, ok, stderrTail: [...stderrTail] };
      if (error !== undefined) r.error = error;
      const f = fields({ path: script.path, exitCode, signal, durationMs });
      if (ok) opts.log.info("hook finished", f);
      else if (timedOut) opts.log.warn("hook timed out", { ...f, timeoutSec: opts.timeoutSec, stderrTail: r.stderrTail });
      else opts.log.warn("hook failed", { ...f, stderrTail: r.stderrTail, ...(error !== undefined ? { error } : {}) });
      resolve(r);
    };

    // runScript never rejects: should finishing fail, the run still ends, as a failed one
    const run: LaunchHandle = launcher.launch(
      real,
      fit.env,
      { noNewPrivs: opts.noNewPrivs !== false },
      {
        stdout: (chunk) => out.data(chunk),
        stderr: (chunk) => err.data(chunk),
        end: (how) => {
          try {
            finish(how);
          } catch (e) {
            resolve(failed(`internal error: ${e instanceof Error ? e.message : String(e)}`));
          }
        },
      },
    );

    const end = (): void => {
      if (settled || killTimer) return;
      // the supervisor signals every descendant: SIGTERM now, SIGKILL after KILL_GRACE_MS
      run.terminate();
      // backstop, should the supervisor itself not end
      killTimer = setTimeout(() => {
        if (!settled) run.kill();
      }, KILL_GRACE_MS + 3000);
    };
    if (opts.timeoutSec > 0 && Number.isFinite(opts.timeoutSec)) {
      termTimer = setTimeout(
        () => {
          termTimer = undefined;
          if (settled) return;
          timedOut = true;
          end();
        },
        Math.max(1, Math.round(opts.timeoutSec * 1000)),
      );
    }
    if (opts.signal) {
      if (opts.signal.aborted) end();
      else opts.signal.addEventListener("abort", end, { once: true });
    }
  });
}

let shared: HookLauncher | undefined;
/**
 * This process's hook launcher (started on first use, or by the daemon at start). Its deaths are
 * reported on stderr unless a logger is attached with setLauncherLog.
 */
export function hookLauncher(): HookLauncher {
  shared ??= new HookLauncher(() => nativeExecutable("netevd-hookexec"), {
    graceMs: KILL_GRACE_MS,
    onDied: (reason, inFlight) => launcherLog.error("hook launcher died; the runs in flight failed, the next run starts a new one", { reason, inFlight }),
  });
  return shared;
}

let launcherLog: Pick<HookLogger, "error"> = {
  error: (msg, fields) => process.stderr.write(`${msg} ${JSON.stringify(fields)}\n`),
};
/** Where the shared launcher's deaths are logged. */
export function setLauncherLog(log: Pick<HookLogger, "error">): void {
  launcherLog = log;
}

// ---- skip registry: what was skipped and why; each (path, reason) is logged once per registry

const MAX_LOGGED_SKIPS = 10_000;

/** What the daemon knows as skipped (the last discovery of each hook directory), and what it logged. */
export class SkipRegistry {
  private readonly logged = new Set<string>();
  private readonly current = new Map<string, SkippedScript[]>();

  /**
   * Record the outcome of a discovery: the directory's current skip list replaces the previous one,
   * and every (path, reason) not logged before is logged now.
   */
  record(d: Discovery, log: HookLogger, ctx: Record<string, unknown> = {}): void {
    const list: SkippedScript[] = [...d.skipped];
    if (d.dirProblem !== undefined) {
      list.unshift({ name: d.dir.slice(d.dir.lastIndexOf("/") + 1), path: d.dir, reason: d.dirProblem });
    }
    if (d.dir !== "") {
      if (list.length > 0) this.current.set(d.dir, list);
      else this.current.delete(d.dir);
    }
    for (const s of list) {
      const key = `${s.path}\0${s.reason}`;
      if (this.logged.has(key)) continue;
      if (this.logged.size >= MAX_LOGGED_SKIPS) this.logged.clear();
      this.logged.add(key);
      const benign = s.reason === "subdirectory" || s.reason.startsWith("hidden file") || s.reason.includes("file name (ends in");
      log[benign ? "info" : "warn"]("hook skipped", { ...ctx, script: s.name, path: s.path, reason: s.reason });
    }
  }

  /** Whether the directory had skips at its last discovery (a now clean one must be recorded, to clear them). */
  has(dir: string): boolean {
    return this.current.has(dir);
  }

  /** Everything currently known as skipped. */
  list(): SkippedScript[] {
    const all: SkippedScript[] = [];
    for (const list of this.current.values()) all.push(...list);
    return all;
  }
}

/**
 * Discover the scripts of the job's hook directory (logging each new skip once), build the
 * environment (logging dropped values), then run the scripts serially. A failing script never stops
 * the next one. Resolves with one result per script that was attempted.
 */
export async function runHookDir(
  scriptsDirs: string | readonly string[],
  job: HookJob,
  opts: RunOptions & { daemonEnv: NodeJS.ProcessEnv; runner?: RemoteRunner; skips: SkipRegistry },
): Promise<HookRunResult[]> {
  const ev = job.event;
  const ctx = { event: ev.event, eventId: ev.id, link: ev.link };
  const d = discoverMerged(typeof scriptsDirs === "string" ? [scriptsDirs] : scriptsDirs, ev.event, opts.daemonUid);
  for (const p of mergedParts(d)) if (p.skipped.length > 0 || p.dirProblem !== undefined || opts.skips.has(p.dir)) opts.skips.record(p, opts.log, ctx);
  if (d.scripts.length === 0) return [];

  const { env, problems } = buildHookEnv(job, opts.daemonEnv);
  for (const p of problems) opts.log.warn("hook env value dropped", { ...ctx, variable: p.variable, reason: p.reason });

  const results: HookRunResult[] = [];
  const rc = runContext(job);
  for (const script of d.scripts) {
    if (opts.signal?.aborted) break; // stopping: the rest of the directory does not start
    results.push(await (opts.runner ? opts.runner.run(script, rc, env, opts.timeoutSec, opts.log) : runScript(script, rc, env, opts)));
  }
  return results;
}
