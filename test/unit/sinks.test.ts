// Event sinks: the CloudEvent mapping, the sink config, and the spool (real files in a temp dir).
import { test } from "node:test";
import assert from "node:assert/strict";
import { createHmac } from "node:crypto";
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync, appendFileSync, chmodSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { HTTP, CloudEvent as SdkEvent } from "cloudevents";
import { compileFilter, encodeCloudEvent, signature, sourceHost, toCloudEvent } from "../../src/actions/sinks/cloudevent.js";
import { Spool } from "../../src/actions/sinks/spool.js";
import { readGuardedFile, secretKey } from "../../src/actions/sinks/index.js";
import { failureReason, SinkWorker, type PostResult } from "../../src/actions/sinks/deliver.js";
import { EventFactory, runPrefix } from "../../src/events/factory.js";
import { eventsAfter } from "../../src/api/query.js";
import { validateConfig } from "../../src/config/schema.js";
import { SINK_DEFAULTS, type SinkConfig } from "../../src/config/types.js";
import type { NetevdEvent } from "../../src/events/types.js";
import type { Logger } from "../../src/log.js";
import { testEvent } from "./test-event.js";

const ev = (over: Partial<NetevdEvent> = {}): NetevdEvent =>
  testEvent({ id: "mabc12300000-7", ts: "2026-11-30T10:00:00.123Z", state: { carrier: true }, previous: { carrier: false }, changed: ["carrier"], ...over });

const tmp = () => mkdtempSync(join(tmpdir(), "netevd-sink-"));

test("an event becomes a CloudEvent 1.0 the SDK accepts in structured mode", () => {
  const ce = toCloudEvent(ev(), sourceHost("Host-1.example"));
  assert.equal(ce.specversion, "1.0");
  assert.equal(ce.type, "io.netevd.carrier");
  assert.equal(ce.source, "netevd://host-1.example");
  assert.equal(ce.subject, "eth0");
  assert.equal(ce.id, "mabc12300000-7");
  assert.equal(ce.time, "2026-11-30T10:00:00.123Z");
  const body = encodeCloudEvent(ce);
  const got = HTTP.toEvent({ headers: { "content-type": "application/cloudevents+json" }, body }) as SdkEvent;
  assert.equal(got.validate(), true);
  assert.deepEqual(got.data, ev());
  // a link-less event has no subject (the spec forbids an empty one)
  assert.equal("subject" in toCloudEvent(ev({ link: null, index: null, event: "manager" }), "h"), false);
  assert.equal(sourceHost("bad host/"), "localhost");
});

test("the signature is HMAC-SHA256 of the exact body, hex, with a sha256= prefix", () => {
  const key = Buffer.from("s3cret");
  assert.equal(signature(key, "{}"), `sha256=${createHmac("sha256", key).update("{}").digest("hex")}`);
  assert.deepEqual(secretKey(Buffer.from("s3cret\n")), key);
  assert.throws(() => secretKey(Buffer.from("\n")), /empty/);
});

test("sink filters: event globs and link globs; link-less events only pass an empty link filter", () => {
  const f = compileFilter({ events: ["carrier", "no-*"], links: ["eth*"] });
  assert.equal(f(ev()), true);
  assert.equal(f(ev({ event: "no-carrier" })), true);
  assert.equal(f(ev({ event: "routes" })), false);
  assert.equal(f(ev({ link: "wlan0" })), false);
  assert.equal(f(ev({ link: null })), false);
  assert.equal(compileFilter({ events: [], links: [] })(ev({ link: null })), true);
});

test("event ids: a new prefix per run, still an event id for the API's since", () => {
  const a = new EventFactory(),
    b = new EventFactory();
  const snap = { state: {}, addresses: [], gateway: null, dns: [] };
  const ida = a.make({ event: "carrier", link: "x", index: 1, source: "kernel", snap }).id;
  const idb = b.make({ event: "carrier", link: "x", index: 1, source: "kernel", snap }).id;
  assert.notEqual(ida, idb);
  assert.match(ida, /^[0-9a-z]{13}-1$/);
  assert.notEqual(runPrefix(0), runPrefix(0), "two runs in the same millisecond differ");
  // an id of another run selects everything kept (nothing is missed after a restart)
  assert.equal(eventsAfter([ev({ id: idb })], ida).length, 1);
});

test("sinks config: defaults, validation, duplicate names, unknown keys", () => {
  const good = validateConfig({ sinks: [{ name: "central", url: "https://e.example/x", events: ["carrier", "*-carrier"], links: ["eth*"] }] });
  assert.deepEqual(good.problems, []);
  assert.deepEqual(good.config.sinks[0], { ...SINK_DEFAULTS, name: "central", url: "https://e.example/x", events: ["carrier", "*-carrier"], links: ["eth*"] });
  const bad = validateConfig({
    sinks: [
      { name: "Central", url: "ftp://x" },
      { name: "a", url: "http://u:p@h/" },
      { name: "a", url: "http://h/", secret_file: "rel", evnts: [] },
      { name: "b", url: "http://h/", events: ["nosuch"], links: ["bad/name"] },
      { url: "http://h/" },
    ],
  });
  const msgs = bad.problems.map((p) => `${p.path}: ${p.message}`).join("\n");
  assert.match(msgs, /sinks\[0\]\.name: expected 1-32 characters/);
  assert.match(msgs, /sinks\[0\]\.url: expected an http:\/\/ or https:\/\/ URL/);
  assert.match(msgs, /sinks\[1\]\.url: user:password@/);
  assert.match(msgs, /sinks\[2\]\.secret_file: must be an absolute path/);
  assert.match(msgs, /sinks\[2\]\.evnts: unknown key "evnts"; did you mean "events"\?/);
  assert.match(msgs, /sinks\[3\]\.events\[0\]: "nosuch" matches no event/);
  assert.match(msgs, /sinks\[3\]\.links\[0\]: invalid/);
  assert.match(msgs, /sinks\[4\]: missing required key "name"/);
  const dup = validateConfig({
    sinks: [
      { name: "a", url: "http://h/" },
      { name: "a", url: "http://i/" },
    ],
  });
  assert.match(dup.problems[0]!.message, /duplicate sink name "a"/);
});

test("secret files: regular, not readable by others; the reason says what to fix", async () => {
  const d = tmp();
  try {
    const f = join(d, "s");
    writeFileSync(f, "k\n", { mode: 0o600 });
    chmodSync(f, 0o600);
    assert.equal((await readGuardedFile(f, "secret_file", 4096, true)).toString(), "k\n");
    chmodSync(f, 0o644);
    await assert.rejects(readGuardedFile(f, "secret_file", 4096, true), /readable or writable by others \(mode 0644\); chmod o-rwx/);
    await assert.rejects(readGuardedFile(d, "secret_file", 4096, true), /not a regular file/);
    await assert.rejects(readGuardedFile(join(d, "none"), "secret_file", 4096, true), /does not exist/);
  } finally {
    rmSync(d, { recursive: true, force: true });
  }
});

const body = (i: number, pad = 0) => JSON.stringify({ id: `r-${i}`, time: new Date(1_000_000 + i).toISOString(), p: "x".repeat(pad) });
const timeOf = (b: string) => Date.parse((JSON.parse(b) as { time: string }).time);

test("spool: survives a restart; acked events are not redelivered, unacked ones are, in order", async () => {
  const dir = tmp();
  try {
    const s = await Spool.open(dir, { maxBytes: 1 << 20, syncMs: 5, timeOf });
    for (let i = 1; i <= 10; i++) s.append(body(i), i);
    s.ack(s.peek(4)[3]!.seq);
    await s.close();
    const t = await Spool.open(dir, { maxBytes: 1 << 20, syncMs: 5, timeOf });
    assert.deepEqual(
      t.peek(100).map((r) => JSON.parse(r.body).id),
      ["r-5", "r-6", "r-7", "r-8", "r-9", "r-10"],
    );
    assert.equal(t.oldestAt, 1_000_005);
    t.append(body(11), 11);
    t.ack(t.peek(100)[5]!.seq);
    await t.close();
    const u = await Spool.open(dir, { maxBytes: 1 << 20, syncMs: 5, timeOf });
    assert.deepEqual(
      u.peek(100).map((r) => JSON.parse(r.body).id),
      ["r-11"],
    );
    await u.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("spool: a line cut by a crash is cut off, a corrupt line is dropped and counted, appends go on", async () => {
  const dir = tmp();
  try {
    const s = await Spool.open(dir, { maxBytes: 1 << 20, syncMs: 0, timeOf });
    s.append(body(1), 1);
    s.append(body(2), 2);
    await s.close();
    const seg = join(
      dir,
      readdirSync(dir).find((f) => f.endsWith(".seg"))!,
    );
    appendFileSync(seg, 'not json\n{"id":"half');
    const drops: number[] = [];
    const t = await Spool.open(dir, { maxBytes: 1 << 20, syncMs: 0, timeOf, onDrop: (n) => drops.push(n) });
    assert.deepEqual(drops, [1]);
    t.append(body(3), 3);
    await t.close();
    const u = await Spool.open(dir, { maxBytes: 1 << 20, syncMs: 0, timeOf });
    assert.deepEqual(
      u.peek(100).map((r) => JSON.parse(r.body).id),
      ["r-1", "r-2", "r-3"],
    );
    await u.close();
    assert.ok(readFileSync(seg, "utf8").endsWith("\n"));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("spool: the files never exceed the cap; the oldest go first and are counted", async () => {
  const dir = tmp();
  try {
    const cap = 64 * 1024;
    let dropped = 0;
    // a long fsync window: the cap must hold between syncs too
    const s = await Spool.open(dir, {
      maxBytes: cap,
      syncMs: 60_000,
      timeOf,
      onDrop: (n) => {
        dropped += n;
      },
    });
    let maxSeen = 0;
    for (let i = 1; i <= 2000; i++) {
      s.append(body(i, 200), i);
      assert.ok(s.fileBytes <= cap);
      if (i % 50 === 0) {
        await new Promise((r) => setTimeout(r, 5));
        const onDisk = readdirSync(dir)
          .filter((f) => f.endsWith(".seg"))
          .reduce((a, f) => a + (statSync(join(dir, f), { throwIfNoEntry: false })?.size ?? 0), 0); // a segment may go between readdir and stat
        maxSeen = Math.max(maxSeen, onDisk);
      }
    }
    await s.flush();
    assert.ok(maxSeen <= cap, `on disk ${maxSeen} > cap ${cap}`);
    assert.ok(dropped > 1500);
    assert.equal(s.dropped, dropped);
    assert.equal(s.depth + dropped, 2000);
    // an event larger than a segment (cap/8) still fits; one over half the cap is refused and counted
    s.append(body(2001, 20_000), 2001);
    s.append(body(2002, 40_000), 2002);
    assert.equal(JSON.parse(s.peek(10_000).at(-1)!.body).id, "r-2001");
    assert.ok(s.fileBytes <= cap);
    const ids = s.peek(10_000).map((r) => Number(JSON.parse(r.body).id.slice(2)));
    assert.equal(ids[ids.length - 1], 2001, "the newest are kept");
    assert.deepEqual(
      ids,
      [...ids].sort((a, b) => a - b),
    );
    await s.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

const quietLog: Logger = new Proxy({} as Logger, { get: (_t, k) => (k === "child" ? () => quietLog : k === "enabled" ? () => false : () => {}) });
const sinkCfg = (over: Partial<SinkConfig> = {}): SinkConfig => ({ ...SINK_DEFAULTS, name: "t", url: "http://127.0.0.1:1/", ...over });

test("worker: in order, one request at a time, retries with backoff only while failing, then idle without timers", async () => {
  const dir = tmp();
  try {
    const spool = await Spool.open(dir, { maxBytes: 1 << 20, syncMs: 0, timeOf });
    const got: string[] = [];
    let up = false;
    let inflight = 0;
    const post = async (b: Buffer, h: Record<string, string>): Promise<PostResult> => {
      assert.equal(++inflight, 1);
      await new Promise((r) => setTimeout(r, 1));
      inflight--;
      if (!up) throw Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:1"), { code: "ECONNREFUSED" });
      assert.equal(h["x-netevd-signature"], signature(Buffer.from("k"), b));
      got.push(JSON.parse(b.toString()).id);
      return { status: 202, body: "" };
    };
    const timers = () => process.getActiveResourcesInfo().filter((r) => r === "Timeout").length;
    const idleTimers = timers();
    let now = 0;
    const w = new SinkWorker(sinkCfg({ retry_initial_ms: 20, retry_max_sec: 0.05, unhealthy_after_sec: 1 }), {
      spool,
      post,
      secret: Buffer.from("k"),
      hostname: "h",
      log: quietLog,
      now: () => now,
    });
    for (let i = 1; i <= 5; i++) w.submit(ev({ id: `x-${i}` }));
    await new Promise((r) => setTimeout(r, 100));
    assert.ok(w.failedAttempts >= 2);
    assert.equal(w.health().ok, true, "not unhealthy before unhealthy_after_sec");
    now = 2000;
    assert.deepEqual({ ok: w.health().ok, state: w.health().state }, { ok: false, state: "failing" });
    assert.match(w.health().detail!, /ECONNREFUSED/);
    up = true;
    await new Promise((r) => setTimeout(r, 200));
    assert.deepEqual(got, ["x-1", "x-2", "x-3", "x-4", "x-5"]);
    assert.equal(w.health().state, "idle");
    assert.equal(spool.depth, 0);
    assert.equal(timers(), idleTimers, "an idle sink keeps no timer");
    await w.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("failure reasons name the TLS problem or the receiver's answer", () => {
  assert.match(
    failureReason(Object.assign(new Error("self-signed certificate"), { code: "DEPTH_ZERO_SELF_SIGNED_CERT" })),
    /^TLS certificate rejected: self-signed certificate \(DEPTH_ZERO_SELF_SIGNED_CERT\)$/,
  );
  assert.match(failureReason({ status: 401, body: "bad signature\n" }), /HTTP 401 \(rejected: wrong secret or not authorised\?\): bad signature$/);
});

test("sink set: a reload restarts a changed sink on the same spool; events during the restart are held, not lost", async () => {
  const { SinkSet } = await import("../../src/actions/sinks/index.js");
  const { defaultConfig } = await import("../../src/config/types.js");
  const dir = tmp();
  try {
    const base = defaultConfig();
    const cfg = (timeout: number) => ({ ...base, system: { ...base.system, state_dir: dir }, sinks: [sinkCfg({ name: "s", timeout_sec: timeout, retry_initial_ms: 60_000 })] });
    const set = new SinkSet({ log: quietLog });
    await set.apply(cfg(1));
    set.submit(ev({ id: "a-1" }));
    const reload = set.apply(cfg(2));
    set.submit(ev({ id: "a-2" }));
    await reload;
    set.submit(ev({ id: "a-3" }));
    assert.deepEqual(
      set.stats().map((s) => [s.name, s.queued]),
      [["s", 3]],
    );
    await set.close();
    const spool = await Spool.open(join(dir, "sinks", "s"), { maxBytes: 1 << 20, syncMs: 0, timeOf });
    assert.deepEqual(
      spool.peek(10).map((r) => JSON.parse(r.body).id),
      ["a-1", "a-2", "a-3"],
    );
    await spool.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("spool recovery: a lowered cap drops (and counts) the oldest segments; a planted symlink is neither read nor written through", async () => {
  const { symlinkSync, existsSync } = await import("node:fs");
  const dir = tmp();
  try {
    const s = await Spool.open(dir, { maxBytes: 128 * 1024, syncMs: 0, timeOf });
    for (let i = 1; i <= 400; i++) s.append(body(i, 200), i);
    await s.close();
    const target = join(dir, "..", `${dir.split("/").pop()}-target`);
    writeFileSync(target, `${body(999)}\n`);
    symlinkSync(target, join(dir, "999999999999.seg"));
    const drops: number[] = [];
    const t = await Spool.open(dir, { maxBytes: 64 * 1024, syncMs: 0, timeOf, onDrop: (n) => drops.push(n) });
    const ids = t.peek(1000).map((r) => Number(JSON.parse(r.body).id.slice(2)));
    assert.ok(!ids.includes(999), "the symlink's target is not read");
    assert.equal(ids[ids.length - 1], 400, "the newest are kept");
    assert.equal(drops.reduce((a, b) => a + b, 0) + ids.length, 400, "every event is either kept or counted as dropped");
    assert.ok(t.fileBytes <= 64 * 1024 && ids.length > 100, `${t.fileBytes} bytes, ${ids.length} kept`);
    t.append(body(401), 401);
    await t.close();
    assert.equal(readFileSync(target, "utf8"), `${body(999)}\n`, "nothing written through the symlink");
    rmSync(target);
    assert.ok(existsSync(dir));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("http transport: status and a bounded answer; one deadline for the whole exchange, even against a trickling receiver", async () => {
  const { createServer } = await import("node:http");
  const { httpTransport } = await import("../../src/actions/sinks/deliver.js");
  const server = createServer((req, res) => {
    req.resume();
    req.on("end", () => {
      if (req.url === "/ok") res.writeHead(202).end("x".repeat(10_000));
      else if (req.url === "/big") {
        res.writeHead(200);
        res.write(Buffer.alloc(200_000));
      } else {
        res.writeHead(200);
        const t = setInterval(() => res.write("."), 100);
        res.on("close", () => clearInterval(t));
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const port = (server.address() as { port: number }).port;
  try {
    const t = (path: string) => httpTransport(sinkCfg({ url: `http://127.0.0.1:${port}${path}`, timeout_sec: 0.5 }), undefined);
    const ok = t("/ok");
    const r = await ok.post(Buffer.from("{}"), {});
    assert.equal(r.status, 202);
    assert.equal(r.body.length, 512, "the answer is kept only up to 512 bytes");
    ok.close();
    const big = t("/big");
    assert.equal((await big.post(Buffer.from("{}"), {})).status, 200, "a large answer is not drained to its end");
    big.close();
    const slow = t("/slow");
    await assert.rejects(slow.post(Buffer.from("{}"), {}), /no complete answer within 0.5 s/);
    slow.close();
  } finally {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  }
});

test("sink set: a reload re-reads the secret file (a fixed mode or a rotated secret takes effect without a config change)", async () => {
  const { SinkSet } = await import("../../src/actions/sinks/index.js");
  const { defaultConfig } = await import("../../src/config/types.js");
  const dir = tmp();
  try {
    const secret = join(dir, "secret");
    writeFileSync(secret, "one\n");
    chmodSync(secret, 0o644);
    const base = defaultConfig();
    const config = { ...base, system: { ...base.system, state_dir: dir }, sinks: [sinkCfg({ name: "s", secret_file: secret, retry_initial_ms: 60_000 })] };
    const set = new SinkSet({ log: quietLog });
    await set.apply(config);
    assert.equal(set.health()["sink/s"]?.state, "misconfigured");
    assert.match(set.health()["sink/s"]?.detail ?? "", /mode 0644/);
    set.submit(ev({ id: "b-1" }));
    chmodSync(secret, 0o600);
    await set.apply(config);
    assert.equal(set.health()["sink/s"]?.ok, true, "fixed by a reload");
    assert.equal(set.stats()[0]?.queued, 1, "what was queued meanwhile is still there");
    await set.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("sink set: an https sink on a node that cannot load node:https is off with the reason; an http sink beside it runs", async () => {
  // node:https is loaded with the first https sink (not at start-up): a node built without TLS
  // support fails there. Simulated in a child whose require() of node:https throws.
  const { execFileSync } = await import("node:child_process");
  const dir = tmp();
  try {
    const preload = join(dir, "no-https.cjs");
    writeFileSync(
      preload,
      `const M = require("node:module");
const load = M._load;
M._load = function (request, ...rest) {
  if (request === "node:https" || request === "https") throw Object.assign(new Error("Node.js is not compiled with OpenSSL crypto support"), { code: "ERR_NO_CRYPTO" });
  return load.call(this, request, ...rest);
};
`,
    );
    const mod = (p: string) => JSON.stringify(new URL(p, import.meta.url).href);
    const script = `
      const { SinkSet } = await import(${mod("../../src/actions/sinks/index.js")});
      const { defaultConfig, SINK_DEFAULTS } = await import(${mod("../../src/config/types.js")});
      const base = defaultConfig();
      const sink = (name, url) => ({ ...SINK_DEFAULTS, name, url, retry_initial_ms: 60000 });
      const errors = [];
      const log = { trace() {}, debug() {}, info() {}, warn() {}, error: (msg, f) => errors.push({ msg, ...f }), child() { return log; }, setLevel() {}, enabled() { return true; } };
      const set = new SinkSet({ log });
      await set.apply({ ...base, system: { ...base.system, state_dir: ${JSON.stringify(dir)} }, sinks: [sink("tls", "https://127.0.0.1:1/"), sink("plain", "http://127.0.0.1:1/")] });
      process.stdout.write(JSON.stringify({ health: set.health(), errors, running: set.stats().map((s) => s.name) }));
      await set.close();`;
    const out = JSON.parse(execFileSync(process.execPath, ["--require", preload, "--input-type=module", "-e", script], { encoding: "utf8" })) as {
      health: Record<string, { state: string; ok: boolean; detail?: string }>;
      errors: Array<Record<string, string>>;
      running: string[];
    };
    assert.deepEqual(out.running, ["plain"]);
    assert.equal(out.health["sink/tls"]?.state, "off");
    assert.match(
      out.health["sink/tls"]?.detail ?? "",
      /^transport for https:\/\/127\.0\.0\.1:1\/: an https sink needs node:https, which this node cannot load: Node\.js is not compiled with OpenSSL/,
    );
    assert.deepEqual(
      out.errors.map((e) => [e.msg, e.sink]),
      [["sink transport unusable; the sink is off", "tls"]],
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
