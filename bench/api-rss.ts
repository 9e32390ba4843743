// Memory under API load: a real `netevd run` (backend none, API on TCP and the unix socket, started as
// root and running as the netevd user) answers 10,000 API requests (every read endpoint, a few SSE
// streams) and then sees 10,000 kernel events (address adds/deletes on lab0, streamed live to an SSE
// client). Reports the daemon's RSS (/proc/<pid>/status) idle, after the requests, after the events
// and after settling. A benchmark: prints figures, asserts nothing (spec target: 45 MB idle with the API on).
import { Agent, request } from "node:http";
import { SseParser } from "../src/api/client.js";
import { DaemonProcess, hookTree, ip, IpBatch, lab, mb, report, requireLab, say, sleep, statusKb, waitFor, writeConfig, type LogRecord } from "./common.js";

requireLab("api-rss");

const REQUESTS = Number(process.env.BENCH_API_REQUESTS ?? 10_000);
const EVENTS = Number(process.env.BENCH_API_EVENTS ?? 10_000);
const SOCKET = "/run/netevd/netevd.sock";

const agent = new Agent({ keepAlive: true, maxSockets: 4 });

function get(path: string): Promise<{ status: number; body: string }> {
  return new Promise((res, rej) => {
    const req = request({ socketPath: SOCKET, path, agent }, (r) => {
      let body = "";
      r.setEncoding("utf8");
      r.on("data", (c: string) => {
        body += c;
      });
      r.on("end", () => res({ status: r.statusCode ?? 0, body }));
    });
    req.on("error", rej);
    req.end();
  });
}

/** An SSE client counting the events it receives (like `netevd events --follow`). */
function follow(): { count: () => number; close: () => void } {
  let n = 0;
  const req = request({ socketPath: SOCKET, path: "/api/v1/events/stream", agent: false }, (r) => {
    r.setEncoding("utf8");
    const parser = new SseParser(() => {
      n++;
    });
    r.on("data", (c: string) => parser.push(c));
    r.on("error", () => {});
  });
  req.on("error", () => {});
  req.end();
  return { count: () => n, close: () => req.destroy() };
}

function memory(pid: number): { rssMb: number; anonMb: number; fileMb: number; hwmMb: number } {
  return { rssMb: mb(statusKb(pid, "VmRSS")), anonMb: mb(statusKb(pid, "RssAnon")), fileMb: mb(statusKb(pid, "RssFile")), hwmMb: mb(statusKb(pid, "VmHWM")) };
}

/** The daemon's V8 heap (committed and used) and external memory, from /metrics, in MB: what of RssAnon is the JS heap. */
async function heap(): Promise<{ heapTotalMb: number; heapUsedMb: number; externalMb: number }> {
  const text = (await get("/metrics")).body;
  const v = (name: string) => Math.round(Number(new RegExp(`^${name} (\\S+)`, "m").exec(text)?.[1] ?? NaN) / 104857.6) / 10;
  return { heapTotalMb: v("nodejs_heap_size_total_bytes"), heapUsedMb: v("nodejs_heap_size_used_bytes"), externalMb: v("nodejs_external_memory_bytes") };
}
const fmtHeap = (h: { heapTotalMb: number; heapUsedMb: number; externalMb: number }) => `V8 heap ${h.heapUsedMb} MB used of ${h.heapTotalMb}, external ${h.externalMb}`;

async function eventsTotal(): Promise<number> {
  const text = (await get("/metrics")).body;
  let sum = 0;
  for (const m of text.matchAll(/^netevd_events_total\{[^}]*\} (\d+)/gm)) sum += Number(m[1]);
  return sum;
}

async function main(): Promise<void> {
  await ip("link", "set", lab.ifname, "up");
  const { base } = hookTree({});
  const config = writeConfig(
    `system:\n  backend: none\n  scripts_dir: ${base}\nhooks:\n  replay_on_start: false\n` + `events:\n  history_size: 1000\napi:\n  rate_limit_per_sec: 100000\n`,
  );
  const d = DaemonProcess.start(["run", "-c", config]);
  await d.waitRecord((r) => r.msg === "ready", 10_000);
  const pid = Number((d.records.find((r) => r.msg === "starting") as LogRecord).pid);
  await sleep(3000);
  const idle = memory(pid);
  const idleHeap = await heap();
  say(`idle (API on 127.0.0.1:9090 + ${SOCKET}): RSS ${idle.rssMb} MB (anon ${idle.anonMb}, file ${idle.fileMb}); ${fmtHeap(idleHeap)}`);

  // ---- 10,000 API requests, 4 at a time, over every read endpoint
  const paths = [
    "/api/v1/status",
    "/api/v1/interfaces",
    `/api/v1/interfaces/${lab.ifname}`,
    "/api/v1/routes",
    "/api/v1/rules",
    "/api/v1/events?limit=50",
    "/api/v1/events?include=hooks&limit=20",
    "/health",
    "/metrics",
    "/api/v1/scripts",
    "/api/v1/nope",
  ];
  let done = 0;
  let errors = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: 4 }, async () => {
      while (done < REQUESTS) {
        const i = done++;
        if (i % 1000 === 999) {
          const f = follow();
          await sleep(5);
          f.close();
          continue;
        } // a few short-lived streams
        const r = await get(paths[i % paths.length]!);
        if (r.status >= 500) errors++;
      }
    }),
  );
  const reqMs = performance.now() - t0;
  await sleep(2000);
  const afterRequests = memory(pid);
  const requestsHeap = await heap();
  say(
    `after ${REQUESTS} requests (${Math.round(REQUESTS / (reqMs / 1000))} req/s, ${errors} 5xx): RSS ${afterRequests.rssMb} MB ` +
      `(anon ${afterRequests.anonMb}, file ${afterRequests.fileMb}), peak ${afterRequests.hwmMb} MB; ${fmtHeap(requestsHeap)}`,
  );

  // ---- 10,000 kernel events (address add/del pairs on lab0), one SSE client following live
  const stream = follow();
  await sleep(100);
  const before = await eventsTotal();
  const batch = new IpBatch(lab.nsCli);
  const pairs = Math.ceil(EVENTS / 2);
  const t1 = performance.now();
  for (let i = 0; i < pairs; i++) {
    const a = `10.${100 + (i >> 16)}.${(i >> 8) & 255}.${i & 255}/32`;
    batch.run(`addr add ${a} dev ${lab.ifname}`);
    batch.run(`addr del ${a} dev ${lab.ifname}`);
    if (i % 500 === 499) await sleep(20); // keep the kernel's socket buffers from overflowing (that is ingest's benchmark)
  }
  batch.close();
  let events = 0;
  await waitFor(
    "events counted",
    async () => {
      const n = (await eventsTotal()) - before;
      const settled = n === events && n > 0;
      events = n;
      return settled;
    },
    120_000,
    500,
  );
  const evMs = performance.now() - t1;
  await sleep(2000);
  const afterEvents = memory(pid);
  const eventsHeap = await heap();
  const streamed = stream.count();
  // an overflow (ENOBUFS) means a resync: add/del pairs that came and went inside it are no events
  const overflows = Number(/^netevd_netlink_overflows_total (\d+)/m.exec((await get("/metrics")).body)?.[1] ?? NaN);
  stream.close();
  say(
    `after ${events} events in ${(evMs / 1000).toFixed(1)} s (SSE client received ${streamed}, netlink overflows ${overflows}): RSS ${afterEvents.rssMb} MB ` +
      `(anon ${afterEvents.anonMb}, file ${afterEvents.fileMb}), peak ${afterEvents.hwmMb} MB; ${fmtHeap(eventsHeap)}`,
  );
  await sleep(10_000);
  const settled = memory(pid);
  const settledHeap = await heap();
  say(`10 s later: RSS ${settled.rssMb} MB (anon ${settled.anonMb}, file ${settled.fileMb}); ${fmtHeap(settledHeap)}`);
  await d.stop();
  agent.destroy();

  report("api-rss", {
    requests: REQUESTS,
    reqPerSec: Math.round(REQUESTS / (reqMs / 1000)),
    serverErrors: errors,
    events,
    eventsStreamed: streamed,
    netlinkOverflows: overflows,
    idle,
    afterRequests,
    afterEvents,
    settled,
    heap: { idle: idleHeap, afterRequests: requestsHeap, afterEvents: eventsHeap, settled: settledHeap },
    target: { rssMb: 45 },
  });
}

await main();
process.exit(0);
