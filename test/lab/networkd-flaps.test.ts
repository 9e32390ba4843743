// Under the real systemd-networkd: carrier at kernel speed with networkd's last state, and whole
// snapshots (every backend event sees every kernel fact before it) over repeated carrier flaps.
import { test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import type { NetevdEvent } from "../../src/events/types.js";
import { DaemonProcess, readJsonLines, hookTree, ip, ipSrv, lab, labFile, sleep, waitFor, writeConfig } from "./lab.js";

const FLAPS = 30;
const VARS = ["LINK", "STATE", "BACKEND", "ADDRESSES", "IFACE", "OperationalState", "IP_ADDRS"];

// One JSON line per run, written with a single printf: the dir, the variables, $JSON and the event.
const recorder = (dir: string) => `#!/bin/sh
line=$(printf '{"dir":"%s"' "${dir}")
for v in ${VARS.join(" ")}; do
  eval "val=\\\${$v-__unset__}"; line="$line$(printf ',"%s":"%s"' "$v" "$val")"; done
printf '%s,"json":%s,"ev":%s}\\n' "$line" "$JSON" "$NETEVD_EVENT" >> $OUT/runs.jsonl
`;

interface Run {
  dir: string;
  json: Record<string, unknown>;
  ev: NetevdEvent;
  [k: string]: unknown;
}
const runs = (out: string): Run[] => readJsonLines<Run>(join(out, "runs.jsonl"));
const count = (out: string, dir: string) => runs(out).filter((r) => r.dir === dir).length;

if (labFile(import.meta.url, { backend: "networkd", timeoutMs: 600_000 })) {
  test(`${FLAPS} carrier flaps: no-carrier.d from the kernel with networkd's last state; routable.d always sees the lease and the gateway`, async () => {
    const { base, out } = hookTree(Object.fromEntries(["no-carrier.d", "carrier.d", "routable.d"].map((d) => [d, { "50-rec": recorder(d) }])));
    const d = DaemonProcess.start([
      "run",
      "-c",
      writeConfig(`system:\n  backend: systemd-networkd\n  scripts_dir: ${base}\nmonitoring:\n  interfaces: [${lab.ifname}]\nhooks:\n  replay_on_start: false\n`),
    ]);
    try {
      await d.waitRecord((r) => r.msg === "ready");
      await waitFor("lab0 has its lease", async () => (await ip("-4", "-o", "addr", "show", "dev", lab.ifname)).includes("10.77.0.50"), 15_000);
      await sleep(300); // networkd's own Describe() of lab0 is cached by now (initial attach)
      for (let i = 0; i < FLAPS; i++) {
        const nc = count(out, "no-carrier.d");
        const rt = count(out, "routable.d");
        await ipSrv("link", "set", lab.peer, "down");
        await waitFor(`no-carrier.d of flap ${i}`, () => count(out, "no-carrier.d") > nc, 5000, 10);
        // networkd drops the lease's address on carrier loss; the next routable re-adds it
        await waitFor(`networkd dropped the address (flap ${i})`, async () => !(await ip("-4", "-o", "addr", "show", "dev", lab.ifname)).includes("10.77.0.50"), 5000);
        await ipSrv("link", "set", lab.peer, "up");
        await waitFor(`routable.d of flap ${i}`, () => count(out, "routable.d") > rt, 15_000, 10);
      }
      await sleep(500);
      const all = runs(out);
      const noCarrier = all.filter((r) => r.dir === "no-carrier.d");
      const routable = all.filter((r) => r.dir === "routable.d");
      assert.equal(noCarrier.length, FLAPS, "one no-carrier.d per flap, never a second one from networkd's CarrierState");
      assert.equal(all.filter((r) => r.dir === "carrier.d").length, FLAPS, "one carrier.d per flap");
      assert.equal(routable.length, FLAPS);
      for (const r of noCarrier) {
        assert.equal(r.BACKEND, "systemd-networkd");
        assert.equal(r.ev.backend, "systemd-networkd");
        assert.equal(r.ev.source, "kernel");
        assert.equal(r.ev.state.carrier, false);
        // networkd has not said anything yet: its last known state rides along, and $JSON is its
        // last Link.Describe() of the link
        assert.equal(r.IFACE, lab.ifname);
        assert.equal(r.json.Name, lab.ifname, "$JSON is networkd's Describe()");
        assert.equal(typeof r.json.OperationalState, "string");
      }
      const bad = routable.filter((r) => !/(^| )10\.77\.0\.50( |$)/.test(String(r.ADDRESSES)) || r.ev.gateway !== "10.77.0.1");
      assert.deepEqual(
        bad.map((r) => ({ ADDRESSES: r.ADDRESSES, gateway: r.ev.gateway })),
        [],
        "every routable.d sees the lease and the gateway",
      );
      for (const r of routable) {
        assert.equal(r.ev.source, "systemd-networkd");
        assert.ok(r.ev.addresses.includes("10.77.0.50/24"));
        assert.match(String(r.IP_ADDRS), /(^| )10\.77\.0\.50( |$)/);
      }
    } finally {
      await ipSrv("link", "set", lab.peer, "up");
      await d.stop();
    }
  });
}
