// The standing adversarial suite (issue 15): property-based fuzzing with fast-check of everything
// that parses data from outside. Deterministic (seed in test/fixtures/fuzz/corpus.json, override
// with NETEVD_FUZZ_SEED) and bounded (NETEVD_FUZZ_RUNS, default 200 per property) so that it stays
// a fast part of `npm test`; the corpus holds inputs that once broke something. See
// test/fixtures/fuzz/README.md.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { readFileSync, readdirSync, mkdtempSync } from "node:fs";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { decodeMessages } from "../../src/netlink/decode.js";
import { parseLeases, leaseFields } from "../../src/sources/lease.js";
import { ConfigError, defaultConfig, deepFreeze, parseConfig, type Config } from "../../src/config/index.js";
import { buildHookEnv } from "../../src/actions/hooks/env.js";
import { hasControlChars, validIfname } from "../../src/net/validate.js";
import type { HookJob, NetevdEvent } from "../../src/events/types.js";
import { startApi, type ApiContext, type ApiServer } from "../../src/api/server.js";
import { History } from "../../src/events/history.js";
import { emptyModel } from "../../src/state/model.js";
import { createLogger } from "../../src/log.js";

const FIXTURES = fileURLToPath(new URL("../../../test/fixtures/", import.meta.url));
const corpus = JSON.parse(readFileSync(join(FIXTURES, "fuzz/corpus.json"), "utf8")) as { seed: number; lease: string[]; yaml: string[]; http: string[] };
const seed = Number(process.env.NETEVD_FUZZ_SEED ?? corpus.seed);
const runs = Number(process.env.NETEVD_FUZZ_RUNS ?? 200);
fc.configureGlobal({ seed, numRuns: runs, endOnFailure: true });

// ---- netlink codec -------------------------------------------------------------------------------

/** Every datagram of the real captures (hex lines of ../netlink/*.hex). */
const captures: Buffer[] = readdirSync(join(FIXTURES, "netlink")).filter((f) => f.endsWith(".hex")).flatMap((f) =>
  readFileSync(join(FIXTURES, "netlink", f), "utf8").split("\n").map((l) => l.trim())
    .filter((l) => l !== "" && !l.startsWith("#") && /^[0-9a-f]+$/.test(l)).map((l) => Buffer.from(l, "hex")));

/** A capture with bytes overwritten, bytes cut off or bytes appended. */
const mutatedCapture = fc.tuple(
  fc.integer({ min: 0, max: captures.length - 1 }),
  fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 16 }),
  fc.nat(),
  fc.uint8Array({ maxLength: 64 }),
).map(([i, flips, cut, tail]) => {
  const b = Buffer.from(captures[i]!);
  for (const [pos, v] of flips) if (b.length) b[pos % b.length] = v;
  return Buffer.concat([b.subarray(0, b.length - (cut % (b.length + 1))), tail]);
});

test("netlink: decodeMessages never throws on random or mutated datagrams, and yields at most one item per 16 bytes", () => {
  assert.ok(captures.length > 10, "the captures are there");
  fc.assert(fc.property(fc.oneof(fc.uint8Array({ maxLength: 4096 }), mutatedCapture), (buf) => {
    const out = decodeMessages(buf);
    assert.ok(out.length <= Math.max(1, Math.ceil(buf.length / 16)));
    for (const d of out) {
      if (d.type !== "msg") continue;
      const m = d.msg as unknown as Record<string, unknown>;
      // a name from the kernel is what the rest of the daemon expects of a name
      const rec = (m.link ?? m.addr ?? m.route ?? m.rule) as Record<string, unknown> | undefined;
      if (rec && typeof rec.name === "string" && rec.name !== "") assert.ok(rec.name.length < 64 * 1024);
    }
  }));
});

// ---- lease parser --------------------------------------------------------------------------------

const leaseLine = fc.oneof(
  fc.constantFrom("lease {", "}", "  interface \"lab0\";", "  fixed-address 10.77.0.50;", "  option routers 10.77.0.1;",
    "  option domain-search \"lab.test.\", \"corp.test.\";", "  expire 6 2026/11/28 22:39:47;", "  renew never;", "lease6 {", "{", ";", "#"),
  fc.string({ maxLength: 80 }),
  fc.string({ unit: "binary", maxLength: 40 }),
  fc.integer({ min: 4000, max: 9000 }).map((n) => `  option domain-search "${"a".repeat(n)}";`),
);

test("leases: parseLeases never throws; every lease it returns carries only validated values", () => {
  const check = (text: string) => {
    const r = parseLeases(text);
    for (const [iface, l] of r.leases) {
      assert.equal(iface, l.interface);
      assert.ok(validIfname(l.interface), `interface ${JSON.stringify(l.interface)}`);
      assert.match(l.fixedAddress, /^\d{1,3}(\.\d{1,3}){3}$/);
      for (const v of Object.values(leaseFields(l))) assert.ok(!hasControlChars(v), `no control characters in ${JSON.stringify(v)}`);
    }
    for (const p of r.problems) assert.ok(typeof p.key === "string" && p.reason.length < 300, "problems are short and keyed");
  };
  for (const text of corpus.lease) check(text);
  fc.assert(fc.property(fc.array(leaseLine, { maxLength: 40 }), fc.boolean(), (lines, nl) => check(lines.join("\n") + (nl ? "\n" : ""))));
});

// ---- config loader -------------------------------------------------------------------------------

const example = readFileSync(fileURLToPath(new URL("../../../config/netevd.example.yaml", import.meta.url)), "utf8");

test("config: parseConfig returns a config or throws a ConfigError naming lines, never anything else", () => {
  const check = (text: string) => {
    try {
      const c = parseConfig(text, "fuzz.yaml");
      assert.ok(Object.isFrozen(c) && Object.isFrozen(c.api));
      assert.equal(({} as Record<string, unknown>).polluted, undefined, "no prototype pollution");
    } catch (e) {
      if (!(e instanceof ConfigError)) throw e;
      assert.ok(e.problems.length > 0);
    }
  };
  for (const text of corpus.yaml) check(text);
  const lines = example.split("\n");
  fc.assert(fc.property(
    fc.array(fc.tuple(fc.nat(), fc.oneof(fc.string({ maxLength: 30 }), fc.constantFrom("  ", "- ", ": ", "&a", "*a", "{", "[", "!!binary", "\t"))), { maxLength: 8 }),
    (edits) => {
      const l = [...lines];
      for (const [pos, text] of edits) l.splice(pos % (l.length + 1), pos % 2, text);
      check(l.join("\n"));
    }));
  fc.assert(fc.property(fc.string({ maxLength: 400 }), check));
});

// ---- hook environment ----------------------------------------------------------------------------

const anyText = fc.oneof(fc.string({ maxLength: 40 }), fc.string({ unit: "binary", maxLength: 40 }), fc.constantFrom("", "lab0", "eth0@if3", "10.0.0.1", "a=b", "\u0000"));
const event = fc.record({
  link: fc.option(anyText), index: fc.option(fc.integer()), event: anyText, backend: anyText,
  addresses: fc.array(anyText, { maxLength: 4 }), replay: fc.boolean(), state: fc.dictionary(fc.string({ maxLength: 8 }), anyText, { maxKeys: 4 }),
}).map((e): NetevdEvent => ({
  schema: "netevd.event.v1", id: "r1-1", ts: "2026-11-28T12:00:00.000Z", previous: null, changed: [], gateway: null, dns: [], ...e,
} as unknown as NetevdEvent));

test("hook env: buildHookEnv never throws; every variable it sets has a valid name, no control characters and no NUL", () => {
  fc.assert(fc.property(event, anyText, fc.dictionary(anyText, anyText, { maxKeys: 8 }), fc.option(anyText), (ev, state, extra, json) => {
    const job: HookJob = { event: ev, state, env: extra, ...(json !== null && { json }) };
    const { env } = buildHookEnv(job, { LANG: "C.UTF-8" });
    for (const [k, v] of Object.entries(env)) {
      assert.match(k, /^[A-Za-z_][A-Za-z0-9_]*$/);
      assert.ok(!k.startsWith("LD_"), k);
      assert.ok(!v.includes("\u0000"), `${k} has no NUL`);
      if (k !== "JSON") assert.ok(!hasControlChars(v), `${k} has no control characters`);
    }
    if (env.NETEVD_EVENT !== undefined) assert.doesNotThrow(() => JSON.parse(env.NETEVD_EVENT!));
  }));
});

// ---- API request handling ------------------------------------------------------------------------

const dir = mkdtempSync(join(tmpdir(), "netevd-fuzz-"));
const socketPath = join(dir, "api.sock");
let api: ApiServer | undefined;
after(async () => { await api?.close(); });

async function server(): Promise<ApiServer> {
  if (api) return api;
  const base = defaultConfig() as unknown as { api: Record<string, unknown> };
  const config = deepFreeze({ ...base, api: { ...base.api, listen: "", socket: socketPath } }) as unknown as Config;
  const ctx: ApiContext = {
    config, model: emptyModel(), history: new History(50), startedAt: Date.now(), readyAt: Date.now(),
    log: createLogger({ level: "error", format: "json", sink: { write: () => {} } }),
    kernel: { stats: { messages: 0, batches: 0, overflows: 0, truncated: 0, resyncs: 0, decodeErrors: 0 }, synced: true },
    backend: null, dispatcher: { stats: { submitted: 0, coalesced: 0, started: 0, finished: 0 } },
    health: () => ({ ok: true, sources: {} }),
    trigger: () => ({ ok: false, status: 404, error: "no such interface" }),
    reload: () => ({ ok: false, problems: "fuzz" }),
  };
  api = await startApi(ctx);
  return api;
}

/** One raw request; the status line and body of the answer (a stream is cut after its head). */
function send(raw: string | Buffer): Promise<{ status: number; head: string; body: string }> {
  return new Promise((res) => {
    const s = connect({ path: socketPath });
    let got = "";
    const done = () => {
      const i = got.indexOf("\r\n\r\n");
      const head = i < 0 ? got : got.slice(0, i);
      res({ status: Number(/^HTTP\/1\.1 (\d{3})/.exec(head)?.[1] ?? 0), head, body: i < 0 ? "" : got.slice(i + 4) });
    };
    s.on("data", (c: Buffer) => {
      got += c.toString("latin1");
      if (/content-type: text\/event-stream/i.test(got)) s.destroy();
    });
    s.on("error", () => {});
    s.on("close", done);
    s.setTimeout(3000, () => s.destroy());
    s.end(raw);
  });
}

const token = fc.stringMatching(/^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,12}$/);
const pathArb = fc.oneof(
  fc.constantFrom("/health", "/metrics", "/api/v1/status", "/api/v1/interfaces", "/api/v1/interfaces/lab0", "/api/v1/routes",
    "/api/v1/rules", "/api/v1/events", "/api/v1/events/stream", "/api/v1/scripts", "/api/v1/reload", "/api/v1/trigger"),
  fc.webPath(),
  fc.string({ maxLength: 30 }).map((s) => "/api/v1/interfaces/" + encodeURIComponent(s)),
);
const query = fc.array(fc.tuple(fc.constantFrom("since", "limit", "link", "event", "include", "x"), fc.string({ maxLength: 20 })), { maxLength: 3 })
  .map((kv) => (kv.length ? "?" + kv.map(([k, v]) => `${k}=${encodeURIComponent(v)}`).join("&") : ""));
const request = fc.record({
  method: fc.oneof(fc.constantFrom("GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS"), token),
  path: pathArb, query,
  headers: fc.array(fc.tuple(token, fc.string({ maxLength: 40 }).map((v) => v.replace(/[\r\n\0]/g, ""))), { maxLength: 4 }),
  body: fc.oneof(fc.constant(""), fc.json({ maxDepth: 3 }), fc.string({ maxLength: 200 })),
  json: fc.boolean(),
}).map((r) => {
  const lines = [`${r.method} ${r.path}${r.query} HTTP/1.1`, "host: netevd", "connection: close", ...r.headers.map(([k, v]) => `${k}: ${v}`)];
  if (r.json) lines.push("content-type: application/json");
  if (r.body !== "" && !r.headers.some(([k]) => /^(content-length|transfer-encoding)$/i.test(k))) lines.push(`content-length: ${Buffer.byteLength(r.body)}`);
  return lines.join("\r\n") + "\r\n\r\n" + r.body;
});

test("API: any request gets a well-formed answer: never a 5xx, errors are JSON with a code; the server keeps serving", async () => {
  await server();
  const check = async (raw: string) => {
    const r = await send(raw);
    if (r.status === 0) return; // the server closed a request it could not parse (node's 400 may come first)
    assert.ok(r.status >= 200 && r.status < 500, `status ${r.status} for ${JSON.stringify(raw.slice(0, 200))}`);
    if (r.status >= 400 && r.body !== "") {
      const body = JSON.parse(r.body) as { error?: { code?: unknown } };
      assert.equal(typeof body.error?.code, "string", r.body.slice(0, 200));
    }
  };
  for (const raw of corpus.http) await check(raw);
  await fc.assert(fc.asyncProperty(request, check), { numRuns: Math.max(20, Math.round(runs / 2)) });
  assert.equal((await send("GET /health HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n")).status, 200);
});
