// Configs people already have: the Rust netevd's template and the seed's example validate (with
// warnings for what is ignored), its keys map onto today's, and `--migrate` rewrites them.
import { describe, it } from "node:test";
import * as assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { applyEnvOverrides, ConfigError, interfaceSelected, loadConfig, migrateConfigText, parseConfig, parseConfigWithWarnings } from "../../src/config/index.js";

const fixture = (name: string) => fileURLToPath(new URL(`../../../test/fixtures/config/${name}`, import.meta.url));
const RUST = fixture("rust-netevd.example.yaml");
const SEED = fixture("seed-readme.yaml");

function problemsOf(text: string): Array<{ path: string; line?: number; message: string }> {
  try {
    parseConfig(text, "t.yaml");
  } catch (e) {
    if (e instanceof ConfigError) return e.problems;
    throw e;
  }
  assert.fail(`expected a ConfigError for:\n${text}`);
}

describe("the Rust netevd's published template", () => {
  it("validates, with a warning for each key that is mapped or ignored", () => {
    const r = loadConfig({ path: RUST, env: {} });
    assert.equal(r.config.api.listen, "127.0.0.1:9090");
    assert.deepEqual(r.config.monitoring.interfaces, ["eth0", "eth1"]);
    assert.deepEqual(r.config.monitoring.exclude, ["docker*"]);
    assert.deepEqual(r.config.routing.policy_rules, ["eth1"]);
    const w = r.notes.filter((n) => n.startsWith("warning:"));
    const about = (re: RegExp) => w.filter((n) => re.test(n));
    assert.equal(about(/api\.bind_address: mapped to api\.listen: "127\.0\.0\.1:9090"/).length, 1, w.join("\n"));
    assert.equal(about(/api\.tls: ignored/).length, 1);
    assert.equal(about(/metrics\.port: ignored: netevd serves metrics at \/metrics/).length, 1);
    assert.equal(about(/audit: ignored/).length, 1);
    assert.equal(about(/filters\[0\]: filter .*"wg\*".* is ignored: running the scripts is the default/).length, 1);
    assert.equal(about(/filters\[2\]: filter .*has_gateway.* is ignored: .*stopped nothing in the Rust netevd either/).length, 1);
    assert.equal(about(/filters\[3\]: .*action: log is ignored/).length, 1);
    assert.equal(about(/filters: mapped to monitoring\.exclude: docker\*/).length, 1);
    // each warning names the file and the line of the key
    assert.ok(
      w.every((n) => n.includes(`${RUST}:`)),
      w.join("\n"),
    );
    assert.ok(about(/api\.bind_address/)[0]?.includes(`${RUST}:33:`));
  });

  it("--migrate prints today's keys, keeps the comments of what stays, and the result validates silently", () => {
    const { text } = migrateConfigText(readFileSync(RUST, "utf8"), RUST);
    assert.doesNotMatch(text, /bind_address|^\s+port:|tls:|audit:|filters:/m);
    assert.match(text, /listen: 127\.0\.0\.1:9090/);
    assert.match(text, /exclude:\n\s+- docker\*/);
    assert.match(text, /# List of interfaces to monitor \(empty = all\)/);
    const again = parseConfigWithWarnings(text, "migrated.yaml");
    assert.deepEqual(again.warnings, []);
    assert.deepEqual(again.config, loadConfig({ path: RUST, env: {} }).config);
  });
});

describe("the seed's example", () => {
  it("validates without warnings", () => {
    const r = loadConfig({ path: SEED, env: {} });
    assert.deepEqual(r.notes, []);
    assert.deepEqual(r.config.monitoring.interfaces, ["eth0", "eth1"]);
  });

  it("an empty key, as its comment invites (`interfaces:  # empty = monitor all`), is the empty list", () => {
    const cfg = parseConfig("monitoring:\n  interfaces:  # empty = monitor all\nrouting:\n  policy_rules:\n", "t.yaml");
    assert.deepEqual(cfg.monitoring.interfaces, []);
    assert.deepEqual(cfg.routing.policy_rules, []);
    assert.equal(interfaceSelected(cfg, "eth9"), true);
  });
});

describe("api.bind_address / api.port", () => {
  it("map to api.listen, alone or together; IPv6 gets brackets", () => {
    assert.equal(parseConfig("api:\n  port: 8080\n", "t").api.listen, "127.0.0.1:8080");
    assert.equal(parseConfig("api:\n  bind_address: 10.0.0.1\n", "t").api.listen, "10.0.0.1:9090");
    assert.equal(parseConfig("api:\n  bind_address: '::1'\n  port: 9000\n", "t").api.listen, "[::1]:9000");
  });

  it("are validated like api.listen, and refused next to it", () => {
    assert.match(problemsOf("api:\n  bind_address: 300.1.1.1\n")[0]?.message ?? "", /invalid IPv4 address/);
    assert.match(problemsOf("api:\n  port: 70000\n")[0]?.message ?? "", /between 1 and 65535/);
    const both = problemsOf("api:\n  listen: '127.0.0.1:1'\n  port: 2\n");
    assert.equal(both[0]?.path, "api.port");
    assert.match(both[0]?.message ?? "", /both set/);
  });

  it("NETEVD_API_PORT and NETEVD_API_BIND_ADDRESS replace the parts of api.listen", () => {
    const base = parseConfig("api:\n  listen: '127.0.0.1:9090'\n", "t");
    assert.equal(applyEnvOverrides(base, { NETEVD_API_PORT: "9191" }).config.api.listen, "127.0.0.1:9191");
    assert.equal(applyEnvOverrides(base, { NETEVD_API_BIND_ADDRESS: "::1" }).config.api.listen, "[::1]:9090");
    assert.equal(applyEnvOverrides(base, { NETEVD_API_LISTEN: "10.1.1.1:80", NETEVD_API_PORT: "81" }).config.api.listen, "10.1.1.1:81");
    assert.throws(
      () => applyEnvOverrides(base, { NETEVD_API_PORT: "http" }),
      (e: unknown) => e instanceof ConfigError && /NETEVD_API_PORT/.test(e.message),
    );
  });
});

describe("api.tls", () => {
  it("enabled is an error: plain HTTP where TLS was asked for", () => {
    const p = problemsOf("api:\n  tls:\n    enabled: true\n    cert_file: /x\n");
    assert.equal(p[0]?.path, "api.tls");
    assert.equal(p[0]?.line, 2);
    assert.match(p[0]?.message ?? "", /does not serve TLS/);
  });
});

describe("filters", () => {
  const f = (rules: string) => `filters:\n${rules}`;

  it("ignore + interface or pattern becomes monitoring.exclude, appended to what is there", () => {
    const cfg = parseConfig(
      "monitoring:\n  exclude: [virbr*]\n" + f("  - match_rule: {interface_pattern: 'veth*'}\n    action: ignore\n  - match_rule: {interface: docker0}\n    action: ignore\n"),
      "t",
    );
    assert.deepEqual(cfg.monitoring.exclude, ["virbr*", "veth*", "docker0"]);
    assert.equal(interfaceSelected(cfg, "veth1a2b"), false);
    assert.equal(interfaceSelected(cfg, "docker0"), false);
    assert.equal(interfaceSelected(cfg, "eth0"), true);
  });

  it("execute with a condition that shields a later ignore is an error naming it", () => {
    const p = problemsOf(f("  - match_rule: {interface: eth0, condition: has_gateway}\n    action: execute\n  - match_rule: {interface_pattern: 'eth*'}\n    action: ignore\n"));
    assert.equal(p.length, 1);
    assert.equal(p[0]?.path, "filters[0]");
    assert.match(p[0]?.message ?? "", /"eth0".*has_gateway.*cannot be honoured.*depending on condition/);
  });

  it("ignore by event type, backend or condition is an error: netevd excludes whole interfaces only", () => {
    for (const m of ["{interface: eth0, event_type: routable}", "{backend: NetworkManager}", "{interface_pattern: 'wl*', condition: 'dns_count > 0'}"]) {
      const p = problemsOf(f(`  - match_rule: ${m}\n    action: ignore\n`));
      assert.equal(p[0]?.path, "filters[0]", m);
      assert.match(p[0]?.message ?? "", /cannot be honoured|ignores every event/, m);
    }
  });

  it("execute with scripts of its own is an error", () => {
    const p = problemsOf(f("  - match_rule: {interface: wg0}\n    action: execute\n    scripts: [/usr/local/bin/x]\n"));
    assert.equal(p[0]?.path, "filters[0].scripts");
  });

  it("unknown actions and match keys are errors", () => {
    assert.equal(problemsOf(f("  - match_rule: {interface: wg0}\n    action: drop\n"))[0]?.path, "filters[0].action");
    assert.equal(problemsOf(f("  - match_rule: {ifname: wg0}\n    action: ignore\n"))[0]?.path, "filters[0].match_rule.ifname");
  });
});

describe("system.scripts_dirs", () => {
  it("defaults to /etc/netevd then /usr/lib/netevd; scripts_dir replaces the first", () => {
    assert.deepEqual(parseConfig("", "t").system.scripts_dirs, ["/etc/netevd", "/usr/lib/netevd"]);
    const old = parseConfig("system:\n  scripts_dir: /srv/hooks\n", "t").system;
    assert.deepEqual(old.scripts_dirs, ["/srv/hooks", "/usr/lib/netevd"]);
    assert.equal(old.scripts_dir, "/srv/hooks");
    const list = parseConfig("system:\n  scripts_dirs: [/a, /b/]\n", "t").system;
    assert.deepEqual(list.scripts_dirs, ["/a", "/b"]);
    assert.equal(list.scripts_dir, "/a");
  });

  it("refuses relative paths, '..', an empty list, and a scripts_dir that disagrees", () => {
    assert.equal(problemsOf("system:\n  scripts_dirs: [etc]\n")[0]?.path, "system.scripts_dirs[0]");
    assert.equal(problemsOf("system:\n  scripts_dirs: [/a/../b]\n")[0]?.path, "system.scripts_dirs[0]");
    assert.equal(problemsOf("system:\n  scripts_dirs: []\n")[0]?.path, "system.scripts_dirs");
    assert.equal(problemsOf("system:\n  scripts_dir: /x\n  scripts_dirs: [/y]\n")[0]?.path, "system.scripts_dir");
  });
});
