// NetworkManager-dispatcher's variables under the NetworkManager backend, against the real
// NetworkManager: what an activated device's script gets equals what nmcli reports.
import { test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { DaemonProcess, hookTree, lab, labFile, readJsonLines, sh, waitFor, writeConfig } from "./lab.js";

const VARS = [
  "CONNECTION_ID",
  "CONNECTION_UUID",
  "CONNECTION_FILENAME",
  "DEVICE_IFACE",
  "DEVICE_IP_IFACE",
  "IP4_NUM_ADDRESSES",
  "IP4_ADDRESS_0",
  "IP4_GATEWAY",
  "IP4_NAMESERVERS",
  "IP4_DOMAINS",
  "DHCP4_IP_ADDRESS",
  "DHCP4_ROUTERS",
  "DHCP4_DOMAIN_NAME_SERVERS",
];
const recorder = `#!/bin/sh
line='{"argc":"'$#'"'
for v in ${VARS.join(" ")}; do eval "val=\\\${$v-__unset__}"; line="$line$(printf ',"%s":"%s"' "$v" "$val")"; done
printf '%s}\\n' "$line" >> $OUT/runs.jsonl
`;

const nmcli = async (...args: string[]) => (await sh(["nmcli", ...args])).trim();

if (labFile(import.meta.url, { backend: "nm" })) {
  test("an activated device gives IP4_ADDRESS_0, IP4_GATEWAY, CONNECTION_UUID, DHCP4_IP_ADDRESS equal to what nmcli reports", async () => {
    await waitFor("NetworkManager activated lab0", async () => (await nmcli("-g", "GENERAL.STATE", "device", "show", lab.ifname)).startsWith("100"), 30_000, 200);
    const { base, out } = hookTree({ "activated.d": { "50-rec": recorder } });
    const d = DaemonProcess.start(["run", "-c", writeConfig(`system:\n  backend: NetworkManager\n  scripts_dir: ${base}\nmonitoring:\n  interfaces: [${lab.ifname}]\n`)]);
    try {
      // the startup replay runs activated.d for lab0
      await waitFor("activated.d ran", () => readJsonLines(join(out, "runs.jsonl")).length > 0, 20_000);
      const run = readJsonLines<Record<string, string>>(join(out, "runs.jsonl"))[0]!;

      const addr = await nmcli("-g", "IP4.ADDRESS", "device", "show", lab.ifname);
      const gw = await nmcli("-g", "IP4.GATEWAY", "device", "show", lab.ifname);
      // -t escapes ":" in values as "\\:" (a file name has none here; the id and uuid neither)
      const active = (await nmcli("-t", "-f", "NAME,UUID,DEVICE,FILENAME", "connection", "show", "--active"))
        .split("\n")
        .map((l) => l.split(":"))
        .find((f) => f[2] === lab.ifname);
      assert.ok(active, "nmcli lists lab0's active connection");
      const [name, uuid, , filename] = active;
      const dhcp = Object.fromEntries(
        (await nmcli("-g", "DHCP4.OPTION", "device", "show", lab.ifname))
          .split(" | ")
          .map((o) => o.split(" = "))
          .map(([k, v]) => [k!.trim(), (v ?? "").trim()]),
      );

      assert.equal(run.IP4_ADDRESS_0, `${addr.split(" | ")[0]} ${gw}`);
      assert.equal(run.IP4_GATEWAY, gw);
      assert.equal(run.IP4_NUM_ADDRESSES, String(addr.split(" | ").length));
      assert.equal(run.CONNECTION_UUID, uuid);
      assert.equal(run.CONNECTION_ID, name);
      assert.equal(run.CONNECTION_FILENAME, filename);
      assert.equal(run.DEVICE_IFACE, lab.ifname);
      assert.equal(run.DEVICE_IP_IFACE, lab.ifname);
      assert.equal(run.DHCP4_IP_ADDRESS, dhcp.ip_address);
      assert.match(run.DHCP4_IP_ADDRESS ?? "", /^10\.77\.0\.\d+$/);
      assert.equal(run.DHCP4_ROUTERS, dhcp.routers);
      assert.equal(run.IP4_NAMESERVERS, (await nmcli("-g", "IP4.DNS", "device", "show", lab.ifname)).split(" | ").join(" "));
    } finally {
      await d.stop();
    }
  });
}
