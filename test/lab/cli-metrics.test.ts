// The CLI the way people use it, and the metrics the way Prometheus users expect them, against a
// running daemon: `events --follow` across a daemon restart, `events --since`, local times,
// `status` with failed hooks, colour only on a terminal; /metrics checked by promtool, the shipped
// alerting rules and dashboard against the live names, the metrics-only listener, bounded labels.
/* eslint-disable no-control-regex -- the tests look for terminal escape sequences */
import { test } from "node:test";
import assert from "node:assert/strict";
import { request } from "node:http";
import { spawn, execFile } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { resolve } from "node:path";
import { promisify } from "node:util";
import { DaemonProcess, hookTree, ip, ipSrv, lab, labFile, repoRoot, sleep, waitFor, writeConfig } from "./lab.js";

const MAIN = resolve(repoRoot, "dist/src/cli/main.js");
const PROMTOOL = "/var/lib/netevd-lab/prometheus/usr/bin/promtool";
const RULES = resolve(repoRoot, "packaging/monitoring/netevd-alerts.yaml");
const DASHBOARD = resolve(repoRoot, "packaging/monitoring/grafana-dashboard.json");
const execFileP = promisify(execFile);

function get(port: number, path: string): Promise<{ status: number; text: string }> {
  return new Promise((res, rej) => {
    const req = request({ host: "127.0.0.1", port, path, agent: false }, (r) => {
      let text = "";
      r.on("data", (c: Buffer) => {
        text += c.toString();
      });
      r.on("end", () => res({ status: r.statusCode ?? 0, text }));
    });
    req.on("error", rej);
    req.end();
  });
}

function cli(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((res) => {
    const c = spawn(process.execPath, [MAIN, ...args], { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, ...env } });
    let stdout = "",
      stderr = "";
    c.stdout.on("data", (d: Buffer) => {
      stdout += d.toString();
    });
    c.stderr.on("data", (d: Buffer) => {
      stderr += d.toString();
    });
    c.on("exit", (code) => res({ code, stdout, stderr }));
  });
}

/** The CLI with a terminal as stdout (util-linux `script`), output as the terminal got it. */
async function cliOnTty(args: string[], env: NodeJS.ProcessEnv = {}): Promise<string> {
  const cmd = [process.execPath, MAIN, ...args].map((a) => `'${a}'`).join(" ");
  const { stdout } = await execFileP("script", ["-qec", cmd, "/dev/null"], { env: { ...process.env, TERM: "xterm", ...env } });
  return stdout;
}

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}
function samples(text: string): Sample[] {
  const out: Sample[] = [];
  for (const line of text.split("\n")) {
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m) continue;
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? "").matchAll(/([a-zA-Z_]\w*)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]!] = l[2]!;
    out.push({ name: m[1]!, labels, value: Number(m[3]) });
  }
  return out;
}
const value = (s: Sample[], name: string, labels: Record<string, string> = {}) =>
  s.find((x) => x.name === name && Object.entries(labels).every(([k, v]) => x.labels[k] === v))?.value;

async function lab0Up(): Promise<void> {
  await ip("link", "set", lab.ifname, "up");
  await ipSrv("link", "set", lab.peer, "up");
  await waitFor("lab0 carrier", async () => (await ip("-o", "link", "show", lab.ifname)).includes("LOWER_UP"), 5000);
}
const carrier = (on: boolean) => ipSrv("link", "set", lab.peer, on ? "up" : "down");

const failing = `#!/bin/sh
echo "probing $LINK" >&2
echo "probe of $LINK failed: no route to 192.0.2.1" >&2
exit 2
`;

async function startDaemon(cfg: string): Promise<DaemonProcess> {
  const d = DaemonProcess.start(["run", "-c", cfg]);
  await d.waitRecord((r) => r.msg === "ready", 10_000);
  return d;
}

if (labFile(import.meta.url)) {
  test.beforeEach(lab0Up);

  test("events --follow survives a daemon restart: it reconnects and prints every event of the new run once", async () => {
    const { base } = hookTree({});
    const cfg = writeConfig(`system:\n  backend: none\n  scripts_dir: ${base}\nhooks:\n  replay_on_start: false\n`);
    let d = await startDaemon(cfg);
    const follow = spawn(process.execPath, [MAIN, "events", "--follow", "--json", "--link", lab.ifname, "-c", cfg], { stdio: ["ignore", "pipe", "pipe"] });
    const lines: Array<{ id: string; event: string }> = [];
    let buf = "";
    follow.stdout.on("data", (c: Buffer) => {
      buf += c.toString();
      let nl: number;
      while ((nl = buf.indexOf("\n")) >= 0) {
        lines.push(JSON.parse(buf.slice(0, nl)) as { id: string; event: string });
        buf = buf.slice(nl + 1);
      }
    });
    let stderr = "";
    follow.stderr.on("data", (c: Buffer) => {
      stderr += c.toString();
    });
    try {
      await sleep(300);
      await carrier(false);
      await waitFor("first run's event", () => lines.some((l) => l.event === "no-carrier"), 5000);
      const firstRun = lines[0]!.id.split("-")[0];
      await d.stop();
      d = await startDaemon(cfg);
      // events of the new run before the client is back: resumed from the history, not lost
      await carrier(true);
      await waitFor("the new run's event", () => lines.some((l) => l.event === "carrier" && !l.id.startsWith(`${firstRun}-`)), 15_000);
      await carrier(false);
      await waitFor("a live event after the reconnect", () => lines.filter((l) => !l.id.startsWith(`${firstRun}-`)).length >= 2, 5000);
      assert.equal(follow.exitCode, null, `still following; stderr: ${stderr}`);
      const history = JSON.parse((await cli(["events", "--json", "--link", lab.ifname, "-c", cfg])).stdout) as Array<{ id: string }>;
      const secondRun = lines.filter((l) => !l.id.startsWith(`${firstRun}-`)).map((l) => l.id);
      assert.deepEqual(
        secondRun,
        history.map((e) => e.id),
        "every event of the new run, once, in order",
      );
    } finally {
      follow.kill();
      await d.stop();
    }
  });

  test("status lists the failed hooks of the last hour with their last stderr line; colour only on a terminal without NO_COLOR", async () => {
    const { base } = hookTree({ "carrier.d": { "20-probe": failing } });
    const cfg = writeConfig(`system:\n  backend: none\n  scripts_dir: ${base}\nhooks:\n  replay_on_start: false\n`);
    const d = await startDaemon(cfg);
    try {
      const clean = await cli(["status", "-c", cfg]);
      assert.match(clean.stdout, /failed hooks in the last hour: none/);
      // people following the events see each hook's result as it arrives
      const follow = spawn(process.execPath, [MAIN, "events", "--follow", "-c", cfg], { stdio: ["ignore", "pipe", "pipe"] });
      let followed = "";
      follow.stdout.on("data", (c: Buffer) => {
        followed += c.toString();
      });
      // hook results are streamed live only: flap once the client is connected
      await waitFor(
        "the follower connected",
        async () => (JSON.parse((await cli(["status", "--json", "-c", cfg])).stdout) as { api: { streams: number } }).api.streams >= 1,
        10_000,
      );
      await carrier(false);
      await carrier(true);
      try {
        await waitFor("the hook result in events --follow", () => /\n {4}hook carrier\.d\/20-probe \(\S+-\d+\): exit 2 \(/.test(followed), 5000).catch((e: Error) => {
          throw new Error(`${e.message}; it printed:\n${followed}`);
        });
        assert.match(followed, /\n {6}probe of lab0 failed: no route to 192\.0\.2\.1\n/);
      } finally {
        follow.kill();
      }
      const st = await waitFor("failure in status", async () => {
        const r = await cli(["status", "-c", cfg]);
        return r.stdout.includes("20-probe") ? r : undefined;
      });
      assert.equal(st.code, 0);
      assert.match(st.stdout, /failed hooks in the last hour \(1\):\n\s+\S+ \S+\s+lab0\s+carrier\.d\/20-probe: exit 2\n\s+probe of lab0 failed: no route to 192\.0\.2\.1\n/);
      assert.doesNotMatch(st.stdout, /probing lab0/, "only the last stderr line");
      assert.doesNotMatch(st.stdout, /\x1b\[/, "no colour into a pipe");
      const json = JSON.parse((await cli(["status", "--json", "-c", cfg])).stdout) as { hooks: { recentFailures: Array<{ script: string; lastStderr: string }> } };
      assert.deepEqual(
        json.hooks.recentFailures.map((f) => [f.script, f.lastStderr]),
        [["20-probe", "probe of lab0 failed: no route to 192.0.2.1"]],
      );
      const tty = await cliOnTty(["status", "-c", cfg], { NO_COLOR: "" });
      assert.match(tty, /\x1b\[31mexit 2\x1b\[0m/, "red on a terminal");
      const noColour = await cliOnTty(["status", "-c", cfg], { NO_COLOR: "1" });
      assert.match(noColour, /20-probe: exit 2/);
      assert.doesNotMatch(noColour, /\x1b\[/, "NO_COLOR turns it off");
      const evTty = await cliOnTty(["events", "-c", cfg]);
      assert.match(evTty, /\x1b\[31mno-carrier/, "events too");
    } finally {
      await d.stop();
    }
  });

  test("events --since takes durations and times; times show in local time (or --utc)", async () => {
    const { base } = hookTree({});
    const cfg = writeConfig(`system:\n  backend: none\n  scripts_dir: ${base}\nhooks:\n  replay_on_start: false\n`);
    const d = await startDaemon(cfg);
    try {
      await carrier(false);
      await waitFor("event", async () => JSON.parse((await cli(["events", "--json", "-c", cfg])).stdout).length >= 1);
      await sleep(1100);
      const cut = new Date();
      await sleep(50);
      await carrier(true);
      const all = await waitFor("two events", async () => {
        const e = JSON.parse((await cli(["events", "--json", "-c", cfg])).stdout) as Array<{ id: string; ts: string; event: string }>;
        return e.length >= 2 ? e : undefined;
      });
      const recent = JSON.parse((await cli(["events", "--json", "--since", "10m", "-c", cfg])).stdout) as unknown[];
      assert.equal(recent.length, all.length, "--since 10m: everything of this young daemon");
      const none = await cli(["events", "--since", "0s", "-c", cfg]);
      assert.equal(none.stdout, "no events\n");
      // an absolute local time, as people type it
      const pad = (n: number) => String(n).padStart(2, "0");
      const local = `${cut.getFullYear()}-${pad(cut.getMonth() + 1)}-${pad(cut.getDate())} ${pad(cut.getHours())}:${pad(cut.getMinutes())}:${pad(cut.getSeconds())}`;
      const after = JSON.parse((await cli(["events", "--json", "--since", local, "-c", cfg])).stdout) as Array<{ event: string }>;
      assert.deepEqual(
        after.map((e) => e.event),
        ["carrier"],
      );
      // local time: the same instant, printed in the zone of TZ
      const last = all.filter((e) => e.event === "carrier").at(-1)!;
      const tokyo = (await cli(["events", "--link", lab.ifname, "-n", "1", "-c", cfg], { TZ: "Asia/Tokyo" })).stdout;
      const t = new Date(Date.parse(last.ts) + 9 * 3600_000).toISOString().replace("T", " ").replace("Z", "");
      assert.ok(tokyo.startsWith(t), `${tokyo} starts with ${t} (UTC+9)`);
      const utc = (await cli(["events", "--utc", "--link", lab.ifname, "-n", "1", "-c", cfg], { TZ: "Asia/Tokyo" })).stdout;
      assert.ok(utc.startsWith(last.ts), utc);
      // --follow --since: first what happened since then, then live
      const follow = spawn(process.execPath, [MAIN, "events", "--follow", "--json", "--since", local, "-c", cfg], { stdio: ["ignore", "pipe", "pipe"] });
      let followed = "";
      follow.stdout.on("data", (c: Buffer) => {
        followed += c.toString();
      });
      try {
        await waitFor("--follow --since replays since then", () => followed.includes('"event":"carrier"'), 5000);
        assert.ok(!followed.includes('"event":"no-carrier"'), "nothing from before --since");
        await carrier(false);
        await waitFor("then live events", () => followed.includes('"event":"no-carrier"'), 5000);
      } finally {
        follow.kill();
        await carrier(true);
      }
      const bad = await cli(["events", "--since", "last tuesday", "-c", cfg]);
      assert.equal(bad.code, 2);
      assert.equal(bad.stderr.trim().split("\n").length, 2, "one line and a hint");
    } finally {
      await d.stop();
    }
  });

  test(
    "/metrics passes promtool; standard names; pre-initialised, bounded labels; source and reload gauges; the metrics-only listener; rules and dashboard check",
    { skip: !existsSync(PROMTOOL) && "promtool missing (scripts/setup.sh unpacks it)" },
    async () => {
      const { base } = hookTree({ "carrier.d": { "20-probe": failing } });
      const yaml = (extra = "") => `system:\n  backend: none\n  scripts_dir: ${base}\nhooks:\n  replay_on_start: false\nmetrics:\n  listen: "127.0.0.1:9100"\n${extra}`;
      const cfg = writeConfig(yaml());
      // interfaces with names no label may carry
      const tag = Math.random().toString(36).slice(2, 6);
      const names = Array.from({ length: 10 }, (_, i) => [`vx${i}${tag}`, `vy${i}${tag}`]).flat();
      for (let i = 0; i < names.length; i += 2) await ip("link", "add", names[i]!, "type", "veth", "peer", "name", names[i + 1]!);
      const d = await startDaemon(cfg);
      try {
        const first = await get(9090, "/metrics");
        assert.equal(first.status, 200);
        const s0 = samples(first.text);
        // rate() works from the first scrape: the series exist at 0 before anything happened
        assert.equal(value(s0, "netevd_hook_failures_total", { dir: "carrier.d" }), 0);
        assert.equal(value(s0, "netevd_hook_runs_total", { dir: "routable.d", result: "failed" }), 0);
        assert.equal(value(s0, "netevd_events_total", { source: "kernel", event: "no-carrier" }), 0);
        assert.equal(value(s0, "netevd_source_up", { source: "kernel" }), 1);
        assert.equal(value(s0, "netevd_config_last_reload_successful"), 1);
        const loadedAt = value(s0, "netevd_config_last_reload_success_timestamp_seconds")!;
        assert.ok(Math.abs(loadedAt - Date.now() / 1000) < 60);
        for (const n of [
          "process_cpu_seconds_total",
          "process_resident_memory_bytes",
          "process_start_time_seconds",
          "process_open_fds",
          "process_max_fds",
          "nodejs_heap_size_used_bytes",
          "nodejs_eventloop_lag_seconds",
          "nodejs_version_info",
          "nodejs_active_resources",
        ]) {
          assert.ok(
            s0.some((x) => x.name === n),
            `${n} is exposed`,
          );
        }
        // promtool reads the exposition from stdin
        const checked = await new Promise<{ code: number | null; out: string }>((res) => {
          const p = spawn(PROMTOOL, ["check", "metrics"], { stdio: ["pipe", "pipe", "pipe"] });
          let out = "";
          p.stdout.on("data", (c: Buffer) => {
            out += c.toString();
          });
          p.stderr.on("data", (c: Buffer) => {
            out += c.toString();
          });
          p.on("exit", (code) => res({ code, out }));
          p.stdin.end(first.text);
        });
        assert.equal(checked.code, 0, `promtool check metrics: ${checked.out}`);
        const rules = await execFileP(PROMTOOL, ["check", "rules", RULES], { encoding: "utf8" });
        assert.match(rules.stdout, /SUCCESS: 6 rules found/);

        // every metric the rules and the dashboard use exists (or is the scrape's own `up`)
        const exposed = new Set([...first.text.matchAll(/^# TYPE (\S+) /gm)].map((m) => m[1]!));
        const used = (text: string) => new Set([...text.matchAll(/\b((?:netevd|process|nodejs)_[a-z_]+)/g)].map((m) => m[1]!.replace(/_(bucket|sum|count)$/, "")));
        for (const n of [...used(readFileSync(RULES, "utf8")), ...used(readFileSync(DASHBOARD, "utf8"))])
          assert.ok(exposed.has(n), `${n} (used by the rules or the dashboard) is exposed`);

        // the failing hook counts by dir; flapping 20 odd interfaces adds no label value
        for (const n of names.slice(0, 5)) {
          await ip("link", "set", n, "up");
          await ip("link", "set", n, "down");
        }
        await carrier(false);
        await carrier(true);
        const s1 = await waitFor("hook failure counted", async () => {
          const s = samples((await get(9090, "/metrics")).text);
          return value(s, "netevd_hook_failures_total", { dir: "carrier.d" }) === 1 ? s : undefined;
        });
        const labelValues = s1.flatMap((x) => Object.values(x.labels));
        for (const n of [...names, lab.ifname]) assert.ok(!labelValues.includes(n), `no label carries the interface name ${n}`);
        const key = (x: Sample) => JSON.stringify([x.name, x.labels]);
        const before = new Set(s0.map(key));
        const added = s1.filter((x) => !before.has(key(x)) && x.name.startsWith("netevd_"));
        // the one hook run's histogram series (carrier.d) is all that is new
        assert.deepEqual(
          [...new Set(added.map((x) => `${x.name.replace(/_(bucket|sum|count)$/, "")} ${x.labels.dir}`))],
          ["netevd_hook_duration_seconds carrier.d"],
          "events on 21 interfaces added no series",
        );

        // the metrics-only listener: /metrics and nothing else
        const only = await get(9100, "/metrics");
        assert.equal(only.status, 200);
        assert.ok(samples(only.text).some((x) => x.name === "netevd_hook_failures_total"));
        assert.equal((await get(9100, "/api/v1/status")).status, 404);

        // a rejected reload, then a good one
        writeFileSync(cfg, yaml("events:\n  history_size: 1\n"));
        assert.equal((await cli(["reload", "-c", cfg])).code, 1);
        const s2 = samples((await get(9090, "/metrics")).text);
        assert.equal(value(s2, "netevd_config_last_reload_successful"), 0);
        assert.equal(value(s2, "netevd_config_last_reload_success_timestamp_seconds"), loadedAt);
        const status = JSON.parse((await cli(["status", "--json", "-c", cfg])).stdout) as { reload: { ok: boolean; problems: string[] } };
        assert.equal(status.reload.ok, false);
        assert.match(status.reload.problems.join("\n"), /history_size/);
        // the metrics listener stays where it is bound: moving it is refused, not silently ignored
        writeFileSync(cfg, yaml().replace("127.0.0.1:9100", "127.0.0.1:9101"));
        const moved = await cli(["reload", "-c", cfg]);
        assert.equal(moved.code, 1);
        assert.match(moved.stderr, /metrics\.listen/);
        writeFileSync(cfg, yaml());
        assert.equal((await cli(["reload", "-c", cfg])).code, 0);
        const s3 = samples((await get(9090, "/metrics")).text);
        assert.equal(value(s3, "netevd_config_last_reload_successful"), 1);
        assert.ok(value(s3, "netevd_config_last_reload_success_timestamp_seconds")! > loadedAt);
      } finally {
        await d.stop();
        for (let i = 0; i < names.length; i += 2) await ip("link", "del", names[i]!).catch(() => {});
      }
    },
  );
}
