// NetworkManager-dispatcher's dhcp4-change under the NetworkManager backend, against the real
// NetworkManager and dnsmasq: the lease's DNS option changes, NetworkManager renews (no state
// change), and dhcp4-change.d runs with the new value.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { openSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { DaemonProcess, hookTree, lab, labFile, readJsonLines, processGone, sh, waitFor, writeConfig } from "./lab.js";

const recorder = (dir: string) => `#!/bin/sh
printf '{"dir":"%s","DEVICE_IFACE":"%s","DHCP4_DOMAIN_NAME_SERVERS":"%s","IP4_NAMESERVERS":"%s","CONNECTION_UUID":"%s"}\\n' "${dir}" "$DEVICE_IFACE" "$DHCP4_DOMAIN_NAME_SERVERS" "$IP4_NAMESERVERS" "$CONNECTION_UUID" >> $OUT/runs.jsonl
`;

const nmcli = async (...args: string[]) => (await sh(["nmcli", ...args])).trim();

/** Restart the lab's dnsmasq with its config edited by `edit` (it runs in this lab's pid namespace). */
async function restartDnsmasq(edit: (conf: string) => string): Promise<void> {
  const confPath = join(lab.dir, "dnsmasq.conf");
  writeFileSync(confPath, edit(readFileSync(confPath, "utf8")));
  const pids = (await sh(["pgrep", "-x", "dnsmasq"])).split("\n").filter(Boolean).map(Number);
  for (const pid of pids) process.kill(pid, "SIGTERM");
  await waitFor("dnsmasq gone", () => pids.every(processGone), 5000, 50);
  const log = openSync(join(lab.dir, "logs", "dnsmasq-restarted.log"), "a");
  const child = spawn(
    "nsenter",
    [`--net=/run/netns/${lab.nsSrv}`, "--", "dnsmasq", "--keep-in-foreground", `--conf-file=${confPath}`, "--log-facility=-", "--user=root", "--group=root"],
    { stdio: ["ignore", log, log], detached: true },
  );
  child.unref();
}

if (labFile(import.meta.url, { backend: "nm", timeoutMs: 240_000 })) {
  test("dnsmasq's DNS option changes, NetworkManager renews: dhcp4-change.d runs with the new value, no state dir runs", async () => {
    await waitFor("NetworkManager activated lab0", async () => (await nmcli("-g", "GENERAL.STATE", "device", "show", lab.ifname)).startsWith("100"), 30_000, 200);
    const { base, out } = hookTree({ "dhcp4-change.d": { "50-rec": recorder("dhcp4-change.d") }, "activated.d": { "50-rec": recorder("activated.d") } });
    const d = DaemonProcess.start([
      "run",
      "-c",
      writeConfig(`system:\n  backend: NetworkManager\n  scripts_dir: ${base}\nmonitoring:\n  interfaces: [${lab.ifname}]\nhooks:\n  replay_on_start: false\n`),
    ]);
    try {
      await d.waitRecord((r) => r.msg === "ready", 15_000);
      await restartDnsmasq((c) => c.replace("dhcp-option=option:dns-server,10.77.0.1", "dhcp-option=option:dns-server,10.77.0.53"));
      // the lab's lease is 2 minutes: NetworkManager renews after about one
      await waitFor("dhcp4-change.d ran", () => readJsonLines(join(out, "runs.jsonl")).some((r) => (r as { dir: string }).dir === "dhcp4-change.d"), 150_000, 500);
      const runs = readJsonLines<Record<string, string>>(join(out, "runs.jsonl"));
      const change = runs.find((r) => r.dir === "dhcp4-change.d")!;
      assert.equal(change.DHCP4_DOMAIN_NAME_SERVERS, "10.77.0.53");
      assert.equal(change.DEVICE_IFACE, lab.ifname);
      assert.match(change.CONNECTION_UUID ?? "", /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
      assert.equal(runs.filter((r) => r.dir === "activated.d").length, 0, "no state change, no state dir");
      assert.equal((await nmcli("-g", "DHCP4.OPTION", "device", "show", lab.ifname)).includes("domain_name_servers = 10.77.0.53"), true);
    } finally {
      await d.stop();
    }
  });
}
