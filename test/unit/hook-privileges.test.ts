// Pure tests: the execve size fit, the runner's request checks, hooks.user / system.user, setpriv argv.
import { test } from "node:test";
import { strict as assert } from "node:assert";
import { mkdtempSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { tmpdir } from "node:os";
import { buildHookEnv, checkHookEnv, envEntryBytes, execArgBudget, fitExecLimits, HOOK_PATH, MAX_ARG_STRLEN } from "../../src/actions/hooks/env.js";
import { checkRequest } from "../../src/actions/hooks/runner.js";
import { ConfigError, parseConfig } from "../../src/config/index.js";
import { groupsOf, lookupUser, setprivArgv } from "../../src/cli/privileges.js";
import type { HookJob, NetevdEvent } from "../../src/events/types.js";
import { testEvent } from "./test-event.js";

const ARGV = ["/usr/lib/netevd/build/Release/netevd-hookexec", "-n", "-g", "2000", "--", "/etc/netevd/routable.d/50-x"];

test("fitExecLimits: one entry at the kernel's MAX_ARG_STRLEN boundary (NAME=, value and NUL)", () => {
  // "JSON=" (5) + value + NUL (1) <= 131072  <=>  value <= 131066 bytes
  for (const [len, fits] of [
    [131_065, true],
    [131_066, true],
    [131_067, false],
    [131_070, false],
    [131_072, false],
  ] as const) {
    const value = "x".repeat(len);
    assert.equal(envEntryBytes("JSON", value), len + 6);
    const { env, problems } = fitExecLimits({ PATH: HOOK_PATH, JSON: value }, ARGV, 2 * 1024 * 1024);
    assert.equal(env.JSON !== undefined, fits, `value of ${len} bytes`);
    assert.equal(env.PATH, HOOK_PATH);
    assert.equal(problems.length, fits ? 0 : 1);
    if (!fits) {
      assert.equal(problems[0]!.variable, "JSON");
      assert.match(problems[0]!.reason, new RegExp(`${MAX_ARG_STRLEN}-byte limit`));
      assert.doesNotMatch(problems[0]!.reason, /xxx/, "the value never appears in the reason");
    }
  }
  // multi-byte characters count in bytes, not characters
  // "X=" + value + NUL: 65535 × "é" = 131070 bytes is over, 65534 × "é" = 131068 bytes fits
  assert.ok(fitExecLimits({ X: "é".repeat(65_535) }, ARGV, 2 * 1024 * 1024).env.X === undefined, "65535 × é dropped");
  assert.ok(fitExecLimits({ X: "é".repeat(65_534) }, ARGV, 2 * 1024 * 1024).env.X !== undefined, "65534 × é kept");
});

test("fitExecLimits: over the total budget, the largest values go first, the core variables last", () => {
  const env = { PATH: HOOK_PATH, LINK: "eth0", STATE: "routable", A: "a".repeat(60_000), B: "b".repeat(100_000), C: "c".repeat(30_000) };
  const total = (e: Record<string, string>) =>
    Object.entries(e).reduce((n, [k, v]) => n + envEntryBytes(k, v) + 8, 16) + ARGV.reduce((n, a) => n + Buffer.byteLength(a) + 1 + 8, 0);
  const budget = total(env) - 1; // one byte too many
  const r = fitExecLimits(env, ARGV, budget);
  assert.deepEqual(
    r.problems.map((p) => p.variable),
    ["B"],
  );
  assert.ok(total(r.env) <= budget);
  assert.deepEqual(Object.keys(r.env).sort(), ["A", "C", "LINK", "PATH", "STATE"]);
  // exactly at the budget: nothing dropped
  assert.deepEqual(fitExecLimits(env, ARGV, total(env)).problems, []);
  // a tiny budget keeps the core variables longest
  const tiny = fitExecLimits(env, ARGV, total({ PATH: HOOK_PATH, LINK: "eth0", STATE: "routable" }));
  assert.deepEqual(Object.keys(tiny.env).sort(), ["LINK", "PATH", "STATE"]);
});

test("execArgBudget: a quarter of the stack limit, between 128 KiB and 6 MiB", () => {
  const limits = (v: string) =>
    `Limit                     Soft Limit           Hard Limit           Units\nMax stack size            ${v}              unlimited            bytes\n`;
  assert.equal(execArgBudget(limits("8388608")), 2 * 1024 * 1024);
  assert.equal(execArgBudget(limits("unlimited")), 6 * 1024 * 1024);
  assert.equal(execArgBudget(limits("65536")), 128 * 1024);
  assert.equal(execArgBudget(undefined), 2 * 1024 * 1024);
  assert.equal(execArgBudget("garbage"), 2 * 1024 * 1024);
});

const event: NetevdEvent = testEvent({
  id: "mx0-1",
  ts: "2026-11-30T10:00:00.000Z",
  event: "routable",
  backend: "systemd-networkd",
  source: "systemd-networkd",
  previous: {},
  addresses: ["10.0.0.2/24"],
  replay: true,
});

test("checkHookEnv: what buildHookEnv makes passes; anything it could not have made is refused", () => {
  const job: HookJob = { event, state: "routable", env: { IFACE: "eth0", OperationalState: "routable" } };
  const { env } = buildHookEnv(job, { LANG: "C.UTF-8" });
  assert.equal(checkHookEnv(env), undefined);
  for (const [bad, why] of [
    [{ ...env, PATH: "/tmp:/usr/bin" }, /PATH/],
    [{ ...env, LD_PRELOAD: "/tmp/x.so" }, /LD_PRELOAD: refused/],
    [{ ...env, BASH_ENV: "/tmp/x" }, /BASH_ENV/],
    [{ ...env, "A-B": "1" }, /name/],
    [{ ...env, LINK: "eth0;reboot" }, /LINK/],
    [{ ...env, X: "a\nb" }, /X: contains control/],
    [{ ...env, X: 1 }, /X: not a string/],
    [{ ...env, NETEVD_REPLAY: "yes" }, /NETEVD_REPLAY/],
    [Object.fromEntries(Array.from({ length: 300 }, (_, i) => [`V${i}`, "1"])), /more than 256/],
    [[], /not an object/],
    [null, /not an object/],
  ] as const) {
    assert.match(checkHookEnv(bad) ?? "", why, JSON.stringify(bad).slice(0, 80));
  }
});

test("checkRequest: the runner takes only allow-listed events, plain script names and a valid env", () => {
  const env = buildHookEnv({ event, state: "routable", env: {} }, {}).env;
  const good = { id: 1, event: "routable", script: "50-x", eventId: "mx0-1", link: "eth0", env, timeoutSec: 30 };
  assert.equal(checkRequest(good), undefined);
  assert.equal(checkRequest({ ...good, link: null }), undefined);
  for (const [over, why] of [
    [{ event: "../../tmp" }, /allow-list/],
    [{ event: "routable.d" }, /allow-list/],
    [{ script: "../x" }, /plain file name/],
    [{ script: "a/b" }, /plain file name/],
    [{ script: ".." }, /plain file name/],
    [{ script: "" }, /plain file name/],
    [{ script: "x\u0000y" }, /plain file name/],
    [{ id: -1 }, /id/],
    [{ id: "1" }, /id/],
    [{ timeoutSec: 0 }, /timeoutSec/],
    [{ timeoutSec: 1e9 }, /timeoutSec/],
    [{ link: "eth0;reboot" }, /link/],
    [{ eventId: "a b" }, /eventId/],
    [{ env: { ...env, LD_PRELOAD: "x" } }, /LD_PRELOAD/],
  ] as const) {
    assert.match(checkRequest({ ...good, ...over }) ?? "", why, JSON.stringify(over));
  }
  assert.match(checkRequest("x") ?? "", /not an object/);
});

test("config: system.user root is refused and points to hooks.user; hooks.user is root or the daemon's user", () => {
  const problems = (text: string) => {
    try {
      parseConfig(text, "t.yaml");
      return [];
    } catch (e) {
      assert.ok(e instanceof ConfigError);
      return e.problems;
    }
  };
  const [root] = problems("system:\n  user: root\n");
  assert.equal(root?.path, "system.user");
  assert.match(root?.message ?? "", /never runs as root.*hooks\.user: root/);
  assert.equal(parseConfig("hooks:\n  user: root\n", "t.yaml").hooks.user, "root");
  assert.equal(parseConfig("", "t.yaml").hooks.user, null);
  assert.equal(parseConfig("hooks:\n  user: netevd\n", "t.yaml").hooks.user, "netevd");
  const [other] = problems("hooks:\n  user: www-data\n");
  assert.equal(other?.path, "hooks.user");
  assert.match(other?.message ?? "", /root.*daemon's user/);
});

test("setprivArgv: NoNewPrivs, and the capability sets the daemon keeps", () => {
  const argv = setprivArgv({ name: "netevd", uid: 995, gid: 995 }, [], ["/usr/bin/node", "x"]);
  assert.ok(argv.includes("--no-new-privs"));
  assert.ok(argv.includes("--reuid=995"));
  assert.ok(argv.includes("--ambient-caps=-all,+net_admin"));
  assert.deepEqual(argv.slice(-3), ["--", "/usr/bin/node", "x"]);
  const test = setprivArgv({ name: "netevd", uid: 995, gid: 995 }, [], ["/usr/bin/node"], false);
  assert.ok(test.includes("--inh-caps=-all"));
});

test("lookupUser / groupsOf read passwd and group files", () => {
  const dir = mkdtempSync(join(tmpdir(), "netevd-pw-"));
  writeFileSync(join(dir, "passwd"), "root:x:0:0::/root:/bin/sh\nnetevd:x:995:995::/nonexistent:/usr/sbin/nologin\n");
  writeFileSync(join(dir, "group"), "root:x:0:\nnetevd:x:995:\nsrc:x:40:alice,netevd\nother:x:41:alice\n");
  const u = lookupUser("netevd", join(dir, "passwd"));
  assert.deepEqual(u, { name: "netevd", uid: 995, gid: 995 });
  assert.deepEqual([...groupsOf(u, join(dir, "group"))].sort(), [40, 995]);
  assert.equal(lookupUser("nobody-here", join(dir, "passwd")), undefined);
});
