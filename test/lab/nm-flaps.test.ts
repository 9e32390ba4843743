// Under the real NetworkManager: whole snapshots over repeated disconnect/connect cycles, and carrier
// at kernel speed with NetworkManager's last state.
import { test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import type { NetevdEvent } from "../../src/events/types.js";
import { DaemonProcess, readJsonLines, hookTree, ip, ipSrv, lab, labFile, sh, sleep, waitFor, writeConfig } from "./lab.js";

const FLAPS = 30;
const VARS = ["LINK", "STATE", "BACKEND", "ADDRESSES", "DEVICE_IFACE", "NM_STATE", "IP4_ADDRESS_0", "IP4_GATEWAY", "DHCP4_IP_ADDRESS", "CONNECTION_UUID"];

const recorder = (dir: string) => `#!/bin/sh
line=$(printf '{"dir":"%s"' "${dir}")
for v in ${VARS.join(" ")}; do
  eval "val=\\\${$v-__unset__}"; line="$line$(printf ',"%s":"%s"' "$v" "$val")"; done
printf '%s,"ev":%s}\\n' "$line" "$NETEVD_EVENT" >> $OUT/runs.jsonl
`;

interface Run {
  dir: string;
  ev: NetevdEvent;
  [k: string]: unknown;
}
const runs = (out: string): Run[] => readJsonLines<Run>(join(out, "runs.jsonl"));
const count = (out: string, dir: string) => runs(out).filter((r) => r.dir === dir).length;
const nmcli = (...args: string[]) => sh(["nmcli", ...args]);
const hasLease = async () => (await ip("-4", "-o", "addr", "show", "dev", lab.ifname)).includes("10.77.0.50");

if (labFile(import.meta.url, { backend: "nm", timeoutMs: 600_000 })) {
  test(`${FLAPS} disconnect/connect cycles: activated.d always sees the leased address and the gateway, and NM's own (IP4_*, DHCP4_*)`, async () => {
    const { base, out } = hookTree(Object.fromEntries(["activated.d", "disconnected.d"].map((d) => [d, { "50-rec": recorder(d) }])));
    const d = DaemonProcess.start([
      "run",
      "-c",
      writeConfig(`system:\n  backend: NetworkManager\n  scripts_dir: ${base}\nmonitoring:\n  interfaces: [${lab.ifname}]\nhooks:\n  replay_on_start: false\n`),
    ]);
    try {
      await d.waitRecord((r) => r.msg === "ready");
      await waitFor("lab0 has its lease", hasLease, 15_000);
      for (let i = 0; i < FLAPS; i++) {
        const dc = count(out, "disconnected.d");
        const ac = count(out, "activated.d");
        await nmcli("device", "disconnect", lab.ifname);
        await waitFor(`disconnected.d of cycle ${i}`, () => count(out, "disconnected.d") > dc, 10_000, 10);
        await waitFor(`NetworkManager removed the address (cycle ${i})`, async () => !(await hasLease()), 5000);
        await nmcli("device", "connect", lab.ifname);
        await waitFor(`activated.d of cycle ${i}`, () => count(out, "activated.d") > ac, 15_000, 10);
      }
      await sleep(500);
      const activated = runs(out).filter((r) => r.dir === "activated.d");
      assert.equal(activated.length, FLAPS);
      const bad = activated.filter((r) => !/(^| )10\.77\.0\.50( |$)/.test(String(r.ADDRESSES)) || r.ev.gateway !== "10.77.0.1");
      assert.deepEqual(
        bad.map((r) => ({ ADDRESSES: r.ADDRESSES, gateway: r.ev.gateway })),
        [],
        "every activated.d sees the lease and the gateway",
      );
      // NetworkManager-dispatcher's variables: NM's data of this activation (its DHCP4Config object
      // is new at every activation), as NM had announced it by the state change
      const uuid = (await nmcli("-g", "GENERAL.CON-UUID", "device", "show", lab.ifname)).trim();
      assert.match(uuid, /^[0-9a-f-]{36}$/);
      const nmd = activated.map((r) => ({ IP4_ADDRESS_0: r.IP4_ADDRESS_0, IP4_GATEWAY: r.IP4_GATEWAY, DHCP4_IP_ADDRESS: r.DHCP4_IP_ADDRESS, CONNECTION_UUID: r.CONNECTION_UUID }));
      const want = { IP4_ADDRESS_0: "10.77.0.50/24 10.77.0.1", IP4_GATEWAY: "10.77.0.1", DHCP4_IP_ADDRESS: "10.77.0.50", CONNECTION_UUID: uuid };
      assert.deepEqual(
        nmd.filter((v) => JSON.stringify(v) !== JSON.stringify(want)),
        [],
        "every activated.d has NM's IP4_*/DHCP4_*/CONNECTION_UUID",
      );
      for (const r of activated) {
        assert.equal(r.BACKEND, "NetworkManager");
        assert.equal(r.ev.source, "NetworkManager");
        assert.ok(r.ev.addresses.includes("10.77.0.50/24"));
      }
    } finally {
      await d.stop();
    }
  });

  test("carrier loss: no-carrier.d from the kernel at once, with NetworkManager's last state of the device", async () => {
    const { base, out } = hookTree({ "no-carrier.d": { "50-rec": recorder("no-carrier.d") } });
    const d = DaemonProcess.start([
      "run",
      "-c",
      writeConfig(`system:\n  backend: NetworkManager\n  scripts_dir: ${base}\nmonitoring:\n  interfaces: [${lab.ifname}]\nhooks:\n  replay_on_start: false\n`),
    ]);
    try {
      await d.waitRecord((r) => r.msg === "ready");
      await waitFor("lab0 has its lease", hasLease, 15_000);
      await ipSrv("link", "set", lab.peer, "down");
      await waitFor("no-carrier.d", () => count(out, "no-carrier.d") > 0, 3000, 10);
      const r = runs(out)[0]!;
      assert.equal(r.BACKEND, "NetworkManager");
      assert.equal(r.ev.source, "kernel");
      assert.equal(r.DEVICE_IFACE, lab.ifname);
      assert.equal(r.NM_STATE, "100", "NetworkManager has not noticed yet: its last state (activated) rides along");
      assert.equal(r.ev.state.NMDeviceStateName, "activated");
    } finally {
      await ipSrv("link", "set", lab.peer, "up");
      await d.stop();
    }
  });
}
