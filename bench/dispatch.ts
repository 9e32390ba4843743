// Hook dispatch overhead, in-process: the daemon's own hook path (Dispatcher → runHookDir →
// runScript) without the kernel or the bus, split into
//   submit → spawn()   : dispatcher, discovery of <event>.d (readdir + stat), env, path checks, up to
//                        the start request to the hook launcher ("spawn()" in the JSON keys)
//   spawn() → exec     : the launcher's spare script process gets the request and execs, until the
//                        hook's first instruction (hookstamp)
//   spawn() → exit seen: the whole run of the hook as the runner sees it
// Runs as root inside a lab (the scripts dir is root-owned like /etc/netevd).
import { Dispatcher } from "../src/actions/hooks/dispatcher.js";
import { runHookDir, SkipRegistry, type HookLogger } from "../src/actions/hooks/index.js";
import type { HookJob, NetevdEvent } from "../src/events/types.js";
import { dist, fmtDist, monoNs, report, requireLab, say, sleep, stamps, stampTree, type Dist } from "./common.js";

requireLab("dispatch");

const RUNS = Number(process.env.BENCH_DISPATCH_RUNS ?? 500);

const quietLog: HookLogger = { info: () => {}, warn: () => {}, error: () => {}, debug: () => {} };

let seq = 0;
function job(): HookJob {
  const ev: NetevdEvent = {
    schema: "netevd.event.v1", id: `bench-${++seq}`, ts: new Date().toISOString(), event: "no-carrier", link: "lab0", index: 2,
    backend: "kernel", source: "kernel", state: { carrier: false, operstate: "down" }, previous: { carrier: true, operstate: "up" }, changed: ["carrier", "operstate"],
    addresses: ["10.77.0.50/24"], gateway: "10.77.0.1", dns: [], replay: false,
  };
  return { event: ev, state: "no-carrier", env: {} };
}

async function main(): Promise<void> {
  const { base, out } = stampTree(["no-carrier"], "binary");
  let spawnAt = 0n;
  let runDone: (() => void) | null = null;
  let durations: number[] = [];
  const skips = new SkipRegistry();
  const dispatcher = new Dispatcher({
    log: quietLog,
    maxParallel: () => 4,
    debounceMs: () => 0,
    run: async (j) => {
      const results = await runHookDir(base, j, {
        timeoutSec: 30, daemonUid: 0, log: quietLog, daemonEnv: process.env, skips,
        onSpawn: (_s, t) => { spawnAt = t; },
      });
      for (const r of results) durations.push(r.durationMs);
      runDone?.();
    },
  });
  const submitToSpawn: number[] = [];
  const spawnToExec: number[] = [];
  const total: number[] = [];
  const measure = async (n: number, keep: boolean): Promise<void> => {
    for (let i = 0; i < n; i++) {
      const before = stamps(out, "no-carrier").length;
      const done = new Promise<void>((r) => { runDone = r; });
      const t0 = monoNs();
      dispatcher.submit(job());
      await done;
      const t1 = monoNs();
      const st = stamps(out, "no-carrier");
      if (keep && st.length > before) {
        submitToSpawn.push(Number(spawnAt - t0) / 1e6);
        spawnToExec.push(Number(st[before]! - spawnAt) / 1e6);
        total.push(Number(t1 - t0) / 1e6);
      }
      await sleep(2);
    }
  };
  await measure(20, false); // warm-up (JIT, page cache)
  durations = [];
  await measure(RUNS, true);
  await dispatcher.close();
  const r: Record<string, Dist> = {
    submitToSpawnMs: dist(submitToSpawn),
    spawnToExecMs: dist(spawnToExec),
    spawnToExitMs: dist(durations),
    submitToResultMs: dist(total),
  };
  say(`in-process hook dispatch, ${RUNS} runs of a static binary hook (no-carrier.d/10-stamp):`);
  say(`  submit -> start request: ${fmtDist(r.submitToSpawnMs!)}`);
  say(`  request -> exec start:   ${fmtDist(r.spawnToExecMs!)}`);
  say(`  request -> exit seen:    ${fmtDist(r.spawnToExitMs!)}`);
  say(`  submit -> result:         ${fmtDist(r.submitToResultMs!)}`);
  report("dispatch", { runs: RUNS, ...r });
}

await main();
process.exit(0);
