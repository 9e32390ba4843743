// The skip registry is an instance: what it logged and what it lists belong to it, not to the module.
import { test } from "node:test";
import assert from "node:assert/strict";
import { SkipRegistry, type HookLogger } from "../../src/actions/hooks/index.js";

function recorder() {
  const lines: string[] = [];
  const at = (level: string) => (msg: string, f: Record<string, unknown>) => {
    lines.push(`${level} ${msg} ${String(f.script)}: ${String(f.reason)}`);
  };
  const log: HookLogger = { info: at("info"), warn: at("warn"), error: at("error"), debug: at("debug") };
  return { log, lines };
}

const dir = "/etc/netevd/routable.d";
const skipped = (name: string, reason: string) => ({ name, path: `${dir}/${name}`, reason });

test("each (path, reason) is logged once per registry; the list is the last discovery of each dir", () => {
  const a = new SkipRegistry();
  const { log, lines } = recorder();
  a.record({ dir, scripts: [], skipped: [skipped("10-x", "group- and world-writable"), skipped(".hidden", "hidden file")] }, log);
  a.record({ dir, scripts: [], skipped: [skipped("10-x", "group- and world-writable")] }, log);
  assert.deepEqual(lines, ["warn hook skipped 10-x: group- and world-writable", "info hook skipped .hidden: hidden file"]);
  assert.deepEqual(
    a.list().map((s) => s.name),
    ["10-x"],
  );
  assert.equal(a.has(dir), true);
  // a different reason for the same file is news
  a.record({ dir, scripts: [], skipped: [skipped("10-x", "not executable")] }, log);
  assert.equal(lines.length, 3);
  // a clean directory clears its entries
  a.record({ dir, scripts: [], skipped: [] }, log);
  assert.deepEqual(a.list(), []);
  assert.equal(a.has(dir), false);
});

test("two registries share nothing: a second daemon (or test) logs its own skips", () => {
  const { log, lines } = recorder();
  const d = { dir, scripts: [], skipped: [skipped("10-x", "not executable")] };
  new SkipRegistry().record(d, log);
  const b = new SkipRegistry();
  b.record(d, log);
  assert.equal(lines.length, 2);
  assert.deepEqual(
    b.list().map((s) => s.reason),
    ["not executable"],
  );
});

test("an unusable directory is listed first, under its own name", () => {
  const r = new SkipRegistry();
  const { log } = recorder();
  r.record({ dir, scripts: [], skipped: [skipped("10-x", "not executable")], dirProblem: "hook directory is group-writable" }, log);
  assert.deepEqual(
    r.list().map((s) => [s.name, s.path, s.reason]),
    [
      ["routable.d", dir, "hook directory is group-writable"],
      ["10-x", `${dir}/10-x`, "not executable"],
    ],
  );
});
