// Issue 15 row 6 and validate/run parity: the config file must be a regular file, read without ever
// blocking (a FIFO used to hang `validate` and would block a reload), and `validate` refuses exactly
// what `run` refuses (it used to say ok for an API exposed without a token).
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { ConfigError, loadConfig, MAX_CONFIG_BYTES } from "../../src/config/index.js";

const MAIN = fileURLToPath(new URL("../../src/cli/main.js", import.meta.url));
const dir = mkdtempSync(join(tmpdir(), "netevd-cfg-hostile-"));

function problem(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof ConfigError, `a ConfigError, got ${String(e)}`);
    return e.message;
  }
  assert.fail("no ConfigError");
}

/** `netevd validate -c path` in a child with a deadline: a hang is a failure, not a stuck suite. */
function validate(path: string): { status: number | null; out: string; timedOut: boolean } {
  const r = spawnSync(process.execPath, [MAIN, "validate", "-c", path], { encoding: "utf8", timeout: 10_000, env: { PATH: process.env.PATH } });
  return { status: r.status, out: r.stdout + r.stderr, timedOut: r.error !== undefined || r.signal !== null };
}

test("a FIFO as config file is refused at once by loadConfig and by `netevd validate` (no writer, no hang)", () => {
  const fifo = join(dir, "fifo.yaml");
  execFileSync("mkfifo", [fifo]);
  assert.match(
    problem(() => loadConfig({ path: fifo, env: {} })),
    /FIFO/,
  );
  const v = validate(fifo);
  assert.equal(v.timedOut, false, "validate returned");
  assert.equal(v.status, 1);
  assert.match(v.out, /FIFO/);
});

test("directories and devices are refused; an oversized file is refused", () => {
  assert.match(
    problem(() => loadConfig({ path: dir, env: {} })),
    /directory/,
  );
  assert.match(
    problem(() => loadConfig({ path: "/dev/zero", env: {} })),
    /device/,
  );
  const big = join(dir, "big.yaml");
  writeFileSync(big, "#".repeat(MAX_CONFIG_BYTES + 10));
  assert.match(
    problem(() => loadConfig({ path: big, env: {} })),
    /too large/,
  );
});

test("validate refuses what run refuses: the API beyond loopback without a token", () => {
  const cfg = join(dir, "exposed.yaml");
  writeFileSync(cfg, 'api:\n  listen: "0.0.0.0:9090"\n');
  assert.match(
    problem(() => loadConfig({ path: cfg, env: {} })),
    /api\.listen.*api\.token/s,
  );
  const v = validate(cfg);
  assert.equal(v.status, 1, v.out);
  assert.match(v.out, /api\.token/);
  // through the environment override too
  const plain = join(dir, "plain.yaml");
  writeFileSync(plain, "system:\n  log_level: info\n");
  assert.match(
    problem(() => loadConfig({ path: plain, env: { NETEVD_API_LISTEN: "[::]:9090" } })),
    /not a loopback address/,
  );
  writeFileSync(cfg, 'api:\n  listen: "0.0.0.0:9090"\n  token: "0123456789abcdef"\n');
  assert.equal(validate(cfg).status, 0);
});

test(
  "validate as root makes the host checks run makes as root: a missing system.user is refused",
  { skip: process.getuid?.() !== 0 && "needs root, like the check in run" },
  () => {
    const cfg = join(dir, "nouser.yaml");
    writeFileSync(cfg, "system:\n  user: no-such-user-netevd-test\n");
    const v = validate(cfg);
    assert.equal(v.status, 1, v.out);
    assert.match(v.out, /does not exist/);
  },
);
