// Which Node builtins an idle daemon has loaded: a builtin's code and heap stay in RSS for the life
// of the process once loaded (crypto +1.0 MB, https with tls +1.4 MB, fs/promises +0.67 MB,
// perf_hooks and v8 +0.3 MB each, measured), so an idle daemon must not load those it does not use.
// The list is what the process really loaded (node records every builtin in
// process.moduleLoadList), and unlike RSS it does not vary with the machine, so it can be asserted.
// A --require preload (through NODE_OPTIONS, which the re-exec as the netevd user keeps) writes the
// list to a file on SIGUSR2, a signal the daemon does not use.
import { test } from "node:test";
import assert from "node:assert/strict";
import { request } from "node:http";
import { chmodSync, chownSync, existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { DaemonProcess, hookTree, ip, labFile, tempDir, waitFor, writeConfig } from "./lab.js";
import { lookupUser } from "../../src/cli/privileges.js";

/** Loaded only when a feature needs them: a token or session, a sink, a /metrics scrape, ... */
const LAZY = ["crypto", "https", "tls", "fs/promises", "perf_hooks", "v8"];

function get(path: string): Promise<{ status: number; text: string }> {
  return new Promise((res, rej) => {
    const req = request({ host: "127.0.0.1", port: 9090, path, agent: false }, (r) => {
      const chunks: Buffer[] = [];
      r.on("data", (c: Buffer) => chunks.push(c));
      r.on("end", () => res({ status: r.statusCode ?? 0, text: Buffer.concat(chunks).toString() }));
    });
    req.on("error", rej);
    req.end();
  });
}

/** The builtins the daemon has loaded, by name ("crypto", "http", ...), at each SIGUSR2. */
function startWithPreload(yaml: string): { d: DaemonProcess; dump: (pid: number) => Promise<Set<string>> } {
  const dir = tempDir("netevd-builtins-");
  chmodSync(dir, 0o1777); // the daemon writes here as the netevd user
  const preload = join(dir, "dump-builtins.cjs");
  writeFileSync(
    preload,
    `let n = 0;
process.on("SIGUSR2", () => {
  const list = process.moduleLoadList.filter((m) => m.startsWith("NativeModule ")).map((m) => m.slice(13));
  require("fs").writeFileSync(${JSON.stringify(dir)} + "/builtins." + process.pid + "." + ++n, list.join("\\n"));
});
`,
  );
  let n = 0;
  const dump = async (pid: number): Promise<Set<string>> => {
    process.kill(pid, "SIGUSR2");
    const file = join(dir, `builtins.${pid}.${++n}`);
    await waitFor(`builtins list ${n} written`, () => existsSync(file), 5000);
    return new Set(readFileSync(file, "utf8").split("\n"));
  };
  const { base } = hookTree({});
  const d = DaemonProcess.start(["run", "-c", writeConfig(`system:\n  scripts_dir: ${base}\n  log_level: debug\n${yaml}`)], { NODE_OPTIONS: `--require ${preload}` });
  return { d, dump };
}

if (labFile(import.meta.url)) {
  test("idle with the API on (backend none): none of crypto, https, tls, fs/promises, perf_hooks, v8 is loaded; /metrics loads v8 only", async () => {
    const { d, dump } = startWithPreload("  backend: none\n");
    try {
      const ready = await d.waitRecord((r) => r.msg === "ready", 10_000);
      const pid = Number(ready.pid);
      const health = await get("/health");
      assert.equal(health.status, 200, "the API answers on 127.0.0.1:9090");

      const idle = await dump(pid);
      assert.ok(idle.has("http") && idle.has("net"), "the list is the running daemon's (its API server is loaded)");
      assert.deepEqual(
        LAZY.filter((m) => idle.has(m)),
        [],
      );

      // loaded when a feature needs it: the heap-space figures of /metrics are node:v8's
      const metrics = await get("/metrics");
      assert.equal(metrics.status, 200);
      assert.match(metrics.text, /^nodejs_heap_space_size_used_bytes\{space="old"\} [1-9]\d*$/m);
      const scraped = await dump(pid);
      assert.deepEqual(
        LAZY.filter((m) => scraped.has(m)),
        ["v8"],
      );
    } finally {
      await d.stop();
    }
  });

  test("idle on the system bus (following hostnamed): still none of them (dbus-next's handshake loaded crypto)", async () => {
    // dhclient's lease pushes put the daemon on the bus, where it follows hostnamed (no dhclient runs here)
    const { d, dump } = startWithPreload("  backend: dhclient\nbackends:\n  dhclient:\n    use_hostname: true\n");
    try {
      const ready = await d.waitRecord((r) => r.msg === "ready", 10_000);
      await d.waitRecord((r) => r.msg === "following systemd-hostnamed", 5000);
      const idle = await dump(Number(ready.pid));
      assert.ok(idle.has("net"));
      assert.deepEqual(
        LAZY.filter((m) => idle.has(m)),
        [],
      );
    } finally {
      await d.stop();
    }
  });

  test("an http sink spooling events (no secret): still none of them (the spool is on fs callbacks)", async () => {
    const state = tempDir("netevd-state-");
    const user = lookupUser("netevd")!;
    chownSync(state, user.uid, user.gid);
    const { d, dump } = startWithPreload(`  backend: none\n  state_dir: ${state}\nsinks:\n  - name: s\n    url: http://127.0.0.1:9/\n    retry_initial_ms: 50\n`);
    try {
      const ready = await d.waitRecord((r) => r.msg === "ready", 10_000);
      // an event for the sink: its spool writes a segment (nothing listens on port 9: it stays queued)
      await ip("link", "add", "nvbi0", "type", "veth", "peer", "name", "nvbi1");
      const spoolDir = join(state, "sinks", "s");
      await waitFor("a spool segment written", () => existsSync(spoolDir) && readdirSync(spoolDir).some((f) => f.endsWith(".seg")), 5000);
      const idle = await dump(Number(ready.pid));
      assert.deepEqual(
        LAZY.filter((m) => idle.has(m)),
        [],
      );
    } finally {
      await d.stop();
      await ip("link", "del", "nvbi0").catch(() => {});
    }
  });
}
