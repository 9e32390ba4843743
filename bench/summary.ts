// The summary of a bench run (scripts/bench.sh): every figure as the median of its rounds with the
// spread (min–max), the peer's figure and the ratio beside netevd's where there is a peer, and the
// same as a markdown table to paste into README.md's Performance section.
//   node dist/bench/summary.js /tmp/netevd-bench-<time>.jsonl
import { readFileSync } from "node:fs";

type Json = Record<string, unknown>;

interface Figure {
  bench: string;
  what: string;
  unit: string;
  /** path into the bench's JSON line */
  netevd: string;
  peer?: { name: string; path: string };
  target?: string;
  /** lower is better (latency, memory) unless told otherwise */
  higherIsBetter?: boolean;
}

const FIGURES: Figure[] = [
  {
    bench: "networkd-hook",
    what: "networkd: kernel carrier loss → `no-carrier.d` exec, p50",
    unit: "ms",
    netevd: "netevdEmitJson.kernelToHook.p50",
    peer: { name: "networkd-dispatcher", path: "networkdDispatcher.kernelToHook.p50" },
    target: "≥ 4× faster",
  },
  {
    bench: "networkd-hook",
    what: "networkd: routable signal → `routable.d` exec, p50 (emit_json on)",
    unit: "ms",
    netevd: "netevdEmitJson.routableSigToHook.p50",
    peer: { name: "networkd-dispatcher", path: "networkdDispatcher.routableSigToHook.p50" },
  },
  {
    bench: "networkd-hook",
    what: "networkd: routable signal → `routable.d` exec, p50 (emit_json off)",
    unit: "ms",
    netevd: "netevdNoJson.routableSigToHook.p50",
    peer: { name: "networkd-dispatcher", path: "networkdDispatcher.routableSigToHook.p50" },
  },
  {
    bench: "networkd-hook",
    what: "networkd: RSS after the flaps",
    unit: "MB",
    netevd: "netevdEmitJson.rssMb",
    peer: { name: "networkd-dispatcher", path: "networkdDispatcher.rssMb" },
  },
  {
    bench: "nm-hook",
    what: "NM: `nmcli device disconnect` → `disconnected.d` / NMD `down`, p50",
    unit: "ms",
    netevd: "netevd.disconnect.p50",
    peer: { name: "NetworkManager-dispatcher", path: "nmDispatcher.disconnect.p50" },
    target: "within 10% or 1 ms",
  },
  {
    bench: "nm-hook",
    what: "NM: `nmcli device connect` → `activated.d` / NMD `up`, p50",
    unit: "ms",
    netevd: "netevd.connect.p50",
    peer: { name: "NetworkManager-dispatcher", path: "nmDispatcher.connect.p50" },
    target: "within 10% or 1 ms",
  },
  {
    bench: "nm-hook",
    what: "NM: kernel carrier loss → first hook (`no-carrier.d` / NMD `down`), p50",
    unit: "ms",
    netevd: "netevd.carrierLossToFirstHook.p50",
    peer: { name: "NetworkManager-dispatcher", path: "nmDispatcher.carrierLossToFirstHook.p50" },
    target: "≥ 100× faster",
  },
  { bench: "carrier-hook", what: "kernel carrier loss → `no-carrier.d` exec, p50 (no backend)", unit: "ms", netevd: "results.binary.noCarrier.p50", target: "≤ 3" },
  { bench: "carrier-hook", what: "kernel carrier loss → `no-carrier.d` exec, p99 (no backend)", unit: "ms", netevd: "results.binary.noCarrier.p99", target: "≤ 10" },
  { bench: "ingest", what: "netlink ingest (decode + model, flood)", unit: "msgs/CPU-s", netevd: "msgsPerCpuSecond", target: "≥ 50,000", higherIsBetter: true },
  { bench: "ingest", what: "route resyncs during the flood", unit: "", netevd: "resyncs" },
  { bench: "ingest", what: "bare netlink socket (addon + decoder, no model), flood", unit: "msgs/CPU-s", netevd: "monitorFloor.msgsPerCpuSecond", higherIsBetter: true },
  { bench: "idle", what: "idle RSS, API on (30 s)", unit: "MB", netevd: "rssMb30s", target: "≤ 45" },
  { bench: "idle", what: "bare `node` RSS on this machine", unit: "MB", netevd: "nodeBaselineRssMb" },
  { bench: "idle", what: "idle wake-ups between 5 s and 30 s (context switches)", unit: "", netevd: "idleWakeups.voluntaryCtxSwitches", target: "~0" },
  { bench: "idle", what: "startup: spawn → ready, as root (incl. setpriv re-exec), p50", unit: "ms", netevd: "startup.spawnToReadyWallMs.p50", target: "≤ 300" },
  { bench: "idle", what: "startup: spawn → ready, as the systemd unit starts it (netevd user), p50", unit: "ms", netevd: "startup.spawnToReadyWallNoReexecMs.p50" },
  { bench: "api-rss", what: "RSS idle, API on", unit: "MB", netevd: "idle.rssMb", target: "≤ 45" },
  { bench: "api-rss", what: "RSS after 10,000 API requests", unit: "MB", netevd: "afterRequests.rssMb" },
  { bench: "api-rss", what: "RSS after 10,000 requests + 10,000 events", unit: "MB", netevd: "afterEvents.rssMb", target: "≤ 70" },
  { bench: "api-rss", what: "RSS 10 s later", unit: "MB", netevd: "settled.rssMb" },
  { bench: "dispatch", what: "hook dispatch in-process: start request → exec start, p50", unit: "ms", netevd: "spawnToExecMs.p50" },
  { bench: "soak", what: "soak: `/health` latency, p99", unit: "ms", netevd: "healthMs.p99" },
  { bench: "soak", what: "soak: final states lost", unit: "", netevd: "lostFinalStates", target: "0" },
];

function at(o: Json, path: string): number | undefined {
  let v: unknown = o;
  for (const k of path.split(".")) v = v !== null && typeof v === "object" ? (v as Json)[k] : undefined;
  return typeof v === "number" && Number.isFinite(v) ? v : undefined;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

const round = (x: number) => (Math.abs(x) >= 1000 ? Math.round(x) : Math.round(x * 100) / 100);
const num = (x: number) => round(x).toLocaleString("en-US");

interface Stat {
  median: number;
  min: number;
  max: number;
  n: number;
}
function stat(xs: number[]): Stat | undefined {
  return xs.length ? { median: median(xs), min: Math.min(...xs), max: Math.max(...xs), n: xs.length } : undefined;
}
const show = (s: Stat | undefined, unit: string) => (s ? `${num(s.median)}${unit ? ` ${unit}` : ""} [${num(s.min)}–${num(s.max)}, ${s.n} run${s.n === 1 ? "" : "s"}]` : "—");

function main(file: string): void {
  const lines = readFileSync(file, "utf8")
    .split("\n")
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Json);
  const runs = (bench: string) => lines.filter((l) => l.bench === bench);
  const rows: string[] = [];
  for (const f of FIGURES) {
    const rs = runs(f.bench);
    if (rs.length === 0) continue;
    const mine = stat(rs.map((r) => at(r, f.netevd)).filter((x): x is number => x !== undefined));
    const peer = f.peer ? stat(rs.map((r) => at(r, f.peer!.path)).filter((x): x is number => x !== undefined)) : undefined;
    // the ratio per round (same lab, same flaps), then its median and spread
    const ratios = f.peer
      ? stat(
          rs.flatMap((r) => {
            const a = at(r, f.netevd);
            const b = at(r, f.peer!.path);
            return a !== undefined && b !== undefined && a > 0 ? [b / a] : [];
          }),
        )
      : undefined;
    const ratioText = ratios ? `${num(ratios.median)}× [${num(ratios.min)}–${num(ratios.max)}]` : "";
    process.stdout.write(
      `  ${f.what}: netevd ${show(mine, f.unit)}` +
        (f.peer ? `; ${f.peer.name} ${show(peer, f.unit)}; ratio ${ratioText || "—"}` : "") +
        (f.target ? ` (target ${f.target})` : "") +
        "\n",
    );
    rows.push(`| ${f.what} | ${show(mine, f.unit)} | ${f.peer ? `${f.peer.name}: ${show(peer, f.unit)}` : ""} | ${ratioText} | ${f.target ?? ""} |`);
  }
  const loads = lines.map((l) => (l.loadavg as number[] | undefined)?.[0]).filter((x): x is number => typeof x === "number");
  process.stdout.write(`\n  load average (1 min) during the runs: ${loads.length ? `${Math.min(...loads)}–${Math.max(...loads)}` : "?"}\n`);
  process.stdout.write("\nMarkdown for README.md (Performance): median of the rounds [min–max]\n\n");
  process.stdout.write("| figure | netevd | peer | peer / netevd | target |\n|---|---|---|---|---|\n");
  for (const r of rows) process.stdout.write(`${r}\n`);
}

main(process.argv[2] ?? "");
