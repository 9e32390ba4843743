// The CLI without a daemon: help per command, --version, one-line usage errors, validate --json,
// --since parsing, local times, colour rules, and the shell completion files.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseSince, displayTime } from "../../src/cli/since.js";
import { useColour } from "../../src/cli/colour.js";
import { COMMANDS } from "../../src/cli/help.js";
import { HOOK_EVENTS } from "../../src/hook-dirs.js";

const root = fileURLToPath(new URL("../../../", import.meta.url));
const MAIN = join(root, "dist/src/cli/main.js");
const BASH_COMPLETION = join(root, "packaging/completion/netevd.bash");
const ZSH_COMPLETION = join(root, "packaging/completion/_netevd");
const version = (JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as { version: string }).version;

function cli(...args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [MAIN, ...args], { encoding: "utf8", env: { ...process.env, NETEVD_CONFIG: "/nonexistent/netevd.yaml" } });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

test("--version and version print the version", () => {
  assert.deepEqual(cli("--version"), { code: 0, stdout: `netevd ${version}\n`, stderr: "" });
  assert.match(cli("version").stdout, new RegExp(`^netevd ${version.replaceAll(".", "\\.")} \\(node v`));
});

test("help COMMAND and COMMAND --help give that command's help", () => {
  for (const cmd of Object.keys(COMMANDS)) {
    const a = cli("help", cmd);
    assert.equal(a.code, 0, cmd);
    assert.ok(a.stdout.startsWith(`usage: ${COMMANDS[cmd]!.usage}\n`), `${cmd}: ${a.stdout}`);
    if (cmd === "help") continue;
    assert.equal(cli(cmd, "--help").stdout, a.stdout, `${cmd} --help`);
    assert.equal(cli(cmd, "-h").stdout, a.stdout, `${cmd} -h`);
  }
  assert.match(cli("help", "events").stdout, /--since TIME/);
  assert.match(cli("events", "--follow", "--help").stdout, /^usage: netevd events/);
  const overview = cli("--help");
  assert.equal(overview.code, 0);
  for (const cmd of Object.keys(COMMANDS)) assert.match(overview.stdout, new RegExp(`^  ${cmd} `, "m"));
  assert.equal(cli("help").stdout, overview.stdout);
});

test("a usage error is one line and a hint, exit 2, not the whole help", () => {
  const cases: Array<[string[], RegExp, string]> = [
    [["bogus"], /^netevd: unknown command "bogus"$/, "Try 'netevd --help' for more information."],
    [["events", "--frob"], /^netevd: Unknown option '--frob'$/, "Try 'netevd help events' for more information."],
    [["events", "--since", "yesterday-ish"], /^netevd: --since: not a time/, "Try 'netevd help events' for more information."],
    [["list"], /^netevd: missing argument \(usage: netevd list interfaces\|routes\|rules\|scripts \[--json\]\)$/, "Try 'netevd help list' for more information."],
    [["status", "--follow"], /^netevd: --follow is an option of "events" only$/, "Try 'netevd help status' for more information."],
    [["test", "x"], /^netevd: test needs --link L and --event E$/, "Try 'netevd help test' for more information."],
    [["help", "nope"], /^netevd: no such command "nope"$/, "Try 'netevd --help' for more information."],
    [["run", "--json"], /^netevd: --json is not an option of "run"$/, "Try 'netevd help run' for more information."],
  ];
  for (const [args, first, hint] of cases) {
    const r = cli(...args);
    assert.equal(r.code, 2, args.join(" "));
    assert.equal(r.stdout, "");
    const lines = r.stderr.trimEnd().split("\n");
    assert.equal(lines.length, 2, `${args.join(" ")}: ${r.stderr}`);
    assert.match(lines[0]!, first);
    assert.equal(lines[1], hint);
  }
});

test("validate --json reports problems with path and line; the text form goes to stderr", () => {
  const dir = mkdtempSync(join(tmpdir(), "netevd-cli-"));
  const bad = join(dir, "bad.yaml");
  writeFileSync(bad, "hooks:\n  timeout_sec: -1\nfoo: 1\n");
  const r = cli("validate", "-c", bad, "--json");
  assert.equal(r.code, 1);
  const report = JSON.parse(r.stdout) as { ok: boolean; file: string; problems: Array<{ path: string; line: number; message: string }> };
  assert.equal(report.ok, false);
  assert.equal(report.file, bad);
  assert.deepEqual(report.problems.map((p) => [p.path, p.line]).sort(), [
    ["foo", 3],
    ["hooks.timeout_sec", 2],
  ]);
  const text = cli("validate", "-c", bad);
  assert.equal(text.code, 1);
  assert.match(text.stderr, new RegExp(`^${bad}:2: hooks\\.timeout_sec: `, "m"));

  // what the daemon would refuse at start-up is a problem too
  const open = join(dir, "open.yaml");
  writeFileSync(open, 'api:\n  listen: "0.0.0.0:9090"\n');
  const o = JSON.parse(cli("validate", "-c", open, "--json").stdout) as { ok: boolean; problems: Array<{ path: string }> };
  assert.equal(o.ok, false);
  assert.equal(o.problems[0]?.path, "api.listen");

  const good = join(dir, "good.yaml");
  writeFileSync(good, "hooks:\n  timeout_sec: 5\n");
  const g = cli("validate", "-c", good, "--json");
  assert.equal(g.code, 0);
  assert.deepEqual(JSON.parse(g.stdout), { ok: true, file: good, fromFile: true, notes: [], problems: [] });
});

test("--since: durations, times of day, local dates, RFC 3339, event ids; nonsense refused", () => {
  const now = new Date(2025, 5, 15, 12, 0, 0); // local
  const since = (t: string) => {
    const r = parseSince(t, now);
    return "since" in r ? r.since : undefined;
  };
  assert.equal(since("10m"), new Date(now.getTime() - 600_000).toISOString());
  assert.equal(since("90s"), new Date(now.getTime() - 90_000).toISOString());
  assert.equal(since("2h"), new Date(now.getTime() - 7_200_000).toISOString());
  assert.equal(since("1d"), new Date(now.getTime() - 86_400_000).toISOString());
  assert.equal(since("10 min ago"), new Date(now.getTime() - 600_000).toISOString());
  assert.equal(since("09:30"), new Date(2025, 5, 15, 9, 30, 0).toISOString());
  assert.equal(since("09:30:15"), new Date(2025, 5, 15, 9, 30, 15).toISOString());
  assert.equal(since("2025-06-01"), new Date(2025, 5, 1).toISOString());
  assert.equal(since("2025-06-01 14:05"), new Date(2025, 5, 1, 14, 5).toISOString());
  assert.equal(since("2025-06-01T14:05:00Z"), "2025-06-01T14:05:00.000Z");
  assert.equal(since("2025-06-01T14:05:00+02:00"), "2025-06-01T12:05:00.000Z");
  assert.equal(since("lq3x9k2a-42"), "lq3x9k2a-42");
  for (const bad of ["", "yesterday", "25:00", "2025-02-31", "10x", "-5m", "2025-06-01 14:05; rm -rf /"]) assert.equal(since(bad), undefined, bad);
});

test("event times show in local time, --utc keeps RFC 3339", () => {
  const iso = "2025-06-01T10:20:30.456Z";
  const d = new Date(iso);
  const p = (n: number, w = 2) => String(n).padStart(w, "0");
  assert.equal(displayTime(iso), `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}.456`);
  assert.equal(displayTime(iso, true), iso);
});

test("colour only on a terminal, never with NO_COLOR (unless empty)", () => {
  assert.equal(useColour({ isTTY: true }, {}), true);
  assert.equal(useColour({ isTTY: false }, {}), false);
  assert.equal(useColour({}, {}), false);
  assert.equal(useColour({ isTTY: true }, { NO_COLOR: "1" }), false);
  assert.equal(useColour({ isTTY: true }, { NO_COLOR: "" }), true);
});

function bashComplete(line: string): string[] {
  const words = line.split(" ");
  const script = `source ${BASH_COMPLETION}
COMP_WORDS=(${words.map((w) => `'${w}'`).join(" ")}); COMP_CWORD=${words.length - 1}; COMP_LINE='${line}'; COMP_POINT=${line.length}
_netevd netevd; printf '%s\\n' "\${COMPREPLY[@]}"`;
  const r = spawnSync("bash", ["-c", script], { encoding: "utf8" });
  assert.equal(r.status, 0, r.stderr);
  return r.stdout.split("\n").filter(Boolean).sort();
}

test("bash completion: commands, options, interfaces and events", () => {
  assert.deepEqual(bashComplete("netevd tr"), ["trigger"]);
  assert.deepEqual(bashComplete("netevd "), Object.keys(COMMANDS).sort());
  assert.deepEqual(bashComplete("netevd list "), ["interfaces", "routes", "rules", "scripts"]);
  assert.deepEqual(bashComplete("netevd events --ev"), ["--event"]);
  assert.deepEqual(bashComplete("netevd events --event no-c"), ["no-carrier"]);
  assert.ok(bashComplete("netevd trigger ").includes("lo"), "interfaces from /sys/class/net");
  assert.ok(bashComplete("netevd trigger lo ").includes("routable"));
  assert.deepEqual(bashComplete("netevd help ev"), ["events"]);
  assert.deepEqual(bashComplete("netevd -c /etc/x.yaml sta"), ["status"]);
});

test("the completion files know every command and every event", () => {
  const bash = readFileSync(BASH_COMPLETION, "utf8");
  const zsh = readFileSync(ZSH_COMPLETION, "utf8");
  const bashEvents = /_netevd_events="([^"]+)"/.exec(bash)![1]!.split(" ");
  assert.deepEqual(bashEvents.sort(), [...HOOK_EVENTS].sort());
  const zshEvents = /events=\(([^)]+)\)/.exec(zsh)![1]!.split(/\s+/).filter(Boolean);
  assert.deepEqual(zshEvents.sort(), [...HOOK_EVENTS].sort());
  const bashCommands = /local commands="([^"]+)"/.exec(bash)![1]!.split(" ");
  assert.deepEqual(bashCommands.sort(), Object.keys(COMMANDS).sort());
  for (const cmd of Object.keys(COMMANDS)) assert.match(zsh, new RegExp(`'${cmd}:`), `zsh knows ${cmd}`);
  assert.match(zsh, /^#compdef netevd$/m);
});
