// Event sinks: what a sink costs the event loop per event (CloudEvent encoding + spool append), and
// how fast a backlog drains to a receiver on loopback, structured mode vs batched mode. Touches no
// link, so it needs no lab: `node dist/bench/sink-spool.js`. Prints figures, asserts nothing.
import { createServer } from "node:http";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir, loadavg } from "node:os";
import { join } from "node:path";
import { Spool } from "../src/actions/sinks/spool.js";
import { SinkWorker, httpTransport } from "../src/actions/sinks/deliver.js";
import { SINK_DEFAULTS, type SinkConfig } from "../src/config/types.js";
import type { NetevdEvent } from "../src/events/types.js";
import type { Logger } from "../src/log.js";

const RUNS = Number(process.env.BENCH_SINK_RUNS ?? 7);
const N = Number(process.env.BENCH_SINK_EVENTS ?? 5000);
const quiet: Logger = new Proxy({} as Logger, { get: (_t, k) => (k === "child" ? () => quiet : k === "enabled" ? () => false : () => {}) });
const ev = (i: number): NetevdEvent => ({
  schema: "netevd.event.v1", id: `mabc12300000-${i}`, ts: new Date().toISOString(), event: i % 2 ? "carrier" : "no-carrier", link: "eth0", index: 2,
  backend: "kernel", source: "kernel", state: { carrier: i % 2 === 1, operstate: "up", up: true, mtu: 1500, mac: "02:00:00:00:00:01" },
  previous: { carrier: i % 2 === 0 }, changed: ["carrier"], addresses: ["192.0.2.1/24", "2001:db8::1/64"], gateway: "192.0.2.254", dns: [], replay: false,
});
const q = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(p * xs.length))] as number;

const server = createServer((req, res) => { req.resume(); req.on("end", () => res.writeHead(202).end()); });
await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
const port = (server.address() as { port: number }).port;

async function run(batchMax: number): Promise<{ appendUs: number; drainEventsPerSec: number }> {
  const dir = mkdtempSync(join(tmpdir(), "netevd-bench-sink-"));
  try {
    const cfg: SinkConfig = { ...SINK_DEFAULTS, name: "bench", url: `http://127.0.0.1:${port}/`, batch_max: batchMax };
    const spool = await Spool.open(dir, { maxBytes: 64 << 20, syncMs: cfg.spool_sync_ms });
    const t = httpTransport(cfg, undefined);
    const w = new SinkWorker({ ...cfg, url: "http://127.0.0.1:1/" }, { spool, post: t.post, secret: Buffer.from("k"), hostname: "bench", log: quiet, misconfigured: "held for the benchmark" });
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < N; i++) w.submit(ev(i));
    const appendUs = Number(process.hrtime.bigint() - t0) / N / 1000;
    await spool.flush();
    // the backlog, now to a live receiver
    const live = new SinkWorker(cfg, { spool, post: t.post, secret: Buffer.from("k"), hostname: "bench", log: quiet });
    const t1 = process.hrtime.bigint();
    live.kick();
    while (spool.depth > 0) await new Promise((r) => setTimeout(r, 2));
    const drainEventsPerSec = N / (Number(process.hrtime.bigint() - t1) / 1e9);
    await live.close();
    t.close();
    return { appendUs, drainEventsPerSec };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const out: Record<string, unknown> = { bench: "sink-spool", events: N, runs: RUNS, loadavg: loadavg()[0] };
for (const batch of [1, 50]) {
  const rs = [];
  for (let i = 0; i < RUNS; i++) rs.push(await run(batch));
  const a = rs.map((r) => r.appendUs), d = rs.map((r) => r.drainEventsPerSec);
  console.log(`batch_max ${batch}: submit (encode + append) p50 ${q(a, 0.5).toFixed(2)} µs/event (min ${Math.min(...a).toFixed(2)}, max ${Math.max(...a).toFixed(2)}); ` +
    `drain to loopback p50 ${q(d, 0.5).toFixed(0)} events/s (min ${Math.min(...d).toFixed(0)}, max ${Math.max(...d).toFixed(0)})`);
  out[`batch${batch}`] = { appendUsP50: +q(a, 0.5).toFixed(2), appendUs: a.map((x) => +x.toFixed(2)), drainPerSecP50: Math.round(q(d, 0.5)), drainPerSec: d.map(Math.round) };
}
console.log(JSON.stringify(out));
server.close();
