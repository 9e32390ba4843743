// The hook launcher (one long-lived netevd-hookexec -s that forks each run), with real processes,
// as root inside a lab (private pid namespace: every process a test starts dies with the lab).
import { test } from "node:test";
import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import * as path from "node:path";
import { labFile, waitFor, tempDir } from "./lab.js";
import { gone, logger, readPid, type Rec } from "./hook-fixtures.js";
import { hookLauncher, runScript, setLauncherLog, type HookLogger, type RunContext } from "../../src/actions/hooks/index.js";

if (labFile(import.meta.url)) {
  const root = tempDir("launcher-");
  const hookDir = path.join(root, "carrier.d");
  fs.mkdirSync(hookDir, { mode: 0o755 });
  const out = path.join(root, "out");
  fs.mkdirSync(out, { mode: 0o755 });
  const script = (name: string, body: string): { name: string; path: string } => {
    const p = path.join(hookDir, name);
    fs.writeFileSync(p, `#!/bin/sh\n${body}\n`);
    fs.chmodSync(p, 0o755);
    return { name, path: p };
  };
  const ctx = (id: string): RunContext => ({ event: "carrier", eventId: id, link: "lab0" });
  const opts = (log: HookLogger) => ({ timeoutSec: 30, daemonUid: 0, log });

  test("the launcher dies mid-run: the run fails loudly, nothing of it is left, the next run starts a new launcher", async () => {
    const died: Rec[] = [];
    setLauncherLog({
      error: (msg, fields) => {
        died.push({ level: "error", msg, fields });
      },
    });
    // warm: the launcher runs and serves a first run
    const first = await runScript(script("00-ok", "exit 0"), ctx("l-0"), { PATH: "/usr/bin:/bin" }, opts(logger()));
    assert.equal(first.ok, true, JSON.stringify(first));
    const launcherPid = hookLauncher().pid;
    assert.ok(launcherPid && !gone(launcherPid), "the launcher stays between runs");

    const hang = script(
      "01-hang",
      [
        `setsid sh -c 'trap "" TERM; echo $$ > ${out}/esc.tmp && mv ${out}/esc.tmp ${out}/esc; exec sleep 1301' </dev/null >/dev/null 2>&1 &`,
        `echo $$ > ${out}/leader.tmp && mv ${out}/leader.tmp ${out}/leader`,
        "exec sleep 1302",
      ].join("\n"),
    );
    const log = logger();
    const t0 = Date.now();
    const running = runScript(hang, ctx("l-1"), { PATH: "/usr/bin:/bin" }, opts(log));
    const leader = await readPid(`${out}/leader`);
    const esc = await readPid(`${out}/esc`);
    process.kill(launcherPid, "SIGKILL");
    const r = await running;
    assert.ok(Date.now() - t0 < 5000, "the run ends when the launcher dies, not at its timeout");
    assert.equal(r.ok, false);
    assert.match(r.error ?? "", /hook launcher died \(SIGKILL\)/);
    assert.ok(
      log.recs.some((x) => x.msg === "hook failed" && /hook launcher died/.test(String(x.fields.error))),
      "the run's failure is logged",
    );
    assert.ok(
      died.some((x) => /hook launcher died/.test(x.msg) && x.fields.inFlight === 1),
      JSON.stringify(died),
    );
    // its supervisor got SIGTERM (its parent died) and ends everything: the grandchild ignores SIGTERM, so SIGKILL 2 s later
    await waitFor("the script is gone", () => gone(leader), 3000);
    await waitFor("the setsid grandchild is gone", () => gone(esc), 4000);

    // the next run starts a new launcher and works
    const next = await runScript(script("02-after", `echo after > ${out}/after`), ctx("l-2"), { PATH: "/usr/bin:/bin" }, opts(logger()));
    assert.equal(next.ok, true, JSON.stringify(next));
    assert.equal(fs.readFileSync(`${out}/after`, "utf8"), "after\n");
    const again = hookLauncher().pid;
    assert.ok(again && again !== launcherPid, "a new launcher");
  });

  test("runs in parallel: each run gets its own output, stderr tail and exit status, whatever the interleaving", async () => {
    const N = 24;
    const runs = Array.from({ length: N }, (_, i) => {
      const s = script(
        `10-par-${i}`,
        [`for n in 1 2 3 4 5 6 7 8 9 10; do echo "run ${i} out $n"; echo "run ${i} err $n" >&2; done`, `head -c 100000 /dev/zero | tr '\\0' 'x'; echo`, `exit ${i % 7}`].join("\n"),
      );
      const log = logger();
      return { i, log, done: runScript(s, ctx(`p-${i}`), { PATH: "/usr/bin:/bin" }, opts(log)) };
    });
    for (const { i, log, done } of runs) {
      const r = await done;
      assert.equal(r.exitCode, i % 7, `run ${i}`);
      assert.deepEqual(
        r.stderrTail,
        [6, 7, 8, 9, 10].map((n) => `run ${i} err ${n}`),
      );
      const lines = log.recs.filter((x) => x.msg === "hook output");
      const outLines = lines.filter((l) => l.fields.stream === "stdout").map((l) => String(l.fields.line));
      assert.deepEqual(
        outLines.slice(0, 10),
        Array.from({ length: 10 }, (_, k) => `run ${i} out ${k + 1}`),
      );
      // the 100 000-byte line is cut at MAX_LINE: every byte of it came through this run's stdout
      assert.match(outLines[10] ?? "", /^x{8192} \[line truncated\]$/);
      for (const l of lines) assert.equal(l.fields.eventId, `p-${i}`);
    }
  });

  test("without its spare (killed), the launcher starts a run the slow way, with the same guarantees", async () => {
    const probe = script(
      "30-probe",
      [
        `echo "$0 $#" > ${out}/probe.argv`,
        `grep -E '^(NoNewPrivs|CapInh|CapPrm|CapEff|CapAmb):' /proc/$$/status > ${out}/probe.status`,
        `ls /proc/self/fd > ${out}/probe.fds`,
        `echo "$PROBE_VAR" > ${out}/probe.env`,
      ].join("\n"),
    );
    const observe = async (id: string): Promise<string[]> => {
      const r = await runScript(probe, ctx(id), { PATH: "/usr/bin:/bin", PROBE_VAR: id }, opts(logger()));
      assert.equal(r.ok, true, JSON.stringify(r));
      return ["argv", "status", "fds", "env"].map((f) => fs.readFileSync(`${out}/probe.${f}`, "utf8"));
    };
    const withSpare = await observe("s-1");
    const launcher = hookLauncher().pid!;
    // with no run in flight the launcher's only child is the spare supervisor (its script process below it)
    const children = fs
      .readdirSync("/proc")
      .filter((d) => /^[0-9]+$/.test(d))
      .filter((d) => {
        try {
          const stat = fs.readFileSync(`/proc/${d}/stat`, "utf8");
          return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]) === launcher;
        } catch {
          return false;
        }
      })
      .map(Number);
    assert.equal(children.length, 1, `one spare: ${children.join(",")}`);
    process.kill(children[0]!, "SIGKILL");
    await waitFor("spare gone", () => gone(children[0]!), 2000);
    const slow = await observe("s-2");
    assert.deepEqual(slow.slice(0, 3), withSpare.slice(0, 3));
    assert.equal(slow[3], "s-2\n");
    assert.equal(withSpare[3], "s-1\n");
    assert.equal(withSpare[0], `${probe.path} 0\n`, "argv [real path]");
    assert.match(withSpare[1]!, /^NoNewPrivs:\s+1$/m);
    // ls itself: 0-2 (stdout to the file), and the directory it lists (3); nothing inherited
    assert.deepEqual(withSpare[2]!.trim().split("\n").map(Number).sort(), [0, 1, 2, 3]);
    assert.equal(hookLauncher().pid, launcher, "the same launcher: only its spare was lost");
  });
}
