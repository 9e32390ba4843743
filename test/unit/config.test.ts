import { describe, it } from "node:test";
import * as assert from "node:assert/strict";
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, sep } from "node:path";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";
import { parseDocument } from "yaml";

import {
  ConfigError,
  DEFAULT_CONFIG_PATH,
  configKeyPaths,
  defaultConfig,
  globMatch,
  interfaceSelected,
  loadConfig,
  migrateConfigText,
  parseConfig,
  parseListen,
  validateConfig,
  type Config,
  type ConfigProblem,
} from "../../src/config/index.js";

// Compiled to dist/test/unit/, so the repository root is three levels up.
const EXAMPLE = fileURLToPath(new URL("../../../config/netevd.example.yaml", import.meta.url));

function problemsOf(text: string, file = "t.yaml"): ConfigProblem[] {
  try {
    parseConfig(text, file);
  } catch (e) {
    assert.ok(e instanceof ConfigError, `expected ConfigError, got ${String(e)}`);
    return e.problems;
  }
  assert.fail("expected a ConfigError");
}

function errorOf(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof ConfigError, `expected ConfigError, got ${String(e)}`);
    return e;
  }
  assert.fail("expected a ConfigError");
}

function isDeepFrozen(v: unknown): boolean {
  if (v === null || typeof v !== "object") return true;
  return Object.isFrozen(v) && Object.values(v).every(isDeepFrozen);
}

function withTmp<T>(fn: (dir: string) => T): T {
  const dir = mkdtempSync(join(tmpdir(), "netevd-config-"));
  try {
    return fn(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const EXPECTED_DEFAULTS: Config = {
  system: {
    log_level: "info",
    log_format: "auto",
    backend: "auto",
    user: "netevd",
    scripts_dir: "/etc/netevd",
    scripts_dirs: ["/etc/netevd", "/usr/lib/netevd"],
    state_dir: "/var/lib/netevd",
  },
  monitoring: { interfaces: [], exclude: [] },
  routing: { policy_rules: [], table_base: 200, priority_from: 32765, priority_to: 32766, protocol: 110, cleanup_on_exit: false },
  backends: {
    systemd_networkd: { emit_json: true, use_dns: false, use_domain: false, use_hostname: false },
    networkmanager: { use_dns: false, use_domain: false, use_hostname: false },
    dhclient: {
      use_dns: false,
      use_domain: false,
      use_hostname: false,
      lease_files: ["/var/lib/dhcp/*.leases", "/var/lib/dhcp/*.lease", "/var/lib/dhclient/*.leases", "/var/lib/dhclient/*.lease"],
    },
  },
  hooks: { timeout_sec: 30, debounce_ms: 0, routes_debounce_ms: 250, max_parallel: 4, replay_on_start: true, capabilities: [], user: null },
  events: { history_size: 1000 },
  api: {
    enabled: true,
    listen: "127.0.0.1:9090",
    socket: "/run/netevd/netevd.sock",
    token: null,
    max_body_bytes: 65536,
    rate_limit_per_sec: 200,
    dashboard: true,
  },
  metrics: { enabled: true, listen: "" },
  compat: { networkd_dispatcher: false, networkd_dispatcher_dirs: ["/etc/networkd-dispatcher", "/usr/lib/networkd-dispatcher"] },
  sinks: [],
};

describe("defaults", () => {
  it("defaultConfig() has the documented defaults", () => {
    assert.deepEqual(defaultConfig(), EXPECTED_DEFAULTS);
    assert.equal(DEFAULT_CONFIG_PATH, "/etc/netevd/netevd.yaml");
  });

  it("defaultConfig() returns a fresh copy each time", () => {
    const a = defaultConfig() as unknown as { hooks: { max_parallel: number }; monitoring: { interfaces: string[] } };
    a.hooks.max_parallel = 99;
    a.monitoring.interfaces.push("eth0");
    assert.deepEqual(defaultConfig(), EXPECTED_DEFAULTS);
  });

  it("empty file, comments only, document marker only and empty sections give defaults", () => {
    for (const text of ["", "\n\n", "# nothing here\n  # indented comment\n", "---\n", "system:\nhooks:\n  # all commented\n", "{}\n"]) {
      assert.deepEqual(parseConfig(text, "t.yaml"), EXPECTED_DEFAULTS, JSON.stringify(text));
    }
  });

  it("returns a deeply frozen config", () => {
    const cfg = parseConfig("hooks:\n  capabilities: [CAP_NET_RAW]\n", "t.yaml");
    assert.ok(isDeepFrozen(cfg));
    assert.throws(() => {
      (cfg.hooks.capabilities as string[]).push("CAP_NET_ADMIN");
    }, TypeError);
  });

  it("configKeyPaths lists every leaf key", () => {
    const paths = configKeyPaths();
    assert.equal(paths.length, 46);
    assert.ok(paths.includes("backends.dhclient.lease_files"));
    assert.ok(paths.includes("api.token"));
  });
});

describe("example file", () => {
  const text = readFileSync(EXAMPLE, "utf8");

  it("loads cleanly and equals the defaults", () => {
    const r = loadConfig({ path: EXAMPLE, env: {} });
    assert.equal(r.fromFile, true);
    assert.equal(r.file, EXAMPLE);
    const containerHost = ["veth*", "docker*", "br-*", "cni*", "flannel*", "cali*", "lxc*", "virbr*"];
    assert.deepEqual(r.config, { ...EXPECTED_DEFAULTS, monitoring: { interfaces: [], exclude: containerHost } });
    assert.deepEqual(r.notes, []);
  });

  it("spells out every key", () => {
    const doc = parseDocument(text);
    for (const p of configKeyPaths()) {
      assert.ok(doc.hasIn(p.split(".")), `example is missing ${p}`);
    }
  });

  it("has a comment directly above every key", () => {
    const lines = text.split("\n");
    lines.forEach((line, i) => {
      if (/^\s*[a-z_]+:/.test(line)) {
        const prev = lines[i - 1] ?? "";
        const isSection = /:\s*$/.test(line) && !/^\s*[a-z_]+:\s*\S/.test(line);
        if (!isSection) assert.match(prev, /^\s*#/, `no comment above line ${i + 1}: ${line}`);
      }
    });
  });
});

describe("keys", () => {
  it("accepts every key with a non-default value", () => {
    const cfg = parseConfig(
      `
system:
  log_level: debug
  log_format: json
  backend: dhclient
  user: _netevd$
  scripts_dir: /usr/local/etc/netevd
  state_dir: /srv/netevd
monitoring:
  interfaces: [eth0, "wl*", "en?[0-9]*", "[!v]*", "veth0@if5", eth0.100, "br-lan"]
  exclude: ["veth*", "docker*"]
routing:
  policy_rules: [eth1, wlan0, bond0.10]
  table_base: 1000
  priority_from: 100
  priority_to: 4294967294
  protocol: 200
  cleanup_on_exit: true
backends:
  systemd_networkd:
    emit_json: false
    use_dns: true
    use_domain: true
    use_hostname: true
  networkmanager:
    use_dns: true
    use_domain: false
    use_hostname: true
  dhclient:
    use_dns: true
    use_domain: true
    use_hostname: false
    lease_files: [/var/lib/NetworkManager/*.lease, /tmp/x.leases]
hooks:
  timeout_sec: 2.5
  debounce_ms: 100
  routes_debounce_ms: 0
  max_parallel: 256
  replay_on_start: false
  capabilities: [CAP_NET_ADMIN, CAP_NET_BIND_SERVICE]
  user: root
events:
  history_size: 10
api:
  enabled: false
  listen: "[::1]:8080"
  socket: ""
  token: "s3cret-token_!"
  max_body_bytes: 256
  rate_limit_per_sec: 100000
  dashboard: false
metrics:
  enabled: false
  listen: "127.0.0.1:9100"
compat:
  networkd_dispatcher: true
  networkd_dispatcher_dirs: [/srv/nd]
sinks:
  - name: central-1
    url: https://events.example.org/netevd
    secret_file: /etc/netevd/central.secret
    events: ["*carrier", routable]
    links: ["eth*"]
    timeout_sec: 2.5
    tls_verify: false
    ca_file: /etc/netevd/ca.pem
    batch_max: 50
    spool_max_bytes: 65536
    spool_sync_ms: 0
    retry_initial_ms: 100
    retry_max_sec: 5
    unhealthy_after_sec: 30
`,
      "all.yaml",
    );
    assert.deepEqual(cfg, {
      system: {
        log_level: "debug",
        log_format: "json",
        backend: "dhclient",
        user: "_netevd$",
        scripts_dir: "/usr/local/etc/netevd",
        scripts_dirs: ["/usr/local/etc/netevd", "/usr/lib/netevd"],
        state_dir: "/srv/netevd",
      },
      monitoring: { interfaces: ["eth0", "wl*", "en?[0-9]*", "[!v]*", "veth0@if5", "eth0.100", "br-lan"], exclude: ["veth*", "docker*"] },
      routing: { policy_rules: ["eth1", "wlan0", "bond0.10"], table_base: 1000, priority_from: 100, priority_to: 4294967294, protocol: 200, cleanup_on_exit: true },
      backends: {
        systemd_networkd: { emit_json: false, use_dns: true, use_domain: true, use_hostname: true },
        networkmanager: { use_dns: true, use_domain: false, use_hostname: true },
        dhclient: { use_dns: true, use_domain: true, use_hostname: false, lease_files: ["/var/lib/NetworkManager/*.lease", "/tmp/x.leases"] },
      },
      hooks: {
        timeout_sec: 2.5,
        debounce_ms: 100,
        routes_debounce_ms: 0,
        max_parallel: 256,
        replay_on_start: false,
        capabilities: ["CAP_NET_ADMIN", "CAP_NET_BIND_SERVICE"],
        user: "root",
      },
      events: { history_size: 10 },
      api: { enabled: false, listen: "[::1]:8080", socket: "", token: "s3cret-token_!", max_body_bytes: 256, rate_limit_per_sec: 100000, dashboard: false },
      metrics: { enabled: false, listen: "127.0.0.1:9100" },
      compat: { networkd_dispatcher: true, networkd_dispatcher_dirs: ["/srv/nd"] },
      sinks: [
        {
          name: "central-1",
          url: "https://events.example.org/netevd",
          secret_file: "/etc/netevd/central.secret",
          events: ["*carrier", "routable"],
          links: ["eth*"],
          timeout_sec: 2.5,
          tls_verify: false,
          ca_file: "/etc/netevd/ca.pem",
          batch_max: 50,
          spool_max_bytes: 65536,
          spool_sync_ms: 0,
          retry_initial_ms: 100,
          retry_max_sec: 5,
          unhealthy_after_sec: 30,
        },
      ],
    });
  });

  it("accepts the seed's `backends.networkmanager: {}`", () => {
    const cfg = parseConfig("system:\n  backend: NetworkManager\nbackends:\n  networkmanager: {}\n", "seed.yaml");
    assert.equal(cfg.system.backend, "NetworkManager");
    assert.deepEqual(cfg.backends.networkmanager, EXPECTED_DEFAULTS.backends.networkmanager);
  });

  it("normalises backend spellings and aliases", () => {
    const cases: Array<[string, string]> = [
      ["NetworkManager", "NetworkManager"],
      ["networkmanager", "NetworkManager"],
      ["NETWORKMANAGER", "NetworkManager"],
      ["networkd", "systemd-networkd"],
      ["Networkd", "systemd-networkd"],
      ["systemd-networkd", "systemd-networkd"],
      ["dhclient", "dhclient"],
      ["none", "none"],
    ];
    for (const [input, want] of cases) {
      assert.equal(parseConfig(`system:\n  backend: ${input}\n`, "t.yaml").system.backend, want, input);
    }
    const [p] = problemsOf("system:\n  backend: wicked\n");
    assert.equal(p?.path, "system.backend");
    assert.equal(p?.line, 2);
    assert.match(p?.message ?? "", /expected one of auto, systemd-networkd, NetworkManager, dhclient, none, got string "wicked"/);
  });

  it("protocol accepts numbers and hex strings", () => {
    assert.equal(parseConfig('routing:\n  protocol: "0x6e"\n', "t.yaml").routing.protocol, 110);
    assert.equal(parseConfig("routing:\n  protocol: 0x6e\n", "t.yaml").routing.protocol, 110);
    assert.equal(parseConfig("routing:\n  protocol: 5\n", "t.yaml").routing.protocol, 5);
    assert.equal(parseConfig("routing:\n  protocol: 0xFF\n", "t.yaml").routing.protocol, 255);
    for (const bad of ["4", "0", "256", '"0x1ff"', '"boot"', "1.5", "true"]) {
      const ps = problemsOf(`routing:\n  protocol: ${bad}\n`);
      assert.equal(ps.length, 1, bad);
      assert.equal(ps[0]?.path, "routing.protocol");
    }
  });

  it("validates user names, absolute paths and ranges", () => {
    assert.equal(problemsOf("system:\n  user: Root\n")[0]?.path, "system.user");
    assert.equal(problemsOf("system:\n  user: 9lives\n")[0]?.path, "system.user");
    const [rel] = problemsOf("system:\n  scripts_dir: etc/netevd\n");
    assert.equal(rel?.path, "system.scripts_dir");
    assert.match(rel?.message ?? "", /absolute path/);
    assert.match(problemsOf("hooks:\n  max_parallel: 0\n")[0]?.message ?? "", /between 1 and 256, got 0/);
    assert.match(problemsOf("hooks:\n  timeout_sec: 0\n")[0]?.message ?? "", /greater than 0/);
    assert.match(problemsOf("hooks:\n  timeout_sec: 86401\n")[0]?.message ?? "", /at most 86400/);
    assert.match(problemsOf("hooks:\n  debounce_ms: 1.5\n")[0]?.message ?? "", /expected an integer/);
    assert.equal(problemsOf("events:\n  history_size: 9\n")[0]?.path, "events.history_size");
    assert.equal(problemsOf("routing:\n  table_base: 0\n")[0]?.path, "routing.table_base");
    assert.equal(problemsOf("routing:\n  priority_to: 4294967295\n")[0]?.path, "routing.priority_to");
    assert.equal(problemsOf("api:\n  max_body_bytes: 255\n")[0]?.path, "api.max_body_bytes");
    assert.equal(problemsOf("api:\n  rate_limit_per_sec: 0\n")[0]?.path, "api.rate_limit_per_sec");
    assert.equal(problemsOf("api:\n  socket: run/x.sock\n")[0]?.path, "api.socket");
    assert.equal(problemsOf(`api:\n  socket: /${"x".repeat(120)}\n`)[0]?.path, "api.socket");
    assert.equal(problemsOf("hooks:\n  timeout_sec: .inf\n")[0]?.path, "hooks.timeout_sec");
    assert.equal(problemsOf("backends:\n  dhclient:\n    lease_files: [leases/*.lease]\n")[0]?.path, "backends.dhclient.lease_files[0]");
  });

  it("validates interface lists per item", () => {
    const ps = problemsOf('monitoring:\n  interfaces:\n    - eth0\n    - "wl[a-"\n    - this-name-is-too-long\n    - "e th0"\n    - 5\n    - eth0\n');
    assert.deepEqual(
      ps.map((p) => [p.path, p.line]),
      [
        ["monitoring.interfaces[1]", 4],
        ["monitoring.interfaces[2]", 5],
        ["monitoring.interfaces[3]", 6],
        ["monitoring.interfaces[4]", 7],
        ["monitoring.interfaces[5]", 8],
      ],
    );
    assert.match(ps[0]?.message ?? "", /unterminated "\["/);
    assert.match(ps[1]?.message ?? "", /at most 15 characters/);
    assert.match(ps[4]?.message ?? "", /duplicate/);
    for (const bad of ['"[]"', '"[z-a]"', '"eth]"', '"e!"', '"????????????????*"', "."]) {
      assert.equal(problemsOf(`monitoring:\n  interfaces: [${bad}]\n`).length, 1, bad);
    }
  });

  it("rejects globs and bad names in routing.policy_rules", () => {
    const ps = problemsOf('routing:\n  policy_rules: [eth0, "eth*", "a:b", eth0]\n');
    assert.deepEqual(
      ps.map((p) => p.path),
      ["routing.policy_rules[1]", "routing.policy_rules[2]", "routing.policy_rules[3]"],
    );
    assert.match(ps[0]?.message ?? "", /globs are not allowed/);
  });

  it("accepts only the capability allow-list, upper case", () => {
    const ps = problemsOf("hooks:\n  capabilities: [cap_net_admin, NET_RAW, CAP_SYS_ADMIN]\n");
    assert.equal(ps.length, 3);
    assert.match(ps[0]?.message ?? "", /did you mean "CAP_NET_ADMIN"/);
    assert.match(ps[1]?.message ?? "", /did you mean "CAP_NET_RAW"/);
    assert.doesNotMatch(ps[2]?.message ?? "", /did you mean/);
  });

  it("rejects bad tokens without echoing them", () => {
    for (const bad of ['"short"', '"has space inside"', `"${"x".repeat(257)}"`, '"tab\\there1"', "12345678", "true", '"naïve-token"']) {
      const ps = problemsOf(`api:\n  token: ${bad}\n`);
      assert.equal(ps.length, 1, bad);
      assert.equal(ps[0]?.path, "api.token");
      assert.doesNotMatch(ps[0]?.message ?? "", /short|has space inside|12345678|xxxxxxxx|naïve|there1/, ps[0]?.message);
    }
    assert.equal(parseConfig("api:\n  token: ~\n", "t.yaml").api.token, null);
    assert.equal(parseConfig("api:\n  token: '12345678'\n", "t.yaml").api.token, "12345678");
  });

  it("validates api.listen", () => {
    for (const good of ["127.0.0.1:9090", "0.0.0.0:1", "[::]:65535", "[::1]:9090", "[fe80::1%eth0]:80", "localhost:9090", "api.example.com:443", ""]) {
      assert.equal(parseConfig(`api:\n  listen: "${good}"\n`, "t.yaml").api.listen, good, good);
    }
    for (const bad of ["127.0.0.1", "::1:9090", ":9090", "127.0.0.1:0", "127.0.0.1:65536", "300.1.1.1:80", "[::1]9090", "[zz]:80", "host_name:80", "127.0.0.1:http", "[::1:80"]) {
      const ps = problemsOf(`api:\n  listen: "${bad}"\n`);
      assert.equal(ps.length, 1, bad);
      assert.equal(ps[0]?.path, "api.listen");
    }
    assert.match(problemsOf('api:\n  listen: "::1:9090"\n')[0]?.message ?? "", /brackets/);
    assert.equal(problemsOf("api:\n  listen: 9090\n")[0]?.message, "expected a string, got number 9090; put it in quotes");
    assert.deepEqual(parseListen("[::1]:9090"), { host: "::1", port: 9090 });
    assert.deepEqual(parseListen("127.0.0.1:80"), { host: "127.0.0.1", port: 80 });
    assert.equal(parseListen(""), null);
  });
});

describe("errors", () => {
  it("a typo'd key names the path, the line and the suggestion", () => {
    const text = "# netevd\nsystem:\n  log_level: info\n\nhooks:\n  max_parallel: 2\n  timout_sec: 12\n";
    const err = errorOf(() => parseConfig(text, "/etc/netevd/netevd.yaml"));
    assert.deepEqual(err.problems, [{ path: "hooks.timout_sec", line: 7, message: 'unknown key "hooks.timout_sec"; did you mean "hooks.timeout_sec"?' }]);
    assert.equal(err.message, '/etc/netevd/netevd.yaml:7: hooks.timout_sec: unknown key "hooks.timout_sec"; did you mean "hooks.timeout_sec"?');
    assert.equal(err.file, "/etc/netevd/netevd.yaml");
    assert.equal(err.name, "ConfigError");
  });

  it("suggests for sections and misplaced keys; no suggestion when nothing is close", () => {
    const ps = problemsOf("hook:\n  timeout_sec: 1\nsystem:\n  timeout_sec: 1\n  colour: red\n");
    assert.deepEqual(
      ps.map((p) => [p.path, p.line, p.message]),
      [
        ["hook", 1, 'unknown key "hook"; did you mean "hooks"?'],
        ["system.timeout_sec", 4, 'unknown key "system.timeout_sec"; did you mean "hooks.timeout_sec"?'],
        ["system.colour", 5, 'unknown key "system.colour"'],
      ],
    );
    assert.match(problemsOf("hooks.timeout_sec: 5\n")[0]?.message ?? "", /nested keys/);
  });

  it("collects wrong types for several keys into one error, in line order", () => {
    const text = [
      "system:",
      "  log_level: loud", // 2
      "  user: 42", // 3
      "hooks:",
      '  timeout_sec: "30s"', // 5
      "  replay_on_start: yes", // 6
      "  capabilities: CAP_NET_RAW", // 7
      "events:",
      "  history_size: [1]", // 9
      "metrics: true", // 10
      "routing:",
      "  policy_rules: 5", // 12
      "",
    ].join("\n");
    const err = errorOf(() => parseConfig(text, "c.yaml"));
    assert.deepEqual(
      err.problems.map((p) => [p.path, p.line]),
      [
        ["system.log_level", 2],
        ["system.user", 3],
        ["hooks.timeout_sec", 5],
        ["hooks.replay_on_start", 6],
        ["hooks.capabilities", 7],
        ["events.history_size", 9],
        ["metrics", 10],
        ["routing.policy_rules", 12],
      ],
    );
    const lines = err.message.split("\n");
    assert.equal(lines.length, 8);
    assert.equal(lines[2], 'c.yaml:5: hooks.timeout_sec: expected a number, got string "30s"');
    assert.match(lines[3] ?? "", /^c\.yaml:6: hooks\.replay_on_start: expected a boolean .*got string "yes"; use true or false/);
    assert.match(lines[4] ?? "", /expected a list of capability names, got string "CAP_NET_RAW"/);
    assert.match(lines[5] ?? "", /got a list/);
    assert.match(lines[6] ?? "", /c\.yaml:10: metrics: expected a mapping, got boolean true/);
    assert.match(lines[7] ?? "", /got number 5/);
  });

  it("reports YAML syntax errors with a line", () => {
    const ps = problemsOf("system:\n  log_level: info\nhooks:\n  timeout_sec: [1, 2\n");
    assert.equal(ps.length, 1);
    assert.equal(ps[0]?.path, "");
    assert.equal(ps[0]?.line, 4);
    assert.match(ps[0]?.message ?? "", /^YAML: /);
    assert.equal(problemsOf("system:\n  log_level: info\nhooks: x: y\n")[0]?.line, 3);
    assert.equal(problemsOf("system:\n  log_level: info\n\tbackend: none\n")[0]?.line, 3);
    assert.equal(problemsOf("x: !custom 1\n")[0]?.line, 1);
    assert.equal(problemsOf("--- {}\n--- {}\n")[0]?.line, 2);
  });

  it("reports duplicate keys", () => {
    const ps = problemsOf("hooks:\n  max_parallel: 2\n  max_parallel: 3\nhooks:\n  debounce_ms: 1\n");
    assert.deepEqual(
      ps.map((p) => [p.path, p.line, p.message]),
      [
        ["hooks.max_parallel", 3, 'duplicate key "hooks.max_parallel" (first defined on line 2)'],
        ["hooks", 4, 'duplicate key "hooks" (first defined on line 1)'],
      ],
    );
  });

  it("rejects a top level that is not a mapping", () => {
    for (const text of ["42\n", "- a\n- b\n", "just a string\n"]) {
      const ps = problemsOf(text);
      assert.equal(ps.length, 1, text);
      assert.equal(ps[0]?.path, "");
      assert.equal(ps[0]?.line, 1);
      assert.match(ps[0]?.message ?? "", /top level must be a mapping/);
    }
  });

  it("resolves aliases and treats __proto__ as an ordinary unknown key", () => {
    const cfg = parseConfig("monitoring:\n  interfaces: &ifs [eth0, eth1]\nrouting:\n  policy_rules: *ifs\n", "t.yaml");
    assert.deepEqual(cfg.routing.policy_rules, ["eth0", "eth1"]);
    const ps = problemsOf("__proto__:\n  polluted: true\n");
    assert.equal(ps[0]?.path, "__proto__");
    assert.equal(({} as Record<string, unknown>)["polluted"], undefined);
  });

  it("validateConfig works on plain objects", () => {
    const { config, problems } = validateConfig({ hooks: { max_parallel: 8 }, api: { token: undefined } });
    assert.deepEqual(problems, []);
    assert.equal(config.hooks.max_parallel, 8);
    assert.equal(config.api.token, null);
    assert.equal(validateConfig({ hooks: { max_parallel: "8" } }).problems[0]?.path, "hooks.max_parallel");
  });
});

describe("loadConfig", () => {
  it("missing default path gives defaults and a note", () =>
    withTmp((dir) => {
      const missing = join(dir, "netevd.yaml");
      const r = loadConfig({ env: {}, defaultPath: missing });
      assert.equal(r.fromFile, false);
      assert.equal(r.file, missing);
      assert.deepEqual(r.config, EXPECTED_DEFAULTS);
      assert.ok(isDeepFrozen(r.config));
      assert.deepEqual(r.notes, [`no config file at ${missing}, using defaults`]);
    }));

  it("missing explicit path is an error", () =>
    withTmp((dir) => {
      const missing = join(dir, "nope.yaml");
      const err = errorOf(() => loadConfig({ path: missing, env: {} }));
      assert.equal(err.file, missing);
      assert.equal(err.message, `${missing}: config file not found`);
      // NETEVD_CONFIG counts as explicit, too.
      errorOf(() => loadConfig({ env: { NETEVD_CONFIG: missing } }));
      // A directory is not a config file.
      assert.match(errorOf(() => loadConfig({ path: dir, env: {} })).message, /is a directory/);
    }));

  it("reads the file named by opts.path or NETEVD_CONFIG", () =>
    withTmp((dir) => {
      const a = join(dir, "a.yaml");
      const b = join(dir, "b.yaml");
      writeFileSync(a, "hooks:\n  max_parallel: 7\n");
      writeFileSync(b, "hooks:\n  max_parallel: 9\n");
      const r = loadConfig({ path: a, env: { NETEVD_CONFIG: b } });
      assert.equal(r.fromFile, true);
      assert.equal(r.config.hooks.max_parallel, 7);
      assert.equal(loadConfig({ env: { NETEVD_CONFIG: b } }).config.hooks.max_parallel, 9);
      assert.ok(isDeepFrozen(r.config));
    }));

  it("reports file problems with the file name and line", () =>
    withTmp((dir) => {
      const f = join(dir, "bad.yaml");
      writeFileSync(f, "api:\n  enabled: true\n  max_body_bytes: lots\n");
      const err = errorOf(() => loadConfig({ path: f, env: {} }));
      assert.equal(err.message, `${f}:3: api.max_body_bytes: expected an integer, got string "lots"`);
    }));

  it("notes a world-writable config file", () =>
    withTmp((dir) => {
      const f = join(dir, "ww.yaml");
      writeFileSync(f, "");
      chmodSync(f, 0o666);
      assert.ok(loadConfig({ path: f, env: {} }).notes.some((n) => n.includes("writable by all users")));
    }));

  it("applies env overrides after the file", () =>
    withTmp((dir) => {
      const f = join(dir, "c.yaml");
      writeFileSync(f, "system:\n  log_level: warn\n  backend: dhclient\napi:\n  listen: 127.0.0.1:1\n");
      const r = loadConfig({
        path: f,
        env: { NETEVD_LOG_LEVEL: "DEBUG", NETEVD_BACKEND: "networkmanager", NETEVD_API_LISTEN: "" },
      });
      assert.equal(r.config.system.log_level, "debug");
      assert.equal(r.config.system.backend, "NetworkManager");
      assert.equal(r.config.api.listen, "");
      assert.equal(r.notes.length, 3);
      assert.ok(isDeepFrozen(r.config));
      const d = loadConfig({ env: { NETEVD_BACKEND: "networkd", NETEVD_API_LISTEN: "[::1]:9999" }, defaultPath: join(dir, "none.yaml") });
      assert.equal(d.config.system.backend, "systemd-networkd");
      assert.equal(d.config.api.listen, "[::1]:9999");
      assert.equal(d.config.system.log_level, "info");
    }));

  it("rejects bad env values, naming the variable", () =>
    withTmp((dir) => {
      const err = errorOf(() =>
        loadConfig({
          env: { NETEVD_LOG_LEVEL: "loud", NETEVD_BACKEND: "wicked", NETEVD_API_LISTEN: "localhost" },
          defaultPath: join(dir, "none.yaml"),
        }),
      );
      assert.deepEqual(
        err.problems.map((p) => p.path),
        ["NETEVD_LOG_LEVEL", "NETEVD_BACKEND", "NETEVD_API_LISTEN"],
      );
      assert.match(
        err.message.split("\n")[0] ?? "",
        /^environment: NETEVD_LOG_LEVEL: expected one of trace, debug, info, warn, error, got string "loud" \(overrides system\.log_level\)$/,
      );
      assert.equal(errorOf(() => loadConfig({ env: { NETEVD_LOG_LEVEL: "" }, defaultPath: join(dir, "none.yaml") })).problems[0]?.path, "NETEVD_LOG_LEVEL");
    }));
});

describe("glob", () => {
  const cases: Array<[string, string, boolean]> = [
    ["eth*", "eth0", true],
    ["eth*", "eth", true],
    ["eth*", "veth0", false],
    ["en?0", "enp0", true],
    ["en?0", "en0", false],
    ["en?0", "enp00", false],
    ["wl[a-z]*", "wlan0", true],
    ["wl[a-z]*", "wlp3s0", true],
    ["wl[a-z]*", "wl0", false],
    ["[!e]*", "wlan0", true],
    ["[!e]*", "eth0", false],
    ["[!e]*", "", false],
    ["[abc]x", "bx", true],
    ["[abc]x", "dx", false],
    ["*", "", true],
    ["*0", "eth0", true],
    ["*0", "eth1", false],
    ["e*h*0", "eth0", true],
    ["e*h*0", "ehhh0", true],
    ["e*h*0", "eth01", false],
    ["**a**b", "xxaxxb", true],
    ["eth0", "eth0", true],
    ["eth0", "eth00", false],
    ["[]x]", "]", true],
    ["[a-]", "-", true],
    ["[!]]", "a", true],
    ["[!]]", "]", false],
    ["eth[", "eth[", true],
    ["a.b", "axb", false],
    ["(a|b)+", "a", false],
    ["(a|b)+", "(a|b)+", true],
  ];
  for (const [pattern, name, want] of cases) {
    it(`${JSON.stringify(pattern)} ${want ? "matches" : "does not match"} ${JSON.stringify(name)}`, () => {
      assert.equal(globMatch(pattern, name), want);
    });
  }

  it("does not blow up on pathological patterns", () => {
    const start = process.hrtime.bigint();
    assert.equal(globMatch("*a*a*a*a*a*a*a*a*a*a*b", "a".repeat(5000)), false);
    assert.ok(process.hrtime.bigint() - start < 2_000_000_000n);
  });

  it("interfaceSelected: empty list selects everything, else any entry matches", () => {
    const all = parseConfig("", "t.yaml");
    assert.equal(interfaceSelected(all, "anything0"), true);
    const some = parseConfig('monitoring:\n  interfaces: [eth0, "wl*", "en?0"]\n', "t.yaml");
    assert.equal(interfaceSelected(some, "eth0"), true);
    assert.equal(interfaceSelected(some, "wlan0"), true);
    assert.equal(interfaceSelected(some, "enp0"), true);
    assert.equal(interfaceSelected(some, "eth1"), false);
    assert.equal(interfaceSelected(some, "lo"), false);
    // Unfrozen configs (no cache) behave the same.
    const mutable = validateConfig({ monitoring: { interfaces: ["lo"] } }).config;
    assert.equal(interfaceSelected(mutable, "lo"), true);
    assert.equal(interfaceSelected(mutable, "eth0"), false);
  });
});

it("routing.protocol: another routing daemon's id (16 = dhcp) is refused", () => {
  assert.throws(
    () => parseConfig("routing:\n  protocol: 16\n", "t.yaml"),
    (err: unknown) => err instanceof ConfigError && err.problems.some((p) => p.path === "routing.protocol" && /dhcp/.test(p.message)),
  );
});

it("the YAML parser is let go of after a config is read (src/config/yaml.ts)", () => {
  const cache = createRequire(import.meta.url).cache;
  const yamlModules = () => Object.keys(cache).filter((f) => f.includes(`${sep}node_modules${sep}yaml${sep}`) && f.endsWith(`${sep}dist${sep}index.js`));
  for (const k of yamlModules()) delete cache[k]; // this file imports yaml itself
  parseConfig("system:\n  backend: none\n", "t.yaml");
  assert.deepEqual(yamlModules(), []);
  assert.throws(() => parseConfig("system: [", "bad.yaml"), ConfigError);
  assert.deepEqual(yamlModules(), [], "also after a rejected config");
  assert.match(migrateConfigText("system:\n  backend: none\n", "t.yaml").text, /backend: none/);
  assert.deepEqual(yamlModules(), []);
});
