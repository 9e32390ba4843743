// The API, the event stream, /metrics and the `netevd` client commands against a running
// `netevd run` (started as root, running as the netevd user), compared with what the kernel says
// (`ip -j`) and with the hooks that really ran.
import { test } from "node:test";
import assert from "node:assert/strict";
import { request, type IncomingHttpHeaders } from "node:http";
import { spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { connect } from "node:net";
import { chmodSync, mkdirSync, renameSync, statSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { DaemonProcess, hookTree, ip, ipSrv, lab, labFile, readJsonLines, repoRoot, sh, sleep, waitFor, writeConfig } from "./lab.js";
import { SseParser } from "../../src/api/client.js";

const SOCKET = "/run/netevd/netevd.sock";
const PORT = 9090;
const TOKEN = "lab-token-0123456789";
const MAIN = resolve(repoRoot, "dist/src/cli/main.js");

/** A JSON answer: the tests read it as they expect it to be (a wrong shape fails an assertion). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = any;
interface Res { status: number; headers: IncomingHttpHeaders; text: string; json: Json }

/** One HTTP request over the unix socket (default) or TCP. `chunks` sends the body without a length. */
function http(path: string, o: {
  method?: string; tcp?: boolean; host?: string; port?: number; headers?: Record<string, string>; body?: string | Buffer; chunks?: Buffer[];
} = {}): Promise<Res> {
  const where = o.tcp || o.host ? { host: o.host ?? "127.0.0.1", port: o.port ?? PORT } : { socketPath: SOCKET };
  const headers: Record<string, string> = { ...o.headers };
  if (o.body !== undefined) headers["content-length"] = String(Buffer.byteLength(o.body));
  return new Promise((res, rej) => {
    const req = request({ ...where, path, method: o.method ?? "GET", headers, agent: false }, (r) => {
      const chunks: Buffer[] = [];
      r.on("data", (c: Buffer) => chunks.push(c));
      r.on("end", () => {
        const text = Buffer.concat(chunks).toString();
        let json: unknown;
        try { json = JSON.parse(text); } catch { json = undefined; }
        res({ status: r.statusCode ?? 0, headers: r.headers, text, json });
      });
    });
    req.on("error", rej);
    if (o.chunks) { for (const c of o.chunks) req.write(c); req.end(); } else req.end(o.body);
  });
}

/**
 * A POST announcing a body of `declared` bytes of which only `sent` are sent: the server must answer
 * (and close) without waiting for the rest. A raw unix-socket client reads what it answered.
 */
function hugePost(path: string, declared: number, sent: number): Promise<Res> {
  return new Promise((res) => {
    const s = connect({ path: SOCKET });
    const got: Buffer[] = [];
    s.on("data", (c: Buffer) => got.push(c));
    s.on("error", () => {}); // EPIPE if the server closed first: expected
    s.on("close", () => {
      const text = Buffer.concat(got).toString();
      const [head = "", ...rest] = text.split("\r\n\r\n");
      const [statusLine = "", ...lines] = head.split("\r\n");
      const headers: IncomingHttpHeaders = {};
      for (const l of lines) headers[l.slice(0, l.indexOf(":")).toLowerCase()] = l.slice(l.indexOf(":") + 1).trim();
      const bodyText = rest.join("\r\n\r\n");
      let json: unknown;
      try { json = JSON.parse(bodyText); } catch { json = undefined; }
      res({ status: Number(statusLine.split(" ")[1]), headers, text: bodyText, json });
    });
    s.write(`POST ${path} HTTP/1.1\r\nhost: netevd\r\ncontent-type: application/json\r\ncontent-length: ${declared}\r\n\r\n`);
    s.write(Buffer.alloc(sent, 0x20));
  });
}

const post = (path: string, body: unknown, o: Parameters<typeof http>[1] = {}) =>
  http(path, { method: "POST", body: JSON.stringify(body), ...o, headers: { "content-type": "application/json", ...o.headers } });

/** Run the CLI; resolves with its exit code and output. */
function cli(...args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((res) => {
    const c = spawn(process.execPath, [MAIN, ...args], { stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "", stderr = "";
    c.stdout.on("data", (d: Buffer) => { stdout += d.toString(); });
    c.stderr.on("data", (d: Buffer) => { stderr += d.toString(); });
    c.on("exit", (code) => res({ code, stdout, stderr }));
  });
}

// A hook that records which script ran for which event (NETEVD_EVENT is one line of JSON).
const recorder = (name: string, exit = 0) => `#!/bin/sh
printf '{"script":"%s","event":%s}\\n' "${name}" "$NETEVD_EVENT" >> $OUT/runs.jsonl
exit ${exit}
`;
interface Run { script: string; event: { id: string; event: string; link: string } }
const runs = (out: string): Run[] => readJsonLines<Run>(join(out, "runs.jsonl"));

async function startDaemon(yaml: string): Promise<{ d: DaemonProcess; cfg: string }> {
  const cfg = writeConfig(yaml);
  const d = DaemonProcess.start(["run", "-c", cfg]);
  await d.waitRecord((r) => r.msg === "API listening");
  await d.waitRecord((r) => r.msg === "ready");
  return { d, cfg };
}
const baseYaml = (scripts: string, extra = "") =>
  `system:\n  backend: none\n  scripts_dir: ${scripts}\nhooks:\n  replay_on_start: false\n${extra}`;

async function lab0Up(): Promise<void> {
  await ip("link", "set", lab.ifname, "up");
  await ipSrv("link", "set", lab.peer, "up");
  await waitFor("lab0 carrier", async () => (await ip("-o", "link", "show", lab.ifname)).includes("LOWER_UP"), 5000);
}
const carrier = (on: boolean) => ipSrv("link", "set", lab.peer, on ? "up" : "down");

// ---- comparisons with iproute2 ---------------------------------------------------------------
const TABLES: Record<string, number> = { default: 253, main: 254, local: 255 };
const tableNo = (t: unknown): number => (t === undefined ? 254 : typeof t === "number" ? t : TABLES[t as string] ?? Number(t));
const fullPrefix = (dst: string, family: number): string =>
  dst === "default" || dst.includes("/") ? dst : `${dst}/${family === 4 ? 32 : 128}`;

async function kernelRoutes(): Promise<string[]> {
  const out: string[] = [];
  for (const fam of [4, 6]) {
    for (const r of JSON.parse(await ip(`-${fam}`, "-d", "-j", "route", "show", "table", "all")) as Array<Record<string, unknown>>) {
      out.push(`${fam} ${r.type} ${fullPrefix(r.dst as string, fam)} ${r.dev ?? "-"} ${tableNo(r.table)} ${r.gateway ?? "-"} ${r.protocol}`);
    }
  }
  return out.sort();
}
async function kernelRules(): Promise<string[]> {
  const out: string[] = [];
  for (const fam of [4, 6]) {
    for (const r of JSON.parse(await ip(`-${fam}`, "-d", "-j", "rule", "show")) as Array<Record<string, unknown>>) {
      const src = r.src === undefined || r.src === "all" ? "all" : `${r.src}/${r.srclen ?? (fam === 4 ? 32 : 128)}`;
      out.push(`${fam} ${r.priority} ${src} ${tableNo(r.table)} ${r.protocol}`);
    }
  }
  return out.sort();
}

// ---- a strict Prometheus text-format (0.0.4) parser -------------------------------------------
interface Sample { name: string; labels: Record<string, string>; value: number }
function parseExposition(text: string): { samples: Sample[]; types: Map<string, string> } {
  const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
  const types = new Map<string, string>();
  const helps = new Set<string>();
  const samples: Sample[] = [];
  const seen = new Set<string>();
  assert.ok(text.endsWith("\n"), "exposition ends with a newline");
  for (const [i, line] of text.slice(0, -1).split("\n").entries()) {
    const where = `line ${i + 1}: ${line}`;
    if (line.startsWith("#")) {
      const m = /^# (HELP|TYPE) (\S+) (.*)$/.exec(line);
      if (!m) { assert.ok(line.startsWith("# ") || line === "#", where); continue; }
      assert.match(m[2]!, NAME, where);
      if (m[1] === "TYPE") {
        assert.ok(["counter", "gauge", "histogram", "summary", "untyped"].includes(m[3]!), where);
        assert.ok(!types.has(m[2]!), `duplicate TYPE: ${where}`);
        types.set(m[2]!, m[3]!);
      } else {
        assert.ok(!helps.has(m[2]!), `duplicate HELP: ${where}`);
        helps.add(m[2]!);
      }
      continue;
    }
    if (line === "") continue; // allowed between families
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)( -?\d+)?$/.exec(line);
    assert.ok(m, `sample syntax: ${where}`);
    const labels: Record<string, string> = {};
    if (m[3]) {
      const re = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\[\\"n])*)"(,|$)/y;
      let pos = 0;
      while (pos < m[3].length) {
        re.lastIndex = pos;
        const l = re.exec(m[3]);
        assert.ok(l, `label syntax: ${where}`);
        assert.ok(!(l[1]! in labels), `duplicate label: ${where}`);
        labels[l[1]!] = l[2]!.replace(/\\n/g, "\n").replace(/\\(["\\])/g, "$1");
        pos = re.lastIndex;
      }
    }
    const v = m[4]!;
    assert.ok(/^(NaN|[+-]Inf|[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?)$/.test(v), `value: ${where}`);
    const name = m[1]!;
    const family = [name, name.replace(/_(bucket|sum|count)$/, ""), name.replace(/_total$/, "")].find((n) => types.has(n));
    assert.ok(family, `sample without a TYPE: ${where}`);
    if (name.endsWith("_bucket")) assert.ok("le" in labels, `bucket without le: ${where}`);
    const key = `${name}${JSON.stringify(Object.entries(labels).sort())}`;
    assert.ok(!seen.has(key), `duplicate sample: ${where}`);
    seen.add(key);
    samples.push({ name, labels, value: v === "+Inf" ? Infinity : v === "-Inf" ? -Infinity : Number(v) });
  }
  return { samples, types };
}
const metricValue = (s: Sample[], name: string, labels: Record<string, string> = {}): number =>
  s.find((x) => x.name === name && Object.entries(labels).every(([k, v]) => x.labels[k] === v))?.value ?? 0;
async function scrape(): Promise<Sample[]> {
  const r = await http("/metrics", { tcp: true });
  assert.equal(r.status, 200);
  assert.match(String(r.headers["content-type"]), /^text\/plain; version=0\.0\.4/);
  return parseExposition(r.text).samples;
}

if (labFile(import.meta.url)) {
  test.beforeEach(lab0Up);

  test("interfaces, routes and rules answer what the kernel has; ours are marked; status and health are real", async () => {
    const { base } = hookTree({});
    await ip("addr", "add", "10.77.0.60/24", "dev", lab.ifname);
    await ip("-6", "addr", "add", "2001:db8:77::60/64", "dev", lab.ifname, "nodad");
    await ip("route", "add", "10.98.0.0/24", "via", "10.77.0.1", "dev", lab.ifname, "metric", "50");
    await ip("rule", "add", "from", "10.77.0.60", "lookup", "200", "priority", "32000", "protocol", "static");
    // policy routing for lab0: netevd's own rules and routes (protocol routing.protocol = 110)
    const { d } = await startDaemon(baseYaml(base, `routing:\n  policy_rules: [${lab.ifname}]\n  cleanup_on_exit: true\n`));
    try {
      await waitFor("netevd's policy rules", async () => (await kernelRules()).some((r) => r.includes("10.77.0.60/32") && r.endsWith(" 110")), 5000);
      // interfaces vs ip -j addr
      // a snapshot taken while nothing changed: the kernel's view is the same before and after the
      // request (a link-local address may still be appearing on a link just set up)
      const addrKey = (ls: Array<Record<string, Json>>) => JSON.stringify(ls.map((l) => [l.ifname, l.operstate, l.flags, (l.addr_info as Array<{ local: string; tentative?: boolean }>).map((x) => `${x.local}${x.tentative ? " tentative" : ""}`)]));
      let links: Array<Record<string, Json>> = [];
      let r: Awaited<ReturnType<typeof http>> | undefined;
      for (let i = 0; i < 20; i++) {
        links = JSON.parse(await ip("-j", "addr", "show")) as Array<Record<string, Json>>;
        r = await http("/api/v1/interfaces");
        const again = JSON.parse(await ip("-j", "addr", "show")) as Array<Record<string, Json>>;
        if (addrKey(links) === addrKey(again)) break;
        await sleep(250);
      }
      assert.ok(r);
      assert.equal(r.status, 200);
      const api = r.json.interfaces as Array<Record<string, Json>>;
      assert.deepEqual(api.map((l) => l.name).sort(), links.map((l) => l.ifname).sort());
      for (const k of links) {
        const a = api.find((l) => l.name === k.ifname)!;
        assert.equal(a.index, k.ifindex);
        assert.equal(a.mtu, k.mtu);
        assert.equal(a.mac, k.address);
        assert.equal(a.operstate, String(k.operstate).toLowerCase());
        assert.equal(a.carrier, (k.flags as string[]).includes("LOWER_UP"));
        assert.equal(a.up, (k.flags as string[]).includes("UP"));
        assert.deepEqual(
          a.addresses.map((x: { family: string; address: string; prefixlen: number }) => `${x.family} ${x.address}/${x.prefixlen}`).sort(),
          (k.addr_info as Array<{ family: string; local: string; prefixlen: number }>).map((x) => `${x.family} ${x.local}/${x.prefixlen}`).sort(),
          k.ifname,
        );
      }
      const one = await http(`/api/v1/interfaces/${lab.ifname}`);
      assert.equal(one.status, 200);
      // the fe80 address of a link just set up may finish DAD between the two requests
      const settled = (l: Record<string, Json>) => ({ ...l, addresses: l.addresses.map(({ tentative: _t, flags: _f, ...x }: Record<string, unknown>) => x) });
      assert.deepEqual(settled(one.json), settled(api.find((l) => l.name === lab.ifname)!));
      assert.equal(one.json.mac, "02:4e:56:00:00:02");
      const missing = await http("/api/v1/interfaces/nosuch0");
      assert.equal(missing.status, 404);
      assert.equal(missing.json.error.code, "not_found");
      assert.equal((await http("/api/v1/interfaces/a%2Fb")).status, 400);

      // routes vs ip -j route show table all (both families); routes settle (v6 link-local, DAD) first
      const apiRoutes = async () => ((await http("/api/v1/routes")).json.routes as Array<Record<string, Json>>)
        .map((x) => `${x.family === "inet" ? 4 : 6} ${x.type} ${x.dst} ${x.dev ?? "-"} ${x.table} ${x.gateway ?? "-"} ${x.protocolName ?? x.protocol}`).sort();
      await waitFor("API routes equal to ip route", async () => JSON.stringify(await apiRoutes()) === JSON.stringify(await kernelRoutes()), 5000, 100)
        .catch(async (e) => { assert.deepEqual(await apiRoutes(), await kernelRoutes()); throw e; });
      const routes = (await http("/api/v1/routes")).json.routes as Array<Record<string, Json>>;
      const ownRoutes = [
        ...JSON.parse(await ip("-4", "-j", "route", "show", "table", "all", "proto", "110")).map((r: { dst: string; table: unknown }) => `${fullPrefix(r.dst, 4)} ${tableNo(r.table)}`),
        ...JSON.parse(await ip("-6", "-j", "route", "show", "table", "all", "proto", "110")).map((r: { dst: string; table: unknown }) => `${fullPrefix(r.dst, 6)} ${tableNo(r.table)}`),
      ].sort();
      assert.ok(ownRoutes.length > 0);
      assert.deepEqual(routes.filter((x) => x.ours).map((x) => `${x.dst} ${x.table}`).sort(), ownRoutes);
      assert.equal(routes.find((x) => x.dst === "10.98.0.0/24")?.metric, 50);
      assert.equal(routes.find((x) => x.dst === "10.98.0.0/24")?.ours, false);

      // rules vs ip -j rule; ours = the kernel's protocol-110 rules
      const rules = (await http("/api/v1/rules")).json.rules as Array<Record<string, Json>>;
      const kRules = await kernelRules();
      assert.deepEqual(rules.map((x) => `${x.family === "inet" ? 4 : 6} ${x.priority} ${x.src} ${x.table} ${x.protocolName ?? x.protocol}`).sort(), kRules);
      const ownRules = kRules.filter((r) => r.endsWith(" 110")).map((r) => r.split(" ").slice(1, 2).concat(r.split(" ")[3]!).join(" "));
      assert.ok(ownRules.length >= 2, JSON.stringify(ownRules));
      assert.deepEqual(rules.filter((x) => x.ours).map((x) => `${x.priority} ${x.table}`).sort(), ownRules.sort());
      assert.equal(rules.find((x) => x.priority === 32000)?.ours, false);
      assert.equal(rules.find((x) => x.priority === 32000)?.protocolName, "static");

      // status and health
      const st = await http("/api/v1/status");
      assert.equal(st.status, 200);
      assert.equal(st.json.backend, "none");
      assert.equal(st.json.counts.interfaces, links.length);
      assert.equal(st.json.counts.rules, (await kernelRules()).length);
      assert.equal(st.json.health.status, "ok");
      const h = await http("/health", { tcp: true });
      assert.equal(h.status, 200);
      assert.deepEqual(h.json.sources, { kernel: { state: "synced", ok: true } });

      // the CLI shows the same data
      const li = await cli("list", "interfaces", "--json");
      assert.equal(li.code, 0, li.stderr);
      assert.deepEqual(JSON.parse(li.stdout), api);
      const table = await cli("list", "routes");
      assert.equal(table.code, 0);
      assert.match(table.stdout, /^FAMILY\s+DST\s+GATEWAY/);
      assert.match(table.stdout, /10\.98\.0\.0\/24\s+10\.77\.0\.1\s+lab0\s+main\s+boot\s+50\s+unicast\n/);
      assert.match(table.stdout, /10\.77\.0\.0\/24\s+-\s+lab0\s+\d+\s+110\s.*yes\n/);
      const show = await cli("show", "interface", lab.ifname);
      assert.equal(show.code, 0);
      assert.match(show.stdout, /inet\s+10\.77\.0\.60\/24/);
      const nosuch = await cli("show", "interface", "nosuch0");
      assert.equal(nosuch.code, 1);
      assert.match(nosuch.stderr, /no such interface "nosuch0"/);
    } finally {
      await d.stop();
      await sh(["ip", "rule", "del", "priority", "32000"], { allowFail: true });
      await sh(["ip", "route", "del", "10.98.0.0/24"], { allowFail: true });
      await ip("addr", "flush", "dev", lab.ifname);
    }
  });

  test("events and hook results from the history are the events that happened and the hooks that really ran", async () => {
    const { base, out } = hookTree({ "no-carrier.d": { "10-a": recorder("10-a"), "20-b": recorder("20-b", 3) }, "carrier.d": { "10-c": recorder("10-c") } });
    const { d } = await startDaemon(baseYaml(base));
    try {
      await carrier(false);
      await waitFor("no-carrier hooks", () => runs(out).length >= 2);
      await carrier(true);
      await waitFor("carrier hook", () => runs(out).length >= 3);
      const ran = runs(out);
      const withHooks = await waitFor("hook results in the history", async () => {
        const r = await http(`/api/v1/events?include=hooks&link=${lab.ifname}`);
        const evs = r.json.events as Array<{ id: string; event: string; hooks: Array<{ script: string; ok: boolean; exitCode: number }> }>;
        return evs.reduce((n, e) => n + e.hooks.length, 0) >= 3 ? evs : undefined;
      });
      // every hook that ran is listed under the event that ran it, with its real exit code; nothing else
      const listed = withHooks.flatMap((e) => e.hooks.map((h) => `${e.id} ${h.script.replace(/^.*\//, "")} ${h.exitCode}`)).sort();
      const real = ran.map((x) => `${x.event.id} ${x.script} ${x.script === "20-b" ? 3 : 0}`).sort();
      assert.deepEqual(listed, real);
      const nc = withHooks.find((e) => e.event === "no-carrier")!;
      assert.deepEqual(nc.hooks.map((h) => h.ok), [true, false]);

      // filters
      const only = await http("/api/v1/events?event=no-carrier");
      assert.deepEqual(only.json.events.map((e: { id: string }) => e.id), [nc.id]);
      const last = await http("/api/v1/events?limit=1");
      const all = (await http("/api/v1/events")).json.events as Array<{ id: string }>;
      assert.deepEqual(last.json.events.map((e: { id: string }) => e.id), [all[all.length - 1]!.id]);
      const since = await http(`/api/v1/events?since=${nc.id}`);
      assert.deepEqual(since.json.events.map((e: { id: string }) => e.id), all.slice(all.findIndex((e) => e.id === nc.id) + 1).map((e) => e.id));
      assert.equal((await http("/api/v1/events?limit=0")).status, 400);
      assert.equal((await http("/api/v1/events?event=bogus")).json.error.code, "invalid_parameter");

      const human = await cli("events", "--link", lab.ifname);
      assert.equal(human.code, 0);
      assert.match(human.stdout, /no-carrier\s+lab0\s+kernel\s+changed=carrier/);
      assert.match(human.stdout, /hook .*20-b: exit 3/);
    } finally {
      await d.stop();
    }
  });

  test("`netevd events --follow` prints a carrier loss within 100 ms", async (t) => {
    const { base } = hookTree({});
    const { d } = await startDaemon(baseYaml(base));
    try {
      for (let round = 0; round < 3; round++) {
        const r = await post("/api/v1/trigger", { link: lab.ifname, event: "carrier" });
        assert.equal(r.status, 202);
        const follower = spawn(process.execPath, [MAIN, "events", "--follow", "--json", "--limit", "1", "--link", lab.ifname], { stdio: ["ignore", "pipe", "pipe"] });
        const lines: Array<{ at: number; e: { id: string; event: string } }> = [];
        createInterface({ input: follower.stdout }).on("line", (l) => lines.push({ at: performance.now(), e: JSON.parse(l) }));
        try {
          // anything printed (the replayed last event) means the stream is subscribed
          await waitFor("the follower printed the last event", () => lines.length > 0, 5000, 5);
          const t0 = performance.now();
          await carrier(false);
          const got = await waitFor("no-carrier printed", () => lines.find((x) => x.at >= t0 && x.e.event === "no-carrier"), 2000, 2);
          const ms = got.at - t0;
          t.diagnostic(`carrier loss (from before \`ip link set down\`) printed by netevd events --follow after ${ms.toFixed(1)} ms`);
          assert.ok(ms < 100, `carrier loss printed after ${ms.toFixed(1)} ms`);
        } finally {
          follower.kill();
        }
        await lab0Up();
        await sleep(50);
      }
      const human = spawn(process.execPath, [MAIN, "events", "--follow"], { stdio: ["ignore", "pipe", "pipe"] });
      let text = "";
      human.stdout.on("data", (c: Buffer) => { text += c.toString(); });
      try {
        await waitFor("history printed", () => text.includes("carrier"), 5000);
        await carrier(false);
        await waitFor("no-carrier line", () => /\bno-carrier\s+lab0\s+kernel\s+changed=carrier/.test(text), 2000);
      } finally {
        human.kill();
      }
    } finally {
      await d.stop();
    }
  });

  test("an SSE client that reconnects with Last-Event-ID misses nothing that is still in the history", async () => {
    const { base } = hookTree({});
    const { d } = await startDaemon(baseYaml(base, "events:\n  history_size: 500\n"));
    try {
      const received: string[] = [];
      const connect = (lastId?: string) => new Promise<{ close: () => void; ready: Promise<void> }>((res, rej) => {
        const headers: Record<string, string> = lastId ? { "last-event-id": lastId } : {};
        let ready!: () => void;
        const readyP = new Promise<void>((r) => { ready = r; });
        const req = request({ socketPath: SOCKET, path: `/api/v1/events/stream?link=${lab.ifname}`, headers, agent: false }, (r) => {
          assert.equal(r.statusCode, 200);
          assert.match(String(r.headers["content-type"]), /^text\/event-stream/);
          r.setEncoding("utf8");
          const p = new SseParser((m) => { assert.equal(JSON.parse(m.data).id, m.id); received.push(m.id!); });
          r.on("data", (c: string) => { p.push(c); ready(); });
          r.on("error", () => {});
          res({ close: () => req.destroy(), ready: readyP });
        });
        req.on("error", rej);
        req.end();
      });
      const addrs = (from: number, n: number, op: "add" | "del") =>
        sh(["sh", "-c", Array.from({ length: n }, (_, i) => `ip addr ${op} 10.66.${(from + i) >> 8}.${(from + i) & 255}/32 dev ${lab.ifname}`).join("; ")]);

      const first = await connect();
      await first.ready;
      await addrs(1, 20, "add");
      await waitFor("first batch streamed", () => received.length >= 20, 5000);
      first.close();
      await sleep(50);
      const seenBefore = received.length;
      // while disconnected: more events
      await addrs(1, 20, "del");
      await addrs(100, 30, "add");
      const hist = async () => ((await http(`/api/v1/events?link=${lab.ifname}`)).json.events as Array<{ id: string }>).map((e) => e.id);
      await waitFor("events recorded", async () => (await hist()).length >= 70, 5000);
      const second = await connect(received[received.length - 1]);
      await second.ready;
      await addrs(100, 30, "del");
      const caughtUp = async () => {
        const h = await hist();
        return h.length >= 100 && received[received.length - 1] === h[h.length - 1] ? h : undefined;
      };
      await waitFor("resumed stream caught up with the history", caughtUp, 5000);
      await sleep(400); // trailing (debounced) route events
      const final = await waitFor("resumed stream caught up with the history", caughtUp, 5000);
      second.close();
      // from the first event this client saw: everything in the history, exactly once, in order
      assert.deepEqual(received, final.slice(final.indexOf(received[0]!)));
      assert.ok(seenBefore >= 20 && received.length - seenBefore >= 60, `${seenBefore} before, ${received.length - seenBefore} after the reconnect`);
      assert.ok(received.length >= 100, `${received.length} events`);
    } finally {
      await d.stop();
      await ip("addr", "flush", "dev", lab.ifname);
    }
  });

  test("/metrics is valid exposition format and the event and hook counters move by exactly what happened", async () => {
    const { base, out } = hookTree({ "no-carrier.d": { "10-ok": recorder("10-ok") }, "carrier.d": { "10-fail": recorder("10-fail", 1) } });
    const { d } = await startDaemon(baseYaml(base));
    try {
      const before = await scrape();
      await carrier(false);
      await waitFor("no-carrier hook", () => runs(out).length >= 1);
      await carrier(true);
      await waitFor("carrier hook", () => runs(out).length >= 2);
      const after = await waitFor("hook counters", async () => {
        const s = await scrape();
        return metricValue(s, "netevd_hook_duration_seconds_count", { dir: "carrier.d" }) > metricValue(before, "netevd_hook_duration_seconds_count", { dir: "carrier.d" }) ? s : undefined;
      });
      const delta = (name: string, labels: Record<string, string>) => metricValue(after, name, labels) - metricValue(before, name, labels);
      assert.equal(delta("netevd_events_total", { source: "kernel", event: "no-carrier" }), 1);
      assert.equal(delta("netevd_events_total", { source: "kernel", event: "carrier" }), 1);
      assert.equal(delta("netevd_hook_runs_total", { dir: "no-carrier.d", result: "ok" }), 1);
      assert.equal(delta("netevd_hook_runs_total", { dir: "carrier.d", result: "failed" }), 1);
      assert.equal(delta("netevd_hook_runs_total", { dir: "carrier.d", result: "ok" }), 0);
      assert.equal(delta("netevd_hook_duration_seconds_count", { dir: "no-carrier.d" }), 1);
      assert.equal(metricValue(after, "netevd_interfaces"), (JSON.parse(await ip("-j", "link", "show")) as unknown[]).length);
      assert.equal(metricValue(after, "netevd_rules"), (await kernelRules()).length);
      assert.ok(after.some((s) => s.name === "netevd_build_info" && s.labels.version === "0.1.0" && s.value === 1), "build info with the version");
      assert.ok(metricValue(after, "process_resident_memory_bytes") > 0, "process metrics");
      assert.ok(after.some((s) => s.name === "netevd_netlink_messages_total" && s.value > 0));
    } finally {
      await d.stop();
    }
  });

  test("mutating endpoints need the unix socket or the bearer token; reads over TCP need none", async () => {
    const { base, out } = hookTree({ "carrier.d": { "10-rec": recorder("10-rec") } });
    const { d } = await startDaemon(baseYaml(base, `api:\n  token: ${TOKEN}\n`));
    try {
      const body = { link: lab.ifname, event: "carrier" };
      const none = await post("/api/v1/trigger", body, { tcp: true });
      assert.equal(none.status, 401);
      assert.equal(none.json.error.code, "unauthorized");
      assert.equal(none.headers["www-authenticate"], "Bearer");
      assert.equal((await post("/api/v1/trigger", body, { tcp: true, headers: { authorization: `Bearer ${TOKEN}x` } })).status, 401);
      assert.equal((await post("/api/v1/reload", {}, { tcp: true, headers: { authorization: "Basic Zm9vOmJhcg==" } })).status, 401);
      await sleep(300);
      assert.equal(runs(out).length, 0, "no hook ran for refused requests");
      const ok = await post("/api/v1/trigger", body, { tcp: true, headers: { authorization: `Bearer ${TOKEN}` } });
      assert.equal(ok.status, 202);
      const viaSocket = await post("/api/v1/trigger", body);
      assert.equal(viaSocket.status, 202);
      await waitFor("both triggered hooks ran", () => runs(out).length >= 2);
      assert.deepEqual(runs(out).map((r) => r.event.id).sort(), [ok.json.eventId, viaSocket.json.eventId].sort());
      assert.equal((await http("/api/v1/status", { tcp: true })).status, 200);
      const st = statSync(SOCKET);
      assert.equal(st.mode & 0o777, 0o660);
      assert.equal(st.isSocket(), true);
      // the CLI over TCP with the token
      const t = await cli("trigger", lab.ifname, "carrier", "--endpoint", `http://127.0.0.1:${PORT}`, "--token", TOKEN);
      assert.equal(t.code, 0, t.stderr);
      const nt = await cli("trigger", lab.ifname, "carrier", "--endpoint", `http://127.0.0.1:${PORT}`, "--token", "wrong-token-123");
      assert.equal(nt.code, 1);
      assert.match(nt.stderr, /token/);
    } finally {
      await d.stop();
    }
  });

  test("malformed JSON, huge bodies, wrong types, methods and routes are 4xx JSON errors; the daemon is unaffected", async () => {
    const { base, out } = hookTree({ "no-carrier.d": { "10-rec": recorder("10-rec") } });
    const { d } = await startDaemon(baseYaml(base, "api:\n  max_body_bytes: 1024\n"));
    try {
      const expect = async (p: Promise<Res>, status: number, code: string) => {
        const r = await p;
        assert.equal(r.status, status, r.text);
        assert.match(String(r.headers["content-type"]), /^application\/json/);
        assert.equal(r.json.error.code, code, r.text);
        assert.equal(typeof r.json.error.message, "string");
        return r;
      };
      const json = { "content-type": "application/json" };
      await expect(http("/api/v1/trigger", { method: "POST", headers: json, body: '{"link": "lab0", "event":' }), 400, "invalid_json");
      await expect(http("/api/v1/trigger", { method: "POST", headers: json, body: "[1,2]" }), 400, "invalid_body");
      await expect(post("/api/v1/trigger", { link: lab.ifname, event: "carrier", rm: "-rf /" }), 400, "invalid_body");
      await expect(post("/api/v1/trigger", { link: lab.ifname, event: "../../bin/sh" }), 400, "invalid_body");
      await expect(post("/api/v1/trigger", { link: "nosuch0", event: "carrier" }), 404, "not_found");
      await expect(http("/api/v1/trigger", { method: "POST", headers: { "content-type": "text/plain" }, body: "link=lab0" }), 415, "unsupported_media_type");
      await expect(http("/api/v1/trigger", { method: "POST", headers: json, body: Buffer.alloc(2 << 20, 0x20) }), 413, "body_too_large");
      await expect(http("/api/v1/trigger", { method: "POST", headers: json, chunks: Array.from({ length: 64 }, () => Buffer.alloc(4096, 0x20)) }), 413, "body_too_large");
      const huge = await hugePost("/api/v1/trigger", 1 << 30, 65536);
      assert.equal(huge.status, 413);
      assert.equal(huge.json.error.code, "body_too_large");
      await expect(http("/api/v1/nope"), 404, "not_found");
      await expect(http("/nope"), 404, "not_found"); // "/" is the web page
      const m1 = await expect(http("/api/v1/status", { method: "DELETE" }), 405, "method_not_allowed");
      assert.equal(m1.headers.allow, "GET, HEAD");
      const m2 = await expect(http("/api/v1/reload"), 405, "method_not_allowed");
      assert.equal(m2.headers.allow, "POST");
      await expect(http("/api/v1/routes?table=main"), 400, "invalid_parameter");
      await expect(http("/api/v1/events?limit=1&limit=2"), 400, "invalid_parameter");
      // the daemon is unaffected: healthy, and the next carrier loss runs its hook
      assert.equal((await http("/health")).status, 200);
      await carrier(false);
      await waitFor("hook after the abuse", () => runs(out).length >= 1);
      assert.equal(d.child.exitCode, null);
      assert.ok(!d.records.some((r) => r.level === "error"), "no internal errors logged");
    } finally {
      await d.stop();
    }
  });

  test("TCP clients over api.rate_limit_per_sec get 429 with Retry-After; the unix socket is not limited", async () => {
    const { base } = hookTree({});
    const { d } = await startDaemon(baseYaml(base, "api:\n  rate_limit_per_sec: 5\n"));
    try {
      const tcp = await Promise.all(Array.from({ length: 20 }, () => http("/health", { tcp: true })));
      const limited = tcp.filter((r) => r.status === 429);
      assert.ok(limited.length >= 10, `${limited.length} of 20 limited`);
      assert.equal(limited[0]!.json.error.code, "rate_limited");
      assert.ok(Number(limited[0]!.headers["retry-after"]) >= 1);
      const unix = await Promise.all(Array.from({ length: 20 }, () => http("/health")));
      assert.deepEqual([...new Set(unix.map((r) => r.status))], [200]);
      await sleep(1100);
      assert.equal((await http("/health", { tcp: true })).status, 200, "tokens refill");
    } finally {
      await d.stop();
    }
  });

  test("a non-loopback api.listen without a token refuses to start; with a token it serves and still guards POST", async () => {
    const { base } = hookTree({});
    const d = DaemonProcess.start(["run", "-c", writeConfig(baseYaml(base, 'api:\n  listen: "0.0.0.0:9091"\n'))]);
    const code = await Promise.race([d.exited, sleep(5000).then(() => "still running")]);
    assert.equal(code, 1);
    assert.match(d.stderr.join("\n") + JSON.stringify(d.records), /api\.token/);
    assert.equal(await sh(["ss", "-Hltn", "sport = :9091"]), "", "nothing listens");

    await ip("addr", "add", "10.77.0.61/24", "dev", lab.ifname);
    const { d: d2 } = await startDaemon(baseYaml(base, `api:\n  listen: "0.0.0.0:9091"\n  token: ${TOKEN}\n`));
    try {
      assert.equal((await http("/health", { host: "10.77.0.61", port: 9091 })).status, 200);
      // off loopback, reads need the token too (they carry DHCP data, hook output, routing)
      assert.equal((await http("/api/v1/interfaces", { host: "10.77.0.61", port: 9091 })).status, 401);
      assert.equal((await http("/metrics", { host: "10.77.0.61", port: 9091 })).status, 401);
      assert.equal((await http("/api/v1/interfaces", { host: "10.77.0.61", port: 9091, headers: { authorization: `Bearer ${TOKEN}` } })).status, 200);
      assert.equal((await post("/api/v1/reload", {}, { host: "10.77.0.61", port: 9091 })).status, 401);
      assert.equal((await post("/api/v1/reload", {}, { host: "10.77.0.61", port: 9091, headers: { authorization: `Bearer ${TOKEN}` } })).status, 200);
    } finally {
      await d2.stop();
      await ip("addr", "flush", "dev", lab.ifname);
    }
  });

  test("reload (CLI, POST, SIGHUP) with a broken file keeps the old config and says why; a good file takes effect without a restart", async () => {
    const a = hookTree({ "no-carrier.d": { "10-a": recorder("10-a") } });
    const b = hookTree({ "no-carrier.d": { "10-b": recorder("10-b") } });
    const { d, cfg } = await startDaemon(baseYaml(a.base));
    // as editors do: a reader never sees a half-written file
    const rewrite = (text: string) => { writeFileSync(`${cfg}.new`, text); renameSync(`${cfg}.new`, cfg); };
    try {
      rewrite(`system:\n  backend: none\n  scripts_dir: ${b.base}\nhooks:\n  replay_on_start: false\n  timeout_sec: -5\nmonitoring:\n  interfaces: 7\n`);
      const c = await cli("reload", "-c", cfg);
      assert.equal(c.code, 1);
      assert.match(c.stderr, /rejected/);
      assert.match(c.stderr, /hooks\.timeout_sec/);
      assert.match(c.stderr, /monitoring\.interfaces/);
      const r = await post("/api/v1/reload", {});
      assert.equal(r.status, 422);
      assert.equal(r.json.error.code, "config_rejected");
      assert.ok(r.json.error.details.problems.some((p: string) => p.includes("hooks.timeout_sec") && p.includes(cfg)), JSON.stringify(r.json));
      const from = d.records.length;
      d.child.kill("SIGHUP");
      await d.waitRecord((x) => x.msg === "config reload rejected; keeping the running config" && String(x.problems).includes("timeout_sec"), 5000, from);
      // a reload that would expose the API without a token is rejected too
      rewrite(baseYaml(b.base, 'api:\n  listen: "0.0.0.0:9090"\n'));
      const exposed = await cli("reload");
      assert.equal(exposed.code, 1);
      assert.match(exposed.stderr, /api\.token/);
      // still the old config: a's hook runs
      await carrier(false);
      await waitFor("a's hook", () => runs(a.out).length >= 1);
      assert.equal(runs(b.out).length, 0);
      await carrier(true);
      // a good file: b's hook dir from now on, no restart
      rewrite(baseYaml(b.base));
      const ok = await cli("reload", "--json");
      assert.equal(ok.code, 0, ok.stderr);
      assert.deepEqual(JSON.parse(ok.stdout), { ok: true });
      await sleep(100);
      await carrier(false);
      await waitFor("b's hook", () => runs(b.out).length >= 1);
      assert.equal(runs(a.out).length, 1);
      assert.equal((await http("/api/v1/status")).json.hooks.scriptsDir, b.base);
    } finally {
      await d.stop();
    }
  });

  test("`netevd list scripts --json` shows the scripts and why any are skipped", async () => {
    const { base } = hookTree({
      "carrier.d": { "10-ok": recorder("10-ok"), "20-noexec": "#!/bin/sh\n", "30-writable": "#!/bin/sh\n", "40-old.dpkg-old": "#!/bin/sh\n" },
      "routable.d": { "50-ok": "#!/bin/sh\n" },
      "carier.d": { "10-typo": "#!/bin/sh\n" },
    });
    chmodSync(join(base, "carrier.d/20-noexec"), 0o644);
    chmodSync(join(base, "carrier.d/30-writable"), 0o757);
    mkdirSync(join(base, "no-carrier.d"), { mode: 0o777 });
    chmodSync(join(base, "no-carrier.d"), 0o777);
    const { d } = await startDaemon(baseYaml(base));
    try {
      const r = await cli("list", "scripts", "--json");
      assert.equal(r.code, 0, r.stderr);
      const v = JSON.parse(r.stdout) as { scriptsDir: string; dirs: Array<{ event: string; scripts: Array<{ name: string }>; skipped: Array<{ name: string; reason: string }>; problem?: string }>; unknownDirs: Array<{ name: string }> };
      assert.equal(v.scriptsDir, base);
      const dir = (e: string) => v.dirs.find((x) => x.event === e)!;
      assert.deepEqual(dir("carrier").scripts.map((s) => s.name), ["10-ok"]);
      assert.deepEqual(Object.fromEntries(dir("carrier").skipped.map((s) => [s.name, s.reason])), {
        "20-noexec": "not executable",
        "30-writable": "world-writable",
        "40-old.dpkg-old": "backup or package-manager file name (ends in .dpkg-old)",
      });
      assert.deepEqual(dir("routable").scripts.map((s) => s.name), ["50-ok"]);
      assert.match(dir("no-carrier").problem ?? "", /writable/);
      assert.deepEqual(v.unknownDirs.map((u) => u.name), ["carier.d"]);
      const human = await cli("list", "scripts");
      assert.match(human.stdout, /carrier\.d\s+20-noexec\s+\S+\s+skipped: not executable/);
      assert.match(human.stdout, /carrier\.d\s+10-ok\s+\S+\s+runs/);
    } finally {
      await d.stop();
    }
  });

  test("client exit codes: 3 when the daemon is not running, 2 on usage errors; no socket dir → the daemon runs without it", async () => {
    const down = await cli("status");
    assert.equal(down.code, 3);
    assert.match(down.stderr, /not running/);
    assert.equal((await cli("events", "--follow")).code, 3);
    assert.equal((await cli("status", "--endpoint", "http://127.0.0.1:9")).code, 3);
    for (const args of [["list"], ["list", "bogus"], ["show", "interface"], ["trigger", lab.ifname, "bogus"], ["trigger", "a/b", "carrier"],
      ["events", "--limit", "x"], ["status", "--follow"], ["status", "--endpoint", "ftp://x"]]) {
      const r = await cli(...args);
      assert.equal(r.code, 2, `${args.join(" ")}: ${r.stderr}`);
    }
    // a socket directory the netevd user cannot write: logged, and the daemon keeps serving TCP
    mkdirSync("/run/nv-ro", { mode: 0o755 });
    const { base } = hookTree({});
    const { d } = await startDaemon(baseYaml(base, "api:\n  socket: /run/nv-ro/netevd.sock\n"));
    try {
      const err = await d.waitRecord((r) => r.msg.startsWith("cannot create the API unix socket"));
      assert.match(String(err.err), /EACCES/);
      assert.equal((await http("/health", { tcp: true })).status, 200);
      const st = await cli("status", "--json", "--endpoint", `http://127.0.0.1:${PORT}`);
      assert.equal(st.code, 0);
      assert.equal(JSON.parse(st.stdout).api.socket, null);
    } finally {
      await d.stop();
    }
  });
}
