// Idle footprint and start-up: `netevd run` (backend none, otherwise the default config) started as
// root the way a service manager would; it re-executes itself as the netevd user through setpriv.
// Reports startup-to-ready, RSS after 5 s and 30 s idle, and wake-ups (context switches) while idle.
import { spawn } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { connect } from "node:net";
import { DaemonProcess, dist, fmtDist, hookTree, mb, report, requireLab, say, sleep, statusKb, threadStatusSum, writeConfig, type LogRecord } from "./common.js";

requireLab("idle");

const STARTS = Number(process.env.BENCH_IDLE_STARTS ?? 5);
const IDLE_LONG_S = Number(process.env.BENCH_IDLE_SECONDS ?? 30);

const { base } = hookTree({});
const config = writeConfig(`system:\n  backend: none\n  scripts_dir: ${base}\n`);

interface Started {
  d: DaemonProcess;
  pid: number;
  wallMs: number;
  startupMs: number;
  startingToReadyMs: number;
}

/** As systemd's unit starts it: directly as the netevd user with the ambient CAP_NET_ADMIN (no re-exec). */
const AS_UNIT = ["setpriv", "--reuid=netevd", "--regid=netevd", "--init-groups", "--inh-caps=+net_admin", "--ambient-caps=+net_admin", "--"];

async function start(prefix: string[] = []): Promise<Started> {
  const t0 = performance.now();
  const d = DaemonProcess.start(["run", "-c", config], {}, prefix);
  const ready = await d.waitRecord((r) => r.msg === "ready", 10_000);
  const wallMs = performance.now() - t0;
  const starting = d.records.find((r) => r.msg === "starting") as LogRecord;
  return {
    d,
    pid: Number(starting.pid),
    wallMs,
    startupMs: Number(ready.startupMs),
    startingToReadyMs: Date.parse(String(ready.ts)) - Date.parse(String(starting.ts)),
  };
}

function portAnswers(port: number): Promise<boolean> {
  return new Promise((res) => {
    const s = connect({ host: "127.0.0.1", port });
    const t = setTimeout(() => {
      s.destroy();
      res(false);
    }, 1000);
    s.once("connect", () => {
      clearTimeout(t);
      s.destroy();
      res(true);
    });
    s.once("error", () => {
      clearTimeout(t);
      res(false);
    });
  });
}

/** Wake-up counters summed over all threads: context switches and run slices (schedstat field 3). */
function wakeups(pid: number): { voluntary: number; involuntary: number; slices: number; cpuNs: number; threads: number } {
  let slices = 0;
  let cpuNs = 0;
  let threads = 0;
  for (const t of safeList(`/proc/${pid}/task`)) {
    try {
      const [run, , n] = readFileSync(`/proc/${pid}/task/${t}/schedstat`, "utf8").trim().split(/\s+/).map(Number);
      cpuNs += run ?? 0;
      slices += n ?? 0;
      threads++;
    } catch {
      /* thread gone */
    }
  }
  return {
    voluntary: threadStatusSum(pid, "voluntary_ctxt_switches"),
    involuntary: threadStatusSum(pid, "nonvoluntary_ctxt_switches"),
    slices,
    cpuNs,
    threads,
  };
}

function safeList(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

function memory(pid: number): { rssMb: number; anonMb: number; fileMb: number; hwmMb: number } {
  return { rssMb: mb(statusKb(pid, "VmRSS")), anonMb: mb(statusKb(pid, "RssAnon")), fileMb: mb(statusKb(pid, "RssFile")), hwmMb: mb(statusKb(pid, "VmHWM")) };
}

async function main(): Promise<void> {
  // ---- start-up, several times: as root (the daemon re-executes itself through setpriv as the
  // netevd user) and as the systemd unit starts it (already the netevd user: one node process)
  const reexec: Started[] = [];
  const direct: Started[] = [];
  for (let i = 0; i < STARTS; i++) {
    const a = await start();
    reexec.push(a);
    await a.d.stop();
    const b = await start(AS_UNIT);
    direct.push(b);
    await b.d.stop();
  }
  const startup = {
    startupMs: dist(reexec.map((s) => s.startupMs)),
    startingToReadyMs: dist(reexec.map((s) => s.startingToReadyMs)),
    spawnToReadyWallMs: dist(reexec.map((s) => s.wallMs)),
    spawnToReadyWallNoReexecMs: dist(direct.map((s) => s.wallMs)),
  };
  say(`start-up over ${STARTS} starts: daemon's startupMs ${fmtDist(startup.startupMs)}`);
  say(`  "starting" record -> "ready": ${fmtDist(startup.startingToReadyMs)}`);
  say(`  spawn -> ready record, as root with the setpriv re-exec: ${fmtDist(startup.spawnToReadyWallMs)}`);
  say(`  spawn -> ready record, as the systemd unit starts it (netevd user, no re-exec): ${fmtDist(startup.spawnToReadyWallNoReexecMs)}`);

  // ---- idle footprint
  const s = await start();
  const api = {
    tcp9090Answers: await portAnswers(9090),
    unixSocketExists: existsSync("/run/netevd/netevd.sock"),
  };
  const baseline = spawn(process.execPath, ["-e", "setInterval(() => {}, 1e9)"], { stdio: "ignore" });
  await sleep(5000);
  const m5 = memory(s.pid);
  const w5 = wakeups(s.pid);
  const nodeBaselineMb = mb(statusKb(baseline.pid!, "VmRSS"));
  baseline.kill("SIGKILL");
  await sleep((IDLE_LONG_S - 5) * 1000);
  const m30 = memory(s.pid);
  const w30 = wakeups(s.pid);
  await s.d.stop();
  const delta = {
    seconds: IDLE_LONG_S - 5,
    voluntaryCtxSwitches: w30.voluntary - w5.voluntary,
    involuntaryCtxSwitches: w30.involuntary - w5.involuntary,
    runSlices: w30.slices - w5.slices,
    cpuMs: Math.round((w30.cpuNs - w5.cpuNs) / 1e4) / 100,
    threads: w30.threads,
  };
  say(`idle (backend none, API ${api.tcp9090Answers ? "answers" : "does NOT answer"} on 127.0.0.1:9090, unix socket ${api.unixSocketExists ? "present" : "absent"}):`);
  say(
    `  RSS after 5 s ${m5.rssMb} MB (anon ${m5.anonMb}, file ${m5.fileMb}); after ${IDLE_LONG_S} s ${m30.rssMb} MB (anon ${m30.anonMb}, file ${m30.fileMb}); ` +
      `peak ${m30.hwmMb} MB; bare \`node -e setInterval\` ${nodeBaselineMb} MB`,
  );
  say(
    `  wake-ups from ${5} s to ${IDLE_LONG_S} s over ${delta.threads} threads: ${delta.voluntaryCtxSwitches} voluntary + ` +
      `${delta.involuntaryCtxSwitches} involuntary context switches, ${delta.runSlices} run slices, ${delta.cpuMs} ms CPU`,
  );

  report("idle", {
    startup,
    api,
    rssMb5s: m5.rssMb,
    rssMb30s: m30.rssMb,
    memory5s: m5,
    memory30s: m30,
    nodeBaselineRssMb: nodeBaselineMb,
    idleWakeups: delta,
    target: { rssMb: 45, startupMs: 300 },
  });
}

await main();
process.exit(0);
