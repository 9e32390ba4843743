// Facts → hook jobs with the backend's $JSON (src/actions/hooks/feed.ts) and the
// networkd-dispatcher takeover report (compat.ts), over a fake backend and a fake script discovery.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import type { LinkRecord } from "../../src/netlink/types.js";
import { applyBackendState, applyMessage, emptyModel, type Fact, type NetworkModel } from "../../src/state/model.js";
import { EventFactory, type DeriveContext } from "../../src/events/derive.js";
import type { HookJob } from "../../src/events/types.js";
import type { BackendSource } from "../../src/sources/backend.js";
import type { DescribeDelivery } from "../../src/sources/networkd-describe.js";
import { defaultConfig, type Config } from "../../src/config/index.js";
import { HookFeed } from "../../src/actions/hooks/feed.js";
import { hookBaseDirs, networkdDispatcherOn, reportNetworkdDispatcherTakeover } from "../../src/actions/hooks/compat.js";
import { recordingLog } from "./recording-log.js";

const lab0: LinkRecord = { index: 2, name: "lab0", flags: 0, carrier: true, up: true, mtu: 1500, operstate: "up", type: 1 };
const ND_DIRS = defaultConfig().compat.networkd_dispatcher_dirs;

type Writable = { -readonly [S in keyof Config]: { -readonly [K in keyof Config[S]]: Config[S][K] } };

/** networkd as the feed sees it: Describe() requests wait for the test; refreshes are recorded. */
class FakeNetworkd implements BackendSource {
  readonly backend = "systemd-networkd" as const;
  readonly requests: Array<{ index: number; deliver: DescribeDelivery }> = [];
  readonly refreshed: number[] = [];
  readonly last = new Map<number, string>();
  start() {}
  stop() {}
  health() {
    return { state: "attached", ok: true };
  }
  lastDescribe(index: number) {
    return this.last.get(index);
  }
  describeInOrder(index: number, deliver: DescribeDelivery) {
    this.requests.push({ index, deliver });
  }
  refreshDescribe(index: number) {
    this.refreshed.push(index);
  }
}

function setup(opts: { scripts?: string[]; config?: (c: Writable) => void; backend?: BackendSource | null } = {}) {
  const m: NetworkModel = emptyModel();
  applyMessage(m, { kind: "link", op: "new", link: lab0 });
  const config = defaultConfig() as Writable;
  config.system.backend = "systemd-networkd";
  opts.config?.(config);
  const backend = opts.backend === undefined ? new FakeNetworkd() : opts.backend;
  // "<first base dir>:<event>" for each event dir with a script
  const scripts = new Set(opts.scripts ?? []);
  const emitted: HookJob[] = [];
  const { log, lines } = recordingLog();
  const derive: DeriveContext = { ownRoute: () => false, selected: () => true, extraState: (i) => m.backend.get(i)?.fields };
  const feed = new HookFeed({
    config: () => config,
    backend: () => backend,
    model: () => m,
    derive,
    events: new EventFactory(),
    ownerUid: () => 0,
    emit: (job) => emitted.push(job),
    log,
    hasScripts: (dirs, event) => scripts.has(`${dirs[0]}:${event}`),
  });
  const networkd = (fields: Record<string, string>): Fact[] => applyBackendState(m, "systemd-networkd", 2, fields, "lab0");
  return { m, config, backend: backend as FakeNetworkd, emitted, lines, feed, networkd };
}

const dirs = (jobs: HookJob[]) => jobs.map((j) => `${j.compat ?? "netevd"}:${j.event.event}`);

describe("hook feed: backend events and their $JSON", () => {
  it("an event with a script waits for Describe() and carries it verbatim; one without is emitted at once", () => {
    const h = setup({ scripts: ["/etc/netevd:routable"] });
    h.feed.backendFacts(h.networkd({ OperationalState: "routable", AdministrativeState: "configured" }));
    assert.deepEqual(dirs(h.emitted), ["netevd:configured"], "configured.d has no script: no round trip");
    assert.equal(h.backend.requests.length, 1);
    h.backend.requests[0]!.deliver('{"Name":"lab0"}');
    assert.deepEqual(dirs(h.emitted), ["netevd:configured", "netevd:routable"]);
    const routable = h.emitted[1]!;
    assert.equal(routable.json, '{"Name":"lab0"}');
    assert.equal(routable.env.json, '{"Name":"lab0"}');
    assert.deepEqual(h.backend.refreshed, [], "the link was described by its event: no extra refresh");
  });

  it("Describe() failing: the event still comes, with the contract's $JSON, and a warning", () => {
    const h = setup({ scripts: ["/etc/netevd:routable"] });
    h.feed.backendFacts(h.networkd({ OperationalState: "routable" }));
    h.backend.requests[0]!.deliver(undefined, new Error("link gone"));
    assert.deepEqual(dirs(h.emitted), ["netevd:routable"]);
    assert.equal(h.emitted[0]!.json, undefined);
    assert.ok(h.lines.some((l) => l.level === "warn" && l.fields?.err === "link gone" && l.fields?.link === "lab0"));
  });

  it("emit_json off: no Describe() for netevd's scripts, no refresh, no $JSON on carrier events", () => {
    const h = setup({
      scripts: ["/etc/netevd:routable", "/etc/netevd:carrier"],
      config: (c) => {
        c.backends = { ...c.backends, systemd_networkd: { ...c.backends.systemd_networkd, emit_json: false } };
      },
    });
    h.backend.last.set(2, '{"old":1}');
    h.feed.backendFacts(h.networkd({ OperationalState: "routable" }));
    assert.deepEqual(dirs(h.emitted), ["netevd:routable"]);
    assert.equal(h.backend.requests.length, 0);
    assert.deepEqual(h.backend.refreshed, []);
    h.feed.kernelFacts([{ fact: "carrier-up", link: lab0 } as Fact], h.m);
    assert.equal(h.emitted.at(-1)!.event.event, "carrier");
    assert.equal(h.emitted.at(-1)!.json, undefined);
  });

  it("a link whose facts fired no described event gets its last Describe() refreshed, only if a carrier script reads it", () => {
    const none = setup();
    none.feed.backendFacts(none.networkd({ CarrierState: "carrier" }));
    assert.deepEqual(none.backend.refreshed, [], "no carrier script: no extra round trip");
    const h = setup({ scripts: ["/etc/netevd:no-carrier"] });
    h.feed.backendFacts(h.networkd({ CarrierState: "carrier" }));
    assert.deepEqual(h.backend.refreshed, [2]);
    h.feed.initialBackendFacts(h.networkd({ OperationalState: "routable" }));
    assert.deepEqual(h.backend.refreshed, [2, 2], "the initial state: refreshed, no events");
    assert.deepEqual(h.emitted, []);
  });

  it("a kernel carrier event carries the backend's last Describe() without waiting", () => {
    const h = setup();
    h.backend.last.set(2, '{"last":true}');
    h.feed.kernelFacts([{ fact: "carrier-down", link: { ...lab0, carrier: false } } as Fact], h.m);
    assert.deepEqual(dirs(h.emitted), ["netevd:no-carrier"]);
    assert.equal(h.emitted[0]!.json, '{"last":true}');
    assert.equal(h.emitted[0]!.env.json, '{"last":true}');
    assert.equal(h.backend.requests.length, 0);
  });

  it("a backend without Describe() (or none): everything at once", () => {
    const h = setup({ scripts: ["/etc/netevd:routable"], backend: null });
    h.feed.backendFacts(h.networkd({ OperationalState: "routable" }));
    assert.deepEqual(dirs(h.emitted), ["netevd:routable"]);
  });
});

describe("hook feed: networkd-dispatcher's runs (compat.networkd_dispatcher)", () => {
  const on = (c: Writable) => {
    c.compat = { ...c.compat, networkd_dispatcher: true };
  };

  it("its runs come from its dirs, described even with emit_json off, with the addresses read at delivery", () => {
    const h = setup({
      scripts: [`${ND_DIRS[0]}:routable`],
      config: (c) => {
        on(c);
        c.backends = { ...c.backends, systemd_networkd: { ...c.backends.systemd_networkd, emit_json: false } };
      },
    });
    h.feed.backendFacts(h.networkd({ OperationalState: "routable", AdministrativeState: "configured" }));
    // netevd's own routable.d/configured.d (no scripts in /etc/netevd) at once; networkd-dispatcher's
    // configured.d has no script either; its routable.d waits for Describe()
    assert.deepEqual(dirs(h.emitted), ["netevd:routable", "netevd:configured", "networkd-dispatcher:configured"]);
    assert.equal(h.backend.requests.length, 1);
    // the address networkd just added arrives before the answer: the run sees it
    applyMessage(h.m, { kind: "addr", op: "new", addr: { family: 4, index: 2, address: "10.77.0.50", prefixlen: 24, scope: 0, flags: 0, tentative: false } });
    h.backend.requests[0]!.deliver('{"nd":1}');
    const run = h.emitted.at(-1)!;
    assert.equal(run.compat, "networkd-dispatcher");
    assert.equal(run.env.json, '{"nd":1}');
    assert.equal(run.env.ADDR, "10.77.0.50");
    assert.equal(run.env.IP_ADDRS, "10.77.0.50");
    assert.deepEqual(hookBaseDirs(h.config as Config, run), ND_DIRS);
    assert.deepEqual(hookBaseDirs(h.config as Config, h.emitted[0]!), h.config.system.scripts_dirs);
  });

  it("only under the networkd backend", () => {
    const h = setup({
      scripts: [`${ND_DIRS[0]}:routable`],
      config: (c) => {
        on(c);
        c.system.backend = "auto";
      },
    });
    assert.equal(networkdDispatcherOn(h.config as Config), false);
    h.feed.backendFacts(h.networkd({ OperationalState: "routable" }));
    assert.deepEqual(dirs(h.emitted), ["netevd:routable"]);
  });

  it("start-up replay: the kernel's carrier, networkd's states, then networkd-dispatcher's startup triggers; nothing with replay_on_start off", () => {
    const h = setup({ config: on });
    h.networkd({ OperationalState: "routable", AdministrativeState: "configured" });
    h.feed.replay();
    assert.deepEqual(dirs(h.emitted), ["netevd:carrier", "netevd:routable", "netevd:configured", "networkd-dispatcher:configured", "networkd-dispatcher:routable"]);
    assert.ok(h.emitted.every((j) => j.event.replay));
    const off = setup({
      config: (c) => {
        on(c);
        c.hooks = { ...c.hooks, replay_on_start: false };
      },
    });
    off.networkd({ OperationalState: "routable" });
    off.feed.replay();
    assert.deepEqual(off.emitted, []);
  });

  it("the takeover report: scripts counted once across events, networkd-dispatcher running too is a warning; the wrong backend says so", () => {
    const config = defaultConfig() as Writable;
    config.system.backend = "systemd-networkd";
    on(config);
    const { log, lines } = recordingLog();
    const scripts = (_d: readonly string[], event: string) =>
      event === "routable" || event === "configured" ? ["/etc/networkd-dispatcher/routable.d/x", `/etc/networkd-dispatcher/${event}.d/y`] : [];
    reportNetworkdDispatcherTakeover(config, log, 0, true, { scripts, processes: () => [4242] });
    assert.equal(lines[0]!.msg, "networkd-dispatcher scripts taken over");
    assert.deepEqual({ ...lines[0]!.fields }, { scripts: 3, dirs: ND_DIRS.join(":"), user: "root" });
    assert.equal(lines[1]!.level, "warn");
    assert.deepEqual(lines[1]!.fields, { pids: [4242] });
    lines.length = 0;
    reportNetworkdDispatcherTakeover(config, log, 0, false, { scripts: () => [], processes: () => [] });
    assert.deepEqual(
      lines.map((l) => l.level),
      ["info"],
      "not running: no warning",
    );
    lines.length = 0;
    config.system.backend = "NetworkManager";
    reportNetworkdDispatcherTakeover(config, log, 0, false, { scripts: () => [], processes: () => [] });
    assert.equal(lines.length, 1);
    assert.match(lines[0]!.msg, /needs system\.backend: systemd-networkd/);
  });
});
