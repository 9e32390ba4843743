// Event sinks end to end: the daemon (as the netevd user) POSTs CloudEvents to receivers built on
// the cloudevents SDK's HTTP binding, listening on loopback inside the lab's netns.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { createHmac, timingSafeEqual } from "node:crypto";
import { createServer as createHttp, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { createServer as createHttps } from "node:https";
import { chmodSync, chownSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { hostname } from "node:os";
import { join } from "node:path";
import { HTTP, type CloudEvent } from "cloudevents";
import { DaemonProcess, hookTree, ip, ipSrv, lab, labFile, readJsonLines, repoRoot, sh, sleep, tempDir, waitFor, writeConfig } from "./lab.js";
import { lookupUser } from "../../src/cli/privileges.js";
import { sourceHost } from "../../src/actions/sinks/cloudevent.js";
import type { NetevdEvent } from "../../src/events/types.js";

const API = "http://127.0.0.1:9090";
const SOURCE = `netevd://${sourceHost(hostname())}`;

interface Received { id: string; subject: string | undefined; type: string; data: NetevdEvent }

/**
 * A webhook receiver: checks the HMAC signature of the raw body, then parses and validates it with
 * the cloudevents SDK (structured or batched mode). Anything wrong is answered 4xx and recorded.
 */
class Receiver {
  readonly got: Received[] = [];
  readonly problems: string[] = [];
  private server: Server | null = null;
  port = 0;
  /** answer each request this much later (a receiver that takes its time) */
  delayMs = 0;

  constructor(private readonly secret: string | null, private readonly tls?: { key: Buffer; cert: Buffer }) {}

  async start(port = 0): Promise<number> {
    const handler = (req: IncomingMessage, res: ServerResponse) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        const raw = Buffer.concat(chunks);
        if (this.secret !== null) {
          const want = Buffer.from(`sha256=${createHmac("sha256", this.secret).update(raw).digest("hex")}`);
          const have = Buffer.from(String(req.headers["x-netevd-signature"] ?? ""));
          if (have.length !== want.length || !timingSafeEqual(have, want)) {
            res.writeHead(401).end("bad signature");
            return;
          }
        }
        try {
          const parsed = HTTP.toEvent({ headers: req.headers, body: raw.toString("utf8") });
          for (const ce of (Array.isArray(parsed) ? parsed : [parsed]) as CloudEvent<NetevdEvent>[]) {
            ce.validate();
            if (ce.specversion !== "1.0" || ce.source !== SOURCE || ce.type !== `io.netevd.${ce.data?.event}` ||
                ce.data?.id !== ce.id || ce.datacontenttype !== "application/json" || ce.subject !== (ce.data?.link ?? undefined) ||
                Date.parse(ce.time ?? "") !== Date.parse(ce.data.ts)) {
              throw new Error(`unexpected attributes: ${JSON.stringify({ ...ce, data: undefined })}`);
            }
            this.got.push({ id: ce.id, subject: ce.subject, type: ce.type, data: ce.data });
          }
          setTimeout(() => res.writeHead(202).end(), this.delayMs);
        } catch (err) {
          this.problems.push((err as Error).message);
          res.writeHead(400).end("invalid CloudEvent");
        }
      });
    };
    this.server = this.tls ? createHttps({ ...this.tls }, handler) : createHttp(handler);
    await new Promise<void>((res) => this.server!.listen(port, "127.0.0.1", res));
    this.port = (this.server.address() as { port: number }).port;
    return this.port;
  }

  async stop(): Promise<void> {
    const s = this.server;
    this.server = null;
    if (!s) return;
    s.closeAllConnections();
    await new Promise((res) => s.close(res));
  }
}

const netevd = lookupUser("netevd")!;

/** A spool directory the daemon (running as netevd) can write. */
function stateDir(): string {
  const d = tempDir("netevd-state-");
  chownSync(d, netevd.uid, netevd.gid);
  return d;
}

/** A secret file as the docs say: owned by the daemon's user, mode 0600. */
function secretFile(secret: string, mode = 0o600): string {
  const f = join(tempDir("netevd-secret-"), "secret");
  writeFileSync(f, `${secret}\n`);
  chownSync(f, netevd.uid, netevd.gid);
  chmodSync(f, mode);
  return f;
}

async function getJson<T>(path: string): Promise<{ status: number; body: T }> {
  const r = await fetch(API + path);
  return { status: r.status, body: (await r.json()) as T };
}

async function metric(name: string, sink: string): Promise<number> {
  const text = await (await fetch(`${API}/metrics`)).text();
  const line = text.split("\n").find((l) => l.startsWith(`${name}{sink="${sink}"}`));
  return line ? Number(line.split(" ").pop()) : NaN;
}

const history = async (): Promise<NetevdEvent[]> => (await getJson<{ events: NetevdEvent[] }>("/api/v1/events")).body.events;

async function lab0Up(): Promise<void> {
  await ip("link", "set", lab.ifname, "up");
  await ipSrv("link", "set", lab.peer, "up");
  await waitFor("lab0 carrier", async () => (await ip("-o", "link", "show", lab.ifname)).includes("LOWER_UP"), 5000);
}

async function flaps(n: number): Promise<void> {
  for (let i = 0; i < n; i++) {
    await ipSrv("link", "set", lab.peer, "down");
    await sleep(25);
    await ipSrv("link", "set", lab.peer, "up");
    await sleep(25);
  }
}

async function startDaemon(yaml: string): Promise<DaemonProcess> {
  const d = DaemonProcess.start(["run", "-c", writeConfig(yaml)]);
  await d.waitRecord((r) => r.msg === "ready", 15_000);
  return d;
}

if (labFile(import.meta.url, { timeoutMs: 600_000 })) {
  test.beforeEach(lab0Up);

  test("200 flaps, receiver down 20 s, daemon killed and restarted meanwhile (and restarted, and killed while draining): every event arrives, once after dedup, in order per link", { timeout: 300_000 }, async () => {
    const rx = new Receiver("right-secret");
    const port = await rx.start();
    const { base } = hookTree({});
    const yaml = `system:\n  backend: none\n  scripts_dir: ${base}\n  state_dir: ${stateDir()}\nevents:\n  history_size: 10000\n` +
      `sinks:\n  - name: lab\n    url: http://127.0.0.1:${port}/events\n    secret_file: ${secretFile("right-secret")}\n` +
      "    retry_initial_ms: 100\n    retry_max_sec: 1\n";
    let d = await startDaemon(yaml);
    let histA: NetevdEvent[] = [];
    try {
      await flaps(60);
      await rx.stop();
      const down = Date.now();
      await flaps(60);
      await sleep(300);
      histA = await history();
      assert.ok(await metric("netevd_sink_failed_attempts_total", "lab") > 0, "the sink saw the receiver down");
      // a crash, not a shutdown: the spool must hold without a final flush
      const starting = await d.waitRecord((r) => r.msg === "starting");
      process.kill(Number(starting.pid), "SIGKILL");
      await d.exited;
      d = await startDaemon(yaml);
      await flaps(20);
      // and an orderly restart (SIGTERM: the spool is flushed on the way out)
      await sleep(300);
      const histB = await history();
      await d.stop();
      d = await startDaemon(yaml);
      await flaps(20);
      await sleep(Math.max(0, 20_000 - (Date.now() - down)));
      rx.delayMs = 3;
      await rx.start(port);
      // another crash while the backlog drains: deliveries whose ack was not on disk yet come again
      const before = rx.got.length;
      await waitFor("the backlog draining", () => rx.got.length >= before + 30, 20_000, 2);
      const histC = await history();
      const starting2 = await d.waitRecord((r) => r.msg === "starting");
      process.kill(Number(starting2.pid), "SIGKILL");
      await d.exited;
      d = await startDaemon(yaml);
      await flaps(40);
      let union: NetevdEvent[] = [];
      const missing = () => {
        const have = new Set(rx.got.map((g) => g.id));
        return union.filter((e) => !have.has(e.id));
      };
      await waitFor("the receiver has every event of all four runs", async () => {
        union = [...histA, ...histB, ...histC, ...await history()];
        return missing().length === 0;
      }, 60_000, 200).catch(() => assert.fail(`${missing().length} of ${union.length} events never arrived, e.g. ${JSON.stringify(missing().slice(0, 3).map((e) => e.id))}`));
      assert.deepEqual(rx.problems, [], "every request was a valid, signed CloudEvent");
      const prefixes = new Set(union.map((e) => e.id.slice(0, e.id.lastIndexOf("-"))));
      assert.equal(prefixes.size, 4, "four runs, four id prefixes");
      assert.ok(union.filter((e) => e.event === "no-carrier" && e.link === lab.ifname).length >= 100, "the flaps are events");
      // dedup: first occurrences, in arrival order
      const seen = new Map<string, Received>();
      for (const g of rx.got) if (!seen.has(g.id)) seen.set(g.id, g);
      assert.deepEqual([...seen.keys()].sort(), union.map((e) => e.id).sort(), "nothing missing, nothing extra");
      for (const g of seen.values()) assert.deepEqual(g.data, union.find((e) => e.id === g.id), "data is the event contract");
      const links = new Set(union.map((e) => e.link));
      for (const l of links) {
        assert.deepEqual([...seen.values()].filter((g) => g.data.link === l).map((g) => g.id), union.filter((e) => e.link === l).map((e) => e.id), `order of ${l}`);
      }
      const dups = rx.got.length - seen.size;
      console.log(`received ${rx.got.length} deliveries, ${seen.size} distinct events, ${dups} redelivered`);
      await waitFor("queue drained", async () => (await metric("netevd_sink_queued_events", "lab")) === 0, 10_000);
      assert.equal((await getJson<{ sources: Record<string, { ok: boolean }> }>("/health")).body.sources["sink/lab"]?.ok, true);
    } finally {
      await d.stop();
      await rx.stop();
    }
  });

  test("64 KiB spool and a dead receiver: the spool stays under the cap, drops are counted, hooks run on time", { timeout: 180_000 }, async () => {
    const rec = `#!/bin/sh\nprintf '{"t":%s,"id":"%s"}\\n' "$(date +%s%3N)" "$(printf '%s' "$NETEVD_EVENT" | sed 's/.*"id":"\\([^"]*\\)".*/\\1/')" >> $OUT/runs.jsonl\n`;
    const { base, out } = hookTree({ "carrier.d": { "10-rec": rec }, "no-carrier.d": { "10-rec": rec } });
    const state = stateDir();
    // nothing listens on port 9 of the lab's loopback: every attempt is refused
    const d = await startDaemon(`system:\n  backend: none\n  scripts_dir: ${base}\n  state_dir: ${state}\nevents:\n  history_size: 10000\n` +
      "hooks:\n  replay_on_start: false\n" +
      `sinks:\n  - name: dead\n    url: http://127.0.0.1:9/\n    spool_max_bytes: 65536\n    retry_initial_ms: 50\n    retry_max_sec: 0.5\n`);
    const spoolDir = join(state, "sinks", "dead");
    const spoolBytes = () => readdirSync(spoolDir).filter((f) => f.endsWith(".seg")).reduce((a, f) => a + statSync(join(spoolDir, f)).size, 0);
    try {
      let maxBytes = 0;
      for (let i = 0; i < 150; i++) {
        await flaps(1);
        maxBytes = Math.max(maxBytes, spoolBytes());
      }
      await sleep(500);
      maxBytes = Math.max(maxBytes, spoolBytes());
      const events = (await history()).filter((e) => e.link === lab.ifname && (e.event === "carrier" || e.event === "no-carrier"));
      const dropped = await metric("netevd_sink_dropped_total", "dead");
      console.log(`spool max ${maxBytes} bytes on disk; ${events.length} events, ${dropped} dropped`);
      assert.ok(maxBytes <= 65536, `spool ${maxBytes} bytes > 64 KiB`);
      assert.ok(maxBytes > 32768, "the spool did fill up");
      assert.ok(dropped > 0, "drops are counted");
      assert.ok(await metric("netevd_sink_queued_bytes", "dead") <= 65536);
      assert.ok(await metric("netevd_sink_oldest_queued_age_seconds", "dead") > 0);
      // hooks: the last event's hook ran, and no run waited on the sink (ms from event to hook start)
      const readRuns = () => readJsonLines<{ t: number; id: string }>(join(out, "runs.jsonl"));
      await waitFor("the last event's hook", () => readRuns().some((x) => x.id === events[events.length - 1]!.id), 10_000);
      const runs = readRuns();
      const ts = new Map(events.map((e) => [e.id, Date.parse(e.ts)]));
      const lag = runs.map((r) => r.t - (ts.get(r.id) ?? r.t)).sort((a, b) => a - b);
      console.log(`hook lag: median ${lag[lag.length >> 1]} ms, max ${lag[lag.length - 1]} ms over ${runs.length} runs`);
      assert.ok(runs.length >= events.length / 2, `${runs.length} hook runs for ${events.length} events`);
      assert.ok((lag[lag.length - 1] ?? 0) < 5000, "no hook run waited seconds behind its event");
    } finally {
      await d.stop();
    }
  });

  test("a wrong secret, a self-signed certificate and a readable secret file show as failing sinks with the reason; a CA file fixes TLS", { timeout: 120_000 }, async () => {
    const certDir = tempDir("netevd-tls-");
    const key = join(certDir, "key.pem"), cert = join(certDir, "cert.pem");
    await sh(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert, "-days", "1",
      "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"]);
    chmodSync(cert, 0o644);
    const plain = new Receiver("right-secret");
    const tls = new Receiver(null, { key: readFileSync(key), cert: readFileSync(cert) });
    const pport = await plain.start();
    const tport = await tls.start();
    const { base } = hookTree({});
    const sink = (name: string, url: string, extra = "") =>
      `  - name: ${name}\n    url: ${url}\n    retry_initial_ms: 100\n    retry_max_sec: 0.5\n    unhealthy_after_sec: 1\n${extra}`;
    const d = await startDaemon(`system:\n  backend: none\n  scripts_dir: ${base}\n  state_dir: ${stateDir()}\nsinks:\n` +
      sink("good", `http://127.0.0.1:${pport}/`, `    secret_file: ${secretFile("right-secret")}\n`) +
      sink("wrong-secret", `http://127.0.0.1:${pport}/`, `    secret_file: ${secretFile("wrong-secret")}\n`) +
      sink("loose-secret", `http://127.0.0.1:${pport}/`, `    secret_file: ${secretFile("right-secret", 0o644)}\n`) +
      sink("self-signed", `https://127.0.0.1:${tport}/`) +
      sink("with-ca", `https://127.0.0.1:${tport}/`, `    ca_file: ${cert}\n    batch_max: 10\n`));
    try {
      await flaps(2);
      type Health = { status: string; sources: Record<string, { state: string; ok: boolean; detail?: string }> };
      const h = await waitFor("both failing sinks unhealthy", async () => {
        const r = await getJson<Health>("/health");
        return r.body.sources["sink/wrong-secret"]?.ok === false && r.body.sources["sink/self-signed"]?.ok === false ? r : undefined;
      }, 20_000, 200);
      assert.equal(h.status, 503);
      assert.equal(h.body.status, "degraded");
      const s = h.body.sources;
      assert.equal(s["sink/wrong-secret"]!.state, "failing");
      assert.match(s["sink/wrong-secret"]!.detail!, /HTTP 401 \(rejected: wrong secret or not authorised\?\): bad signature/);
      assert.equal(s["sink/self-signed"]!.state, "failing");
      assert.match(s["sink/self-signed"]!.detail!, /TLS certificate rejected: self-signed certificate \(DEPTH_ZERO_SELF_SIGNED_CERT\)/);
      assert.equal(s["sink/loose-secret"]!.state, "misconfigured");
      assert.match(s["sink/loose-secret"]!.detail!, /readable or writable by others \(mode 0644\)/);
      assert.equal(s["sink/good"]!.ok, true);
      assert.equal(s["sink/with-ca"]!.ok, true);
      // the good sinks got everything despite their failing neighbours
      const evs = await history();
      await waitFor("good sinks delivered", () => {
        const p = new Set(plain.got.map((g) => g.id)), t = new Set(tls.got.map((g) => g.id));
        return evs.every((e) => p.has(e.id) && t.has(e.id));
      }, 10_000);
      assert.deepEqual([...plain.problems, ...tls.problems], []);
      assert.equal(plain.got.length, evs.length, "the wrong secret's requests were all refused");
      // `status` (API and CLI) shows the same
      const st = await getJson<{ health: Health }>("/api/v1/status");
      assert.equal(st.body.health.sources["sink/self-signed"]!.state, "failing");
      const text = spawnSync(join(repoRoot, "bin/netevd"), ["status", "--endpoint", API], { encoding: "utf8" }).stdout;
      assert.match(text, /^status:\s+degraded$/m);
      assert.match(text, /^ {2}sink\/self-signed:\s+failing \(not ok\): for \d+ s: TLS certificate rejected: self-signed certificate/m);
      assert.match(text, /^ {2}sink\/good:\s+(idle|delivering)$/m);
      assert.ok(await metric("netevd_sink_failed_attempts_total", "wrong-secret") >= 2);
    } finally {
      await d.stop();
      await plain.stop();
      await tls.stop();
    }
  });
}
