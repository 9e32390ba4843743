// Hook runner with real processes and files, as root inside a lab (private pid namespace: every
// process a test spawns dies with the lab).
import { test } from "node:test";
import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import * as path from "node:path";
import { getEventListeners } from "node:events";
import { labFile, waitFor, tempDir } from "./lab.js";
import { gone, logger, readPid } from "./hook-fixtures.js";
import {
  buildHookEnv,
  discoverHooks,
  runHookDir,
  runScript as runScriptCtx,
  runContext,
  SkipRegistry,
  MAX_LOGGED_LINES,
  type HookLogger,
  type HookScript,
  type RunOptions,
} from "../../src/actions/hooks/index.js";
import type { HookJob, NetevdEvent } from "../../src/events/types.js";

let seq = 0;
function job(event: string, over: Partial<NetevdEvent> = {}, extra: Partial<HookJob> = {}): HookJob {
  const ev: NetevdEvent = {
    schema: "netevd.event.v1",
    id: `lab-${++seq}`,
    ts: new Date().toISOString(),
    event,
    link: "lab0",
    index: 7,
    backend: "kernel",
    source: "kernel",
    state: { carrier: true },
    previous: { carrier: false },
    changed: ["carrier"],
    addresses: ["10.77.0.50/24", "fe80::4e:56ff:fe00:2/64", "2001:db8::50/64"],
    gateway: "10.77.0.1",
    dns: [],
    replay: false,
    ...over,
  };
  return { event: ev, state: event, env: {}, ...extra };
}

function mkdir(p: string, mode = 0o755): string {
  fs.mkdirSync(p, { recursive: true });
  fs.chmodSync(p, mode);
  return p;
}

function script(dir: string, name: string, body: string, mode = 0o755): string {
  const p = path.join(dir, name);
  fs.writeFileSync(p, `#!/bin/sh\n${body}\n`);
  fs.chmodSync(p, mode);
  return p;
}

/** Live (non-zombie) members of a process group. */
function groupMembers(pgid: number): number[] {
  const out: number[] = [];
  for (const d of fs.readdirSync("/proc")) {
    if (!/^[0-9]+$/.test(d)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${d}/stat`, "utf8");
      const rest = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      if (rest[0] !== "Z" && Number(rest[2]) === pgid) out.push(Number(d));
    } catch {
      /* raced with exit */
    }
  }
  return out;
}

const runScript = (s: HookScript, j: HookJob, env: Record<string, string>, o: RunOptions) => runScriptCtx(s, runContext(j), env, o);

/** Live (non-zombie) processes whose command line contains `marker`. */
function withMarker(marker: string): number[] {
  const out: number[] = [];
  for (const d of fs.readdirSync("/proc")) {
    if (!/^[0-9]+$/.test(d) || Number(d) === process.pid) continue;
    try {
      const cmd = fs.readFileSync(`/proc/${d}/cmdline`, "utf8");
      if (cmd.includes(marker) && !gone(Number(d))) out.push(Number(d));
    } catch {
      /* raced with exit */
    }
  }
  return out;
}

if (labFile(import.meta.url)) {
  // below /run/netevd-lab/tmp: a root-owned chain of directories, as scripts need
  const root = tempDir("hooks-");
  let n = 0;
  /** A fresh scripts dir (with the hook dir for `event`) and an output dir. */
  const fresh = (event: string, dirMode = 0o755) => {
    const base = mkdir(path.join(root, `t${++n}`));
    const scripts = mkdir(path.join(base, "scripts"));
    const hookDir = mkdir(path.join(scripts, `${event}.d`), dirMode);
    const out = mkdir(path.join(base, "out"));
    return { base, scripts, hookDir, out };
  };
  let skips = new SkipRegistry();
  const opts = (log: HookLogger, over: Record<string, unknown> = {}) => ({ timeoutSec: 10, daemonUid: 0, log, daemonEnv: { LANG: "C.UTF-8", HOME: "/root" }, skips, ...over });

  test("scripts run byte-wise sorted, serially, with argv [real path] and the cleared environment", async () => {
    const { scripts, hookDir, out } = fresh("carrier");
    const names = ["10-c", "a-low", "01-a", "Z-up", "02-b"];
    for (const name of names) {
      script(
        hookDir,
        name,
        [
          `echo ${name} >> ${out}/order`,
          `echo "$0 $#" > ${out}/${name}.argv`,
          `tr '\\0' '\\n' < /proc/$$/environ > ${out}/${name}.env`,
          name === "02-b" ? "echo failing >&2; exit 1" : "exit 0",
        ].join("\n"),
      );
    }
    const log = logger();
    const j = job("carrier");
    const results = await runHookDir(scripts, j, opts(log));
    const order = ["01-a", "02-b", "10-c", "Z-up", "a-low"]; // byte order, not locale order
    assert.deepEqual(
      results.map((r) => r.script),
      order,
    );
    assert.deepEqual(fs.readFileSync(`${out}/order`, "utf8").trim().split("\n"), order);
    assert.deepEqual(
      results.map((r) => r.ok),
      [true, false, true, true, true],
    );
    assert.equal(results[1]!.exitCode, 1);
    assert.deepEqual(results[1]!.stderrTail, ["failing"]);

    const expectedEnv = buildHookEnv(j, { LANG: "C.UTF-8", HOME: "/root" }).env;
    for (const name of order) {
      // exec'd by path, no arguments: $0 is the script's real path, $# is 0
      assert.equal(fs.readFileSync(`${out}/${name}.argv`, "utf8"), `${fs.realpathSync(path.join(hookDir, name))} 0\n`);
      const env = Object.fromEntries(
        fs
          .readFileSync(`${out}/${name}.env`, "utf8")
          .trim()
          .split("\n")
          .map((l) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1)]),
      );
      assert.deepEqual(env, expectedEnv);
    }
    const env0 = expectedEnv;
    assert.equal(env0.PATH, "/usr/sbin:/usr/bin:/sbin:/bin");
    assert.equal(env0.ADDRESSES, "10.77.0.50 2001:db8::50");
    assert.equal(env0.LINK, "lab0");
    assert.equal(env0.LINKINDEX, "7");
    assert.equal(env0.HOME, undefined);
    for (const r of results) {
      assert.equal(r.eventId, j.event.id);
      assert.equal(r.link, "lab0");
      assert.equal(r.event, "carrier");
      assert.match(r.startedAt, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
      assert.ok(r.durationMs >= 0 && r.durationMs < 5000);
    }
    assert.ok(log.recs.some((r) => r.msg === "hook failed" && r.fields.script === "02-b" && r.fields.exitCode === 1));
    assert.equal(log.recs.filter((r) => r.msg === "hook finished").length, 4);
  });

  test("unfit candidates are skipped with their reason, logged once, and never run", async () => {
    const { base, scripts, hookDir, out } = fresh("routable");
    const targets = mkdir(path.join(base, "targets"));
    const marker = (name: string) => `touch ${out}/ran-${name.replace(/[^A-Za-z0-9_-]/g, "_")}`;
    const mk = (name: string, mode = 0o755) => script(hookDir, name, marker(name), mode);
    mk("50-good");
    mk("20-gw", 0o775);
    mk("21-ww", 0o757);
    fs.chownSync(mk("22-other"), 65534, 65534);
    mk("foo~");
    mk("x.dpkg-old");
    mk("y.rpmnew");
    mk("z.bak");
    mk(".hidden");
    mk("30-noexec", 0o644);
    mkdir(path.join(hookDir, "sub"));
    script(path.join(hookDir, "sub"), "inner", marker("inner"));
    script(targets, "good-target", marker("40-link"));
    script(targets, "ww-target", marker("41-badlink"), 0o757);
    fs.symlinkSync(path.join(targets, "good-target"), path.join(hookDir, "40-link"));
    fs.symlinkSync(path.join(targets, "ww-target"), path.join(hookDir, "41-badlink"));
    fs.symlinkSync(path.join(targets, "missing"), path.join(hookDir, "42-dangling"));
    mk("43-setuid", 0o4755);
    mk("44-setgid", 0o2755);

    const d = discoverHooks(scripts, "routable", 0);
    assert.equal(d.dir, hookDir);
    assert.equal(d.dirProblem, undefined);
    assert.deepEqual(
      d.scripts.map((s) => s.name),
      ["40-link", "50-good"],
    );
    assert.equal(d.scripts[0]!.target, path.join(targets, "good-target"));
    const reasons = Object.fromEntries(d.skipped.map((s) => [s.name, s.reason]));
    assert.deepEqual(
      Object.keys(reasons).sort(),
      [".hidden", "20-gw", "21-ww", "22-other", "30-noexec", "41-badlink", "42-dangling", "43-setuid", "44-setgid", "foo~", "sub", "x.dpkg-old", "y.rpmnew", "z.bak"].sort(),
    );
    assert.equal(reasons["20-gw"], "group-writable");
    assert.equal(reasons["21-ww"], "world-writable");
    assert.match(reasons["22-other"]!, /owned by uid 65534/);
    assert.match(reasons["foo~"]!, /ends in ~/);
    assert.match(reasons["x.dpkg-old"]!, /\.dpkg-old/);
    assert.match(reasons["y.rpmnew"]!, /\.rpmnew/);
    assert.match(reasons["z.bak"]!, /\.bak/);
    assert.match(reasons[".hidden"]!, /dotfile/);
    assert.equal(reasons.sub, "subdirectory");
    assert.equal(reasons["30-noexec"], "not executable");
    assert.equal(reasons["41-badlink"], "symlink target: world-writable");
    assert.equal(reasons["43-setuid"], "setuid");
    assert.equal(reasons["44-setgid"], "setgid");
    assert.equal(reasons["42-dangling"], "dangling symlink");

    skips = new SkipRegistry();
    const log = logger();
    const results = await runHookDir(scripts, job("routable"), opts(log));
    assert.deepEqual(
      results.map((r) => [r.script, r.ok]),
      [
        ["40-link", true],
        ["50-good", true],
      ],
    );
    assert.deepEqual(fs.readdirSync(out).sort(), ["ran-40-link", "ran-50-good"]);

    const skipLogs = log.recs.filter((r) => r.msg === "hook skipped");
    assert.equal(skipLogs.length, d.skipped.length);
    assert.equal(skipLogs.find((r) => r.fields.script === "21-ww")!.fields.reason, "world-writable");
    assert.equal(skipLogs.find((r) => r.fields.script === "21-ww")!.level, "warn");
    assert.deepEqual(
      skips
        .list()
        .map((s) => s.name)
        .sort(),
      Object.keys(reasons).sort(),
    );

    // a second run logs no skip again (once per path and reason for the daemon's lifetime)
    await runHookDir(scripts, job("routable"), opts(log));
    assert.equal(log.recs.filter((r) => r.msg === "hook skipped").length, d.skipped.length);

    // fixed files leave the current skip list; a changed reason is logged anew
    fs.chmodSync(path.join(hookDir, "20-gw"), 0o755);
    fs.chmodSync(path.join(hookDir, "21-ww"), 0o777);
    const again = await runHookDir(scripts, job("routable"), opts(log));
    assert.deepEqual(
      again.map((r) => r.script),
      ["20-gw", "40-link", "50-good"],
    );
    assert.ok(!skips.list().some((s) => s.name === "20-gw"));
    assert.equal(log.recs.filter((r) => r.msg === "hook skipped").length, d.skipped.length + 1);
    assert.equal(skips.list().find((s) => s.name === "21-ww")!.reason, "group- and world-writable");
  });

  test("a group-writable hook directory is refused as a whole", async () => {
    const { scripts, hookDir, out } = fresh("carrier", 0o775);
    script(hookDir, "01-ok", `touch ${out}/ran`);
    const d = discoverHooks(scripts, "carrier", 0);
    assert.match(d.dirProblem ?? "", /group-writable/);
    assert.deepEqual(d.scripts, []);
    skips = new SkipRegistry();
    const log = logger();
    assert.deepEqual(await runHookDir(scripts, job("carrier"), opts(log)), []);
    assert.equal(fs.existsSync(`${out}/ran`), false);
    assert.deepEqual(
      skips.list().map((s) => [s.path, s.reason]),
      [[hookDir, "hook directory is group-writable"]],
    );
    assert.equal(log.recs.filter((r) => r.msg === "hook skipped").length, 1);

    // world-writable (sticky) too; missing dir = nothing, no problem; unknown event = problem
    fs.chmodSync(hookDir, 0o1777);
    assert.match(discoverHooks(scripts, "carrier", 0).dirProblem ?? "", /world-writable/);
    assert.deepEqual(discoverHooks(scripts, "no-carrier", 0), { dir: path.join(scripts, "no-carrier.d"), scripts: [], skipped: [] });
    assert.match(discoverHooks(scripts, "../etc", 0).dirProblem ?? "", /no hook directory/);
  });

  test("a world-writable directory anywhere up the chain: the scripts are skipped with the reason logged", async () => {
    const { base, scripts, hookDir, out } = fresh("carrier");
    script(hookDir, "01-ok", `touch ${out}/ran`);
    assert.deepEqual(
      discoverHooks(scripts, "carrier", 0).scripts.map((x) => x.name),
      ["01-ok"],
    );
    for (const [dir, mode, reason] of [
      [base, 0o777, "world-writable"],
      [scripts, 0o1777, "world-writable"],
      [base, 0o775, "group-writable"],
    ] as const) {
      fs.chmodSync(dir, mode);
      skips = new SkipRegistry();
      const log = logger();
      assert.deepEqual(await runHookDir(scripts, job("carrier"), opts(log)), []);
      const skip = log.recs.find((r) => r.msg === "hook skipped");
      assert.ok(skip, "the skip is logged");
      assert.equal(skip.level, "warn");
      assert.match(String(skip.fields.reason), new RegExp(`not trusted: ${dir} is (group- and )?${reason}`));
      fs.chmodSync(dir, 0o755);
    }
    // an untrusted owner up the chain too
    fs.chownSync(base, 65534, 65534);
    assert.match(discoverHooks(scripts, "carrier", 0).dirProblem ?? "", /owned by uid 65534/);
    fs.chownSync(base, 0, 0);
    assert.equal(fs.existsSync(`${out}/ran`), false);
    // a symlink whose target lies below /tmp (world-writable) is skipped
    const tmpTarget = fs.mkdtempSync("/tmp/netevd-hook-target-");
    try {
      fs.chmodSync(tmpTarget, 0o755);
      script(tmpTarget, "t", `touch ${out}/tmp-ran`);
      fs.symlinkSync(path.join(tmpTarget, "t"), path.join(hookDir, "02-tmp"));
      const d = discoverHooks(scripts, "carrier", 0);
      assert.match(d.skipped.find((x) => x.name === "02-tmp")?.reason ?? "", /symlink target path is not trusted: \/tmp is/);
    } finally {
      fs.rmSync(tmpTarget, { recursive: true, force: true });
    }
  });

  test("the chain is checked again right before exec: a script whose directory went bad is refused", async () => {
    const { scripts, hookDir, out } = fresh("carrier");
    const p = script(hookDir, "01-late", `touch ${out}/ran`);
    fs.chmodSync(scripts, 0o777);
    const j = job("carrier");
    const r = await runScript({ name: "01-late", path: p }, j, buildHookEnv(j, {}).env, opts(logger()));
    fs.chmodSync(scripts, 0o755);
    assert.equal(r.ok, false);
    assert.match(r.error ?? "", /refused: path is not trusted: .* is (group- and )?world-writable/);
    assert.equal(fs.existsSync(`${out}/ran`), false);
  });

  test("timeout: SIGTERM ignored, group SIGKILLed 2 s later with its background child", async () => {
    const { hookDir, out } = fresh("carrier");
    const p = script(
      hookDir,
      "01-hang",
      [
        "trap '' TERM",
        "echo $$ > " + `${out}/leader.tmp && mv ${out}/leader.tmp ${out}/leader`,
        `sleep 1001 &`,
        `echo $! > ${out}/child.tmp && mv ${out}/child.tmp ${out}/child`,
        "echo waiting",
        "wait",
        "wait",
      ].join("\n"),
    );
    const log = logger();
    const j = job("carrier");
    const t0 = Date.now();
    const r = await runScript({ name: "01-hang", path: p }, j, buildHookEnv(j, {}).env, { ...opts(log), timeoutSec: 0.5 });
    const wall = Date.now() - t0;
    assert.equal(r.timedOut, true);
    assert.equal(r.ok, false);
    assert.equal(r.signal, "SIGKILL");
    assert.equal(r.exitCode, null);
    // timeout 0.5 s + 2 s grace; the upper bounds only tell "killed" from "left running" (the script
    // waits for a 1001 s sleep), with room for a loaded machine
    assert.ok(r.durationMs >= 2400 && r.durationMs < 8000, `duration ${r.durationMs}`);
    assert.ok(wall < 8000, `wall ${wall}`);
    const leader = await readPid(`${out}/leader`);
    const child = await readPid(`${out}/child`);
    await waitFor("sleep 1001 gone", () => gone(child), 1000);
    assert.deepEqual(groupMembers(leader), []);
    const to = log.recs.find((x) => x.msg === "hook timed out");
    assert.ok(to, "timed-out record");
    assert.equal(to.fields.script, "01-hang");
    assert.equal(to.fields.eventId, j.event.id);
    assert.equal(to.fields.signal, "SIGKILL");
    assert.ok(log.recs.some((x) => x.msg === "hook output" && x.fields.line === "waiting"));
  });

  test("completion is exit, not EOF: a background child holding stdout does not hang the run and is killed", async () => {
    const { hookDir, out } = fresh("carrier");
    const p = script(hookDir, "01-bg", [`sleep 1002 &`, `echo $! > ${out}/child.tmp && mv ${out}/child.tmp ${out}/child`, "echo started", "exit 0"].join("\n"));
    const log = logger();
    const j = job("carrier");
    const t0 = Date.now();
    const r = await runScript({ name: "01-bg", path: p }, j, buildHookEnv(j, {}).env, opts(log));
    const wall = Date.now() - t0;
    assert.equal(r.ok, true);
    assert.equal(r.exitCode, 0);
    assert.equal(r.timedOut, false);
    assert.ok(wall < 5000, `wall ${wall} ms: completion did not wait for the child holding stdout (1002 s) or the 10 s timeout`);
    const child = await readPid(`${out}/child`);
    await waitFor("sleep 1002 gone", () => gone(child), 1000);
    assert.ok(log.recs.some((x) => x.msg === "hook output" && x.fields.line === "started" && x.fields.stream === "stdout"));
  });

  test("a grandchild that calls setsid (or double-forks) dies when the script exits", async () => {
    const { hookDir, out } = fresh("carrier");
    const p = script(
      hookDir,
      "01-escape",
      [
        `setsid sh -c 'echo $$ > ${out}/esc.tmp && mv ${out}/esc.tmp ${out}/esc; exec sleep 1003' </dev/null >/dev/null 2>&1 &`,
        `(sleep 1004 </dev/null >/dev/null 2>&1 &)`,
        `while [ ! -s ${out}/esc ]; do sleep 0.01; done`,
        "exit 0",
      ].join("\n"),
    );
    const j = job("carrier");
    const r = await runScript({ name: "01-escape", path: p }, j, buildHookEnv(j, {}).env, opts(logger()));
    assert.equal(r.ok, true);
    const esc = await readPid(`${out}/esc`);
    // the run ends only once nothing of it is left
    assert.equal(gone(esc), true, "the setsid grandchild is gone when the run ends");
    assert.deepEqual(withMarker("sleep\u00001003"), []);
    assert.deepEqual(withMarker("sleep\u00001004"), []);
  });

  test("at the timeout a setsid grandchild that ignores SIGTERM goes too", async () => {
    const { hookDir, out } = fresh("carrier");
    const p = script(
      hookDir,
      "01-escape-hang",
      [`setsid sh -c 'trap "" TERM; echo $$ > ${out}/esc.tmp && mv ${out}/esc.tmp ${out}/esc; while :; do sleep 1005; done' </dev/null >/dev/null 2>&1 &`, "exec sleep 1006"].join(
        "\n",
      ),
    );
    const j = job("carrier");
    const r = await runScript({ name: "01-escape-hang", path: p }, j, buildHookEnv(j, {}).env, { ...opts(logger()), timeoutSec: 0.5 });
    assert.equal(r.timedOut, true);
    const esc = await readPid(`${out}/esc`);
    assert.equal(gone(esc), true);
    assert.deepEqual(withMarker("sleep\u00001005"), []);
    assert.deepEqual(withMarker("sleep\u00001006"), []);
  });

  test("stdout/stderr lines are logged tagged with script and event id; stderrTail keeps the last 5", async () => {
    const { scripts, hookDir } = fresh("degraded");
    script(hookDir, "05-noisy", ["echo out-1", "printf 'out-2 no newline'", "for i in 1 2 3 4 5 6 7; do echo err-$i >&2; done", "printf 'crlf\\r\\n' >&2", "exit 3"].join("\n"));
    const log = logger();
    const j = job("degraded", { backend: "systemd-networkd" });
    const [r] = await runHookDir(scripts, j, opts(log));
    assert.ok(r);
    assert.equal(r.ok, false);
    assert.equal(r.exitCode, 3);
    assert.deepEqual(r.stderrTail, ["err-4", "err-5", "err-6", "err-7", "crlf"]);
    const lines = log.recs.filter((x) => x.msg === "hook output");
    for (const l of lines) {
      assert.equal(l.fields.script, "05-noisy");
      assert.equal(l.fields.eventId, j.event.id);
      assert.equal(l.fields.event, "degraded");
      assert.equal(l.fields.link, "lab0");
    }
    assert.deepEqual(
      lines.filter((l) => l.fields.stream === "stdout").map((l) => l.fields.line),
      ["out-1", "out-2 no newline"],
    );
    assert.deepEqual(
      lines.filter((l) => l.fields.stream === "stderr").map((l) => l.fields.line),
      ["err-1", "err-2", "err-3", "err-4", "err-5", "err-6", "err-7", "crlf"],
    );
    const failed = log.recs.find((x) => x.msg === "hook failed");
    assert.ok(failed);
    assert.equal(failed.fields.exitCode, 3);
    assert.equal(failed.fields.script, "05-noisy");
    assert.deepEqual(failed.fields.stderrTail, r.stderrTail);
    assert.equal(typeof failed.fields.durationMs, "number");
  });

  test("env problems are logged and the script still runs; open errors are reported", async () => {
    const { scripts, hookDir, out } = fresh("carrier");
    script(hookDir, "01-env", `tr '\\0' '\\n' < /proc/$$/environ > ${out}/env`);
    const log = logger();
    const j = job("carrier", {}, { env: { PATH: "/tmp", DHCP_HOSTNAME: "a;reboot", GOOD: "yes" } });
    const [r] = await runHookDir(scripts, j, opts(log));
    assert.equal(r?.ok, true);
    const env = fs.readFileSync(`${out}/env`, "utf8");
    assert.match(env, /^GOOD=yes$/m);
    assert.match(env, /^PATH=\/usr\/sbin:\/usr\/bin:\/sbin:\/bin$/m);
    assert.doesNotMatch(env, /DHCP_HOSTNAME/);
    const dropped = log.recs
      .filter((x) => x.msg === "hook env value dropped")
      .map((x) => x.fields.variable)
      .sort();
    assert.deepEqual(dropped, ["DHCP_HOSTNAME", "PATH"]);

    // no #! line: the exec fails (ENOEXEC), reported as a run error
    const noShebang = path.join(hookDir, "03-noshebang");
    fs.writeFileSync(noShebang, "echo hi\n");
    fs.chmodSync(noShebang, 0o755);
    const enoexec = await runScript({ name: "03-noshebang", path: noShebang }, j, {}, opts(log));
    assert.equal(enoexec.ok, false);
    assert.match(enoexec.error ?? "", new RegExp(`cannot exec: ${noShebang}: ENOEXEC`));
    const missing = await runScript({ name: "nope", path: path.join(hookDir, "nope") }, j, {}, opts(log));
    assert.equal(missing.ok, false);
    assert.match(missing.error ?? "", /ENOENT/);
    // a file that went bad after discovery is refused on the fd check
    const bad = script(hookDir, "02-bad", `touch ${out}/bad-ran`, 0o777);
    const refused = await runScript({ name: "02-bad", path: bad }, j, {}, opts(log));
    assert.match(refused.error ?? "", /refused: group- and world-writable/);
    assert.equal(fs.existsSync(`${out}/bad-ran`), false);
  });

  test("an event JSON at the execve string limit: the value is dropped and logged, the script still runs", async () => {
    const { scripts, hookDir, out } = fresh("routable");
    script(hookDir, "01-env", `tr '\\0' '\\n' < /proc/$$/environ > ${out}/env`);
    // JSON must be valid: {"k":"aaaa…"} of exactly `size` bytes; "JSON=" + value + NUL > 131072 for these sizes
    for (const size of [131_067, 131_070, 131_072]) {
      const json = `{"k":"${"a".repeat(size - 8)}"}`;
      assert.equal(Buffer.byteLength(json), size);
      const log = logger();
      const [r] = await runHookDir(scripts, job("routable", {}, { json }), opts(log));
      assert.equal(r?.ok, true, JSON.stringify(r));
      const env = fs.readFileSync(`${out}/env`, "utf8");
      assert.match(env, /^LINK=lab0$/m);
      assert.match(env, /^NETEVD_EVENT=\{/m);
      assert.doesNotMatch(env, /^JSON=/m);
      const dropped = log.recs.find((x) => x.msg === "hook env value dropped" && x.fields.variable === "JSON");
      assert.ok(dropped, `JSON drop logged for ${size}`);
      assert.match(String(dropped.fields.reason), /131072-byte limit/);
    }
  });

  test("a finished run leaves no listener on the daemon-lifetime abort signal (nothing of it stays reachable)", async () => {
    const { scripts, hookDir } = fresh("carrier");
    for (const name of ["01-a", "02-b", "03-c"]) script(hookDir, name, "exit 0");
    const stop = new AbortController();
    const j = job("carrier");
    const results = await runHookDir(scripts, j, opts(logger(), { signal: stop.signal }));
    assert.equal(results.length, 3);
    assert.ok(results.every((r) => r.ok));
    assert.equal(getEventListeners(stop.signal, "abort").length, 0);
  });

  test("hook abuse: output flood is capped and counted; the run ends on time and leaves nothing", async () => {
    const { hookDir } = fresh("carrier");
    const p = script(hookDir, "01-flood", "yes 'flood line' | head -c 20000000; echo tail >&2; exit 0");
    const log = logger();
    const j = job("carrier");
    const r = await runScript({ name: "01-flood", path: p }, j, buildHookEnv(j, {}).env, opts(log));
    assert.equal(r.ok, true);
    const logged = log.recs.filter((x) => x.msg === "hook output");
    assert.ok(logged.length <= MAX_LOGGED_LINES, `${logged.length} lines logged`);
    const dropped = log.recs.find((x) => x.msg === "hook output not logged");
    assert.ok(dropped, "the drop is logged");
    // 20 MB of "flood line\n" (11 bytes): every line is counted, logged or not
    assert.equal(Number(dropped.fields.droppedLines) + logged.length, Math.ceil(20_000_000 / 11) + 1);
    assert.deepEqual(r.stderrTail, ["tail"]);
  });

  test("hook abuse: a bounded fork storm, a hook that never exits, one that closes stdout: each ends at the timeout and leaves no process", async () => {
    const { hookDir } = fresh("carrier");
    const cases: Array<[string, string, string]> = [
      // a fork storm bounded by the timeout: ~100 orphaned sleepers per second, each double-forked away
      ["01-storm", "trap '' TERM; while :; do (sleep 1101 </dev/null >/dev/null 2>&1 &); sleep 0.01; done", "sleep\u00001101"],
      ["02-forever", "trap '' TERM INT HUP; while :; do sleep 1102; done", "sleep\u00001102"],
      ["03-closed", "exec >&- 2>&- </dev/null; trap '' TERM; sleep 1103; sleep 1103", "sleep\u00001103"],
    ];
    for (const [name, body, marker] of cases) {
      const p = script(hookDir, name, body);
      const log = logger();
      const j = job("carrier");
      const t0 = Date.now();
      const r = await runScript({ name, path: p }, j, buildHookEnv(j, {}).env, { ...opts(log), timeoutSec: 1 });
      const wall = Date.now() - t0;
      assert.equal(r.timedOut, true, name);
      assert.ok(wall < 10_000, `${name}: wall ${wall} ms (timeout 1 s + 2 s grace; left running would be far longer)`);
      assert.deepEqual(withMarker(marker), [], `${name}: nothing left`);
      assert.ok(log.recs.some((x) => x.msg === "hook timed out" && x.fields.script === name));
    }
  });
}
