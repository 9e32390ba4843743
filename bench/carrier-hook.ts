// Kernel carrier loss → first hook exec start, through the real daemon (`netevd run`, backend none,
// started as root → re-executed as the netevd user). The reference time is the arrival of the
// carrier-down RTM_NEWLINK at this process's own rtnetlink socket (the daemon's socket gets the same
// multicast at the same moment); the end is the time the hook itself records (CLOCK_MONOTONIC for the
// binary; CLOCK_REALTIME converted for the shell hooks).
// Three hooks, by how early they can take the time: a static binary (exec start), /bin/sh + `date`
// (a typical shell hook; includes sh start-up and a fork/exec of date), bash + $EPOCHREALTIME (no fork).
import {
  CarrierWatch,
  DaemonProcess,
  IpBatch,
  dist,
  fmtDist,
  waitChange,
  ip,
  ipSrv,
  lab,
  report,
  requireLab,
  say,
  sleep,
  stamps,
  stampTree,
  waitFor,
  writeConfig,
  type Dist,
  type StampKind,
} from "./common.js";

requireLab("carrier-hook");

const FLAPS = Number(process.env.BENCH_FLAPS ?? 200);
const FLAPS_SHELL = Number(process.env.BENCH_FLAPS_SHELL ?? 100);
/** pause after each hook run, so that coalescing never merges two flaps */
const GAP_MS = 25;

async function lab0Up(): Promise<void> {
  await ip("link", "set", lab.ifname, "up");
  await ipSrv("link", "set", lab.peer, "up");
  await waitFor("lab0 carrier", async () => (await ip("-o", "link", "show", lab.ifname)).includes("LOWER_UP"), 5000);
}

interface KindResult {
  kind: StampKind;
  flaps: number;
  missed: number;
  noCarrier: Dist;
  carrier: Dist;
}

async function measure(kind: StampKind, flaps: number): Promise<KindResult> {
  const { base, out } = stampTree(["no-carrier", "carrier"], kind);
  const cfg = writeConfig(`system:\n  backend: none\n  scripts_dir: ${base}\nmonitoring:\n  interfaces: [${lab.ifname}]\nhooks:\n  replay_on_start: false\n`);
  const d = DaemonProcess.start(["run", "-c", cfg]);
  const watch = new CarrierWatch();
  const srv = new IpBatch(lab.nsSrv);
  const down: number[] = [];
  const up: number[] = [];
  let missed = 0;
  try {
    await d.waitRecord((r) => r.msg === "ready", 10_000);
    await sleep(200);
    const step = async (state: "down" | "up", event: string, refs: bigint[], into: number[]): Promise<void> => {
      const nStamps = stamps(out, event, kind).length;
      const nRefs = refs.length;
      srv.run(`link set ${lab.peer} ${state}`);
      try {
        await waitChange(out, () => stamps(out, event, kind).length > nStamps && refs.length > nRefs, 3000);
        into.push(Number(stamps(out, event, kind)[nStamps]! - refs[nRefs]!) / 1e6);
      } catch {
        missed++;
      }
      await sleep(GAP_MS);
    };
    for (let i = 0; i < flaps; i++) {
      await step("down", "no-carrier", watch.downs, down);
      await step("up", "carrier", watch.ups, up);
    }
  } finally {
    watch.close();
    srv.close();
    await d.stop();
  }
  return { kind, flaps, missed, noCarrier: dist(down), carrier: dist(up) };
}

async function main(): Promise<void> {
  await lab0Up();
  const results: KindResult[] = [];
  for (const [kind, n] of [
    ["binary", FLAPS],
    ["sh+date", FLAPS_SHELL],
    ["bash-epochrealtime", FLAPS_SHELL],
  ] as const) {
    const r = await measure(kind, n);
    results.push(r);
    say(`${kind.padEnd(18)} carrier loss -> no-carrier.d: ${fmtDist(r.noCarrier)}${r.missed ? `, ${r.missed} missed` : ""}`);
    say(`${"".padEnd(18)} carrier back -> carrier.d:    ${fmtDist(r.carrier)}`);
  }
  report("carrier-hook", {
    flapsPerKind: Object.fromEntries(results.map((r) => [r.kind, r.flaps])),
    gapMs: GAP_MS,
    results: Object.fromEntries(results.map((r) => [r.kind, { noCarrier: r.noCarrier, carrier: r.carrier, missed: r.missed }])),
    target: { p50Ms: 3, p99Ms: 10 },
  });
}

await main();
process.exit(0);
