// Netlink ingest: how many rtnetlink notifications per CPU-second the kernel source (decode + model
// update) absorbs, whether a flood overflows the socket, and whether the model still equals the
// kernel afterwards. Part 2 times the pure in-process path (decodeMessages + applyMessage) over
// notification bytes captured from the same kind of flood.
import { spawn } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { createLogger } from "../src/log.js";
import { KernelSource } from "../src/sources/kernel.js";
import { RtnlMonitor, RtnlRequester } from "../src/netlink/rtnl.js";
import { NetlinkSocket } from "../src/netlink/socket.js";
import { DEFAULT_MONITOR_GROUPS } from "../src/netlink/constants.js";
import { decodeMessages } from "../src/netlink/decode.js";
import { applyMessage, diffModels, modelFrom, modelsEqual } from "../src/state/model.js";
import { factFields } from "../src/state/describe.js";
import { ip, report, requireLab, say, sleep, tempDir } from "./common.js";

requireLab("ingest");

const OPS = Number(process.env.BENCH_INGEST_OPS ?? 20_000); // half adds, half deletes
const CAPTURE_OPS = 4_000;
const INPROCESS_MESSAGES = 100_000;
const QUIET_MS = 400;

/** `ip -batch` files adding, then deleting n/2 /32 addresses on dev (run by another process than ours). */
function batchFiles(dev: string, n: number, second: number): [string, string] {
  const half = Math.floor(n / 2);
  const addr = (i: number) => `10.${second}.${(i >> 8) & 255}.${i & 255}/32`;
  const dir = tempDir("netevd-bench-");
  const write = (op: string): string => {
    const lines: string[] = [];
    for (let i = 1; i <= half; i++) lines.push(`address ${op} ${addr(i)} dev ${dev}`);
    const file = join(dir, op);
    writeFileSync(file, lines.join("\n") + "\n");
    return file;
  };
  return [write("add"), write("del")];
}

/** Wait until the counter has not moved for QUIET_MS (messages, facts and resyncs have settled). */
async function quiet(counter: () => number, last: () => number, setLast: (t: number) => void): Promise<void> {
  let seen = counter();
  while (performance.now() - last() < QUIET_MS) {
    await sleep(50);
    const now = counter();
    if (now !== seen) {
      seen = now;
      setLast(performance.now());
    }
  }
}

function runIp(args: string[]): Promise<number | null> {
  const child = spawn("ip", args, { stdio: ["ignore", "ignore", "inherit"] });
  return new Promise((res) => child.on("exit", (c) => res(c)));
}

async function main(): Promise<void> {
  await ip("link", "add", "bv0", "type", "veth", "peer", "name", "bv1");
  await ip("link", "set", "bv0", "up");
  await ip("link", "set", "bv1", "up");
  await sleep(300); // let IPv6 link-local setup pass before measuring

  // ---- part 1: the real kernel source, flooded from another process. Adds and deletes are timed
  // apart: IPv4 address removals also trigger the source's coalesced route re-reads (resyncs).
  let facts = 0;
  let lastMsgAt = 0;
  // debug level only to count what the resyncs found ("kernel resync done" carries `changes`)
  let resyncChanges = 0;
  const log = createLogger({
    level: "debug",
    format: "json",
    sink: {
      write: (line) => {
        if (line.includes('"kernel resync done"')) resyncChanges += Number((JSON.parse(line) as { changes?: number }).changes ?? 0);
      },
    },
  });
  const kernel = new KernelSource({
    log,
    onFacts: (f) => {
      facts += f.length;
      lastMsgAt = performance.now();
    },
  });
  await kernel.start();
  const [adds, dels] = batchFiles("bv0", OPS, 200);
  const phase = async (file: string) => {
    const before = { messages: kernel.stats.messages, facts, resyncs: kernel.stats.resyncs, overflows: kernel.stats.overflows };
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    lastMsgAt = t0;
    const ipExit = await runIp(["-force", "-batch", file]);
    const ipMs = performance.now() - t0;
    await quiet(
      () => kernel.stats.messages + kernel.stats.resyncs,
      () => lastMsgAt,
      (t) => {
        lastMsgAt = t;
      },
    );
    const cpu = process.cpuUsage(cpu0);
    const cpuMs = (cpu.user + cpu.system) / 1000;
    const messages = kernel.stats.messages - before.messages;
    return {
      ipExit,
      ipMs: Math.round(ipMs),
      wallMs: Math.round(lastMsgAt - t0),
      messages,
      facts: facts - before.facts,
      resyncs: kernel.stats.resyncs - before.resyncs,
      overflows: kernel.stats.overflows - before.overflows,
      cpuMs: Math.round(cpuMs),
      cpuUserMs: Math.round(cpu.user / 1000),
      cpuSysMs: Math.round(cpu.system / 1000),
      msgsPerCpuSecond: Math.round(messages / (cpuMs / 1000)),
    };
  };
  const add = await phase(adds);
  const del = await phase(dels);
  const dump = modelFrom(await RtnlRequester.open().dumpAll());
  const equal = modelsEqual(kernel.model, dump);
  const diff = equal
    ? []
    : diffModels(kernel.model, dump)
        .slice(0, 5)
        .map((f) => f.fact);
  const stats = { ...kernel.stats };
  kernel.close();
  const messages = add.messages + del.messages;
  const cpuMs = add.cpuMs + del.cpuMs;
  const wallMs = add.wallMs + del.wallMs;
  say(
    `KernelSource, ${OPS} ip ops from another process: ${messages} messages, ${add.facts + del.facts} facts, ` +
      `${stats.overflows} overflows, ${stats.resyncs} resyncs (which found ${resyncChanges} changes); model equals dump: ${equal}${diff.length ? ` (${diff.join(",")})` : ""}`,
  );
  for (const [name, p] of [
    ["adds", add],
    ["deletes", del],
  ] as const) {
    say(
      `  ${name}: ${p.messages} msgs in ${p.wallMs} ms wall (ip ${p.ipMs} ms), CPU ${p.cpuMs} ms (user ${p.cpuUserMs}, sys ${p.cpuSysMs}), ` +
        `${p.resyncs} resyncs => ${p.msgsPerCpuSecond} msgs per CPU-second`,
    );
  }
  say(`  total: ${Math.round(messages / (cpuMs / 1000))} msgs per CPU-second`);

  // the I/O floor: a bare RtnlMonitor (socket + N-API + decode, no model) under the same flood
  let monMsgs = 0;
  let monLast = 0;
  const mon = new RtnlMonitor({
    onMessages: (m) => {
      monMsgs += m.length;
      monLast = performance.now();
    },
    onOverflow: () => {},
  });
  const [adds2, dels2] = batchFiles("bv0", OPS, 202);
  const mcpu0 = process.cpuUsage();
  const mt0 = performance.now();
  monLast = mt0;
  await runIp(["-force", "-batch", adds2]);
  await runIp(["-force", "-batch", dels2]);
  await quiet(
    () => monMsgs,
    () => monLast,
    (t) => {
      monLast = t;
    },
  );
  const mcpu = process.cpuUsage(mcpu0);
  const monCpuMs = (mcpu.user + mcpu.system) / 1000;
  const monitorFloor = {
    messages: monMsgs,
    batches: mon.stats.batches,
    floodHolds: mon.floodHolds,
    cpuMs: Math.round(monCpuMs),
    msgsPerCpuSecond: Math.round(monMsgs / (monCpuMs / 1000)),
  };
  mon.close();
  say(
    `  bare RtnlMonitor (no model) on the same flood: ${monMsgs} msgs in ${mon.stats.batches} batches (${monitorFloor.floodHolds} flood pauses), CPU ${monitorFloor.cpuMs} ms => ` +
      `${monitorFloor.msgsPerCpuSecond} msgs per CPU-second`,
  );

  // ---- part 2: capture the raw bytes of a smaller flood, then time decode (+ apply) in-process
  const startDump = await RtnlRequester.open().dumpAll();
  const captured: Buffer[] = [];
  let capOverflows = 0;
  const sock = NetlinkSocket.open({
    groups: DEFAULT_MONITOR_GROUPS,
    rcvbufBytes: 32 << 20,
    onData: (b) => captured.push(Buffer.from(b)),
    onError: () => {
      capOverflows++;
    },
  });
  for (const f of batchFiles("bv0", CAPTURE_OPS, 201)) await runIp(["-force", "-batch", f]);
  await sleep(300);
  sock.close();
  const perPass = captured.reduce((n, b) => n + decodeMessages(b).filter((d) => d.type === "msg").length, 0);
  const passes = Math.max(1, Math.ceil(INPROCESS_MESSAGES / perPass));

  const timePasses = (work: (b: Buffer, m: ReturnType<typeof modelFrom>) => void): { ms: number; messages: number } => {
    let ns = 0n;
    for (let p = 0; p < passes; p++) {
      const m = modelFrom(startDump);
      const s = process.hrtime.bigint();
      for (const b of captured) work(b, m);
      ns += process.hrtime.bigint() - s;
    }
    return { ms: Number(ns) / 1e6, messages: perPass * passes };
  };
  let sink = 0;
  // warm-up (JIT), then measure
  timePasses((b) => {
    sink += decodeMessages(b).length;
  });
  const decodeOnly = timePasses((b) => {
    sink += decodeMessages(b).length;
  });
  const decodeApply = timePasses((b, m) => {
    for (const d of decodeMessages(b)) if (d.type === "msg") sink += applyMessage(m, d.msg).length;
  });
  // what the daemon adds per fact at log level info: one JSON log record (written to a sink that drops)
  const dlog = createLogger({
    level: "info",
    format: "json",
    sink: {
      write: (s) => {
        sink += s.length;
      },
    },
  });
  const decodeApplyLog = timePasses((b, m) => {
    for (const d of decodeMessages(b)) {
      if (d.type !== "msg") continue;
      for (const f of applyMessage(m, d.msg)) dlog.info("fact", { source: "kernel", ...factFields(f) });
    }
  });
  const rate = (x: { ms: number; messages: number }) => Math.round(x.messages / (x.ms / 1000));
  say(`in-process over ${decodeOnly.messages} captured messages (${captured.length} batches x ${passes} passes${capOverflows ? `, ${capOverflows} capture overflows` : ""}):`);
  say(`  decode only ${rate(decodeOnly)} msgs/s; decode + apply ${rate(decodeApply)} msgs/s; ` + `decode + apply + JSON fact log line ${rate(decodeApplyLog)} msgs/s`);

  if (sink < 0) say("(unreachable: keeps the measured work observable)");
  report("ingest", {
    ops: OPS,
    messages,
    facts: add.facts + del.facts,
    overflows: stats.overflows,
    resyncs: stats.resyncs,
    resyncChanges,
    batches: stats.batches,
    wallMs,
    cpuMs,
    msgsPerCpuSecond: Math.round(messages / (cpuMs / 1000)),
    adds: add,
    deletes: del,
    modelEqualsDump: equal,
    monitorFloor,
    inProcess: {
      messages: decodeOnly.messages,
      decodeMsgsPerSec: rate(decodeOnly),
      decodeApplyMsgsPerSec: rate(decodeApply),
      decodeApplyLogMsgsPerSec: rate(decodeApplyLog),
    },
    target: { msgsPerCpuSecond: 50_000 },
  });
}

await main();
process.exit(0);
