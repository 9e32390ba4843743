// compat.networkd_dispatcher against the real networkd-dispatcher, both watching the real
// systemd-networkd of the lab on the same flaps: the same scripts run for the same states, with the
// same arguments and variables.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { DaemonProcess, ipSrv, lab, labFile, sh, sleep, tempDir, waitFor, writeConfig } from "./lab.js";

const ND_STATES = [
  "configured",
  "configuring",
  "failed",
  "pending",
  "unmanaged",
  "linger",
  "initialized",
  "carrier",
  "degraded",
  "degraded-carrier",
  "dormant",
  "enslaved",
  "missing",
  "no-carrier",
  "off",
  "routable",
];
/** scripts/setup.sh unpacks both here (never installed on the host). */
const ND_BIN = "/var/lib/netevd-lab/networkd-dispatcher/usr/bin/networkd-dispatcher";
const CHRONY_ND_DIR = "/var/lib/netevd-lab/chrony/usr/lib/networkd-dispatcher";

const FIELDS = ["IFACE", "STATE", "ADDR", "IP_ADDRS", "IP6_ADDRS", "AdministrativeState", "OperationalState", "ESSID"];

// One line per run: the argument count, then the variables; and the json of the last run per state.
const recorder = (out: string, who: string) => `#!/bin/sh
printf '%s' "$#" >> ${out}/${who}.txt
for v in ${FIELDS.join(" ")}; do eval "val=\\\${$v-__unset__}"; printf '|%s=%s' "$v" "$val" >> ${out}/${who}.txt; done
printf '\\n' >> ${out}/${who}.txt
printf '%s\\n' "$json" > ${out}/${who}.$STATE.json
`;

/** networkd-dispatcher's layout: root-owned 0755 directories and scripts (it checks exactly that). */
function ndTree(out: string, who: string): string {
  const base = tempDir(`nd-${who}-`);
  for (const s of ND_STATES) {
    mkdirSync(join(base, `${s}.d`));
    chmodSync(join(base, `${s}.d`), 0o755);
    writeFileSync(join(base, `${s}.d`, "50-rec"), recorder(out, who));
    chmodSync(join(base, `${s}.d`, "50-rec"), 0o755);
  }
  return base;
}

type Line = { argc: string } & Record<string, string>;
function lines(out: string, who: string): Line[] {
  const p = join(out, `${who}.txt`);
  if (!existsSync(p)) return [];
  const text = readFileSync(p, "utf8");
  return text
    .slice(0, text.lastIndexOf("\n") + 1)
    .split("\n")
    .filter(Boolean)
    .map((l) => {
      const [argc, ...kv] = l.split("|");
      return Object.assign({ argc: argc ?? "" }, Object.fromEntries(kv.map((x) => [x.slice(0, x.indexOf("=")), x.slice(x.indexOf("=") + 1)])));
    });
}

const statesOf = (ls: Line[], iface: string) => ls.filter((l) => l.IFACE === iface).map((l) => l.STATE);

async function settled(out: string, quietMs = 2000): Promise<void> {
  let n = -1;
  for (;;) {
    const m = lines(out, "nd").length + lines(out, "netevd").length;
    if (m === n) return;
    n = m;
    await sleep(quietMs);
  }
}

if (labFile(import.meta.url, { backend: "networkd", timeoutMs: 240_000 })) {
  test("the same scripts for the same states, no arguments, networkd-dispatcher's variables, under real networkd", async () => {
    const out = tempDir("nd-out-");
    chmodSync(out, 0o1777);
    const ndBase = ndTree(out, "nd");
    const ourBase = ndTree(out, "netevd");
    const emptyScripts = tempDir("netevd-none-");

    const nd = spawn(ND_BIN, ["-S", ndBase, "--run-startup-triggers"], {
      env: { PATH: process.env.PATH, DBUS_SYSTEM_BUS_ADDRESS: process.env.DBUS_SYSTEM_BUS_ADDRESS },
      stdio: ["ignore", "ignore", "pipe"],
    });
    let ndErr = "";
    nd.stderr.on("data", (b: Buffer) => {
      ndErr += b.toString();
    });
    const d = DaemonProcess.start([
      "run",
      "-c",
      writeConfig(`system:\n  backend: systemd-networkd\n  scripts_dirs: [${emptyScripts}]\n` + `compat:\n  networkd_dispatcher: true\n  networkd_dispatcher_dirs: [${ourBase}]\n`),
    ]);
    try {
      await d.waitRecord((r) => r.msg === "ready", 15_000);
      const takeover = await d.waitRecord((r) => r.msg === "networkd-dispatcher scripts taken over");
      assert.equal(takeover.scripts, ND_STATES.length);
      await d.waitRecord((r) => r.msg === "networkd-dispatcher is running too" || String(r.msg).startsWith("networkd-dispatcher is running too"), 5000);
      // startup: both replay every link's two states
      await waitFor(
        "startup runs of both",
        () => statesOf(lines(out, "nd"), lab.ifname).includes("routable") && statesOf(lines(out, "netevd"), lab.ifname).includes("routable"),
        20_000,
      );
      await settled(out);
      for (let i = 0; i < 2; i++) {
        await ipSrv("link", "set", lab.peer, "down");
        await waitFor(
          "no-carrier in both",
          () => lines(out, "nd").filter((l) => l.STATE === "no-carrier").length > i && lines(out, "netevd").filter((l) => l.STATE === "no-carrier").length > i,
          20_000,
        );
        await ipSrv("link", "set", lab.peer, "up");
        await waitFor(
          "routable again in both",
          () => lines(out, "nd").filter((l) => l.STATE === "routable").length > i + 1 && lines(out, "netevd").filter((l) => l.STATE === "routable").length > i + 1,
          30_000,
        );
      }
      await settled(out);
      const ndLines = lines(out, "nd");
      const ours = lines(out, "netevd");
      const ifaces = [...new Set(ndLines.map((l) => l.IFACE ?? ""))].sort();
      assert.deepEqual([...new Set(ours.map((l) => l.IFACE ?? ""))].sort(), ifaces, "the same links");
      // which scripts ran for which states, per link, each as often (networkd-dispatcher runs every
      // script serially; netevd runs the directories of one link in parallel, so the order differs)
      for (const iface of ifaces) assert.deepEqual(statesOf(ours, iface).sort(), statesOf(ndLines, iface).sort(), `states of ${iface}`);
      // the routable lines in full: the variables, then the argument count
      const routable = (ls: Line[]) => ls.filter((l) => l.STATE === "routable");
      const vars = (ls: Line[]) => ls.map(({ argc: _argc, ...v }) => v);
      assert.equal(routable(ndLines).length, 3);
      assert.deepEqual(vars(routable(ours)), vars(routable(ndLines)));
      assert.match(routable(ours)[0]?.IP_ADDRS ?? "", /^10\.77\.0\.\d+$/);
      // no arguments, as networkd-dispatcher runs them
      assert.ok(ndLines.every((l) => l.argc === "0"));
      assert.deepEqual([...new Set(ours.map((l) => l.argc))], ["0"], "netevd runs them with no arguments");
      // json: networkd-dispatcher's is its parse of `networkctl status`; ours is networkd's Describe()
      const ndJson = JSON.parse(readFileSync(join(out, "nd.routable.json"), "utf8")) as Record<string, unknown>;
      const ourJson = JSON.parse(readFileSync(join(out, "netevd.routable.json"), "utf8")) as Record<string, unknown>;
      assert.equal(ndJson.OperationalState, "routable");
      assert.equal(ourJson.OperationalState, "routable");
      assert.equal(ourJson.Name, lab.ifname);
    } finally {
      nd.kill("SIGTERM");
      await d.stop();
      if (process.env.NETEVD_TEST_DEBUG) process.stderr.write(ndErr);
    }
  });

  test("Debian's chrony hook (a symlink to its NetworkManager-dispatcher script) runs chronyc: it only does with no arguments", async () => {
    // chronyc, for this lab only: an overlay on /usr/bin in the lab's private mount namespace
    const out = tempDir("chrony-out-");
    chmodSync(out, 0o1777);
    const upper = "/run/netevd-test-usrbin";
    mkdirSync(`${upper}/u`, { recursive: true });
    mkdirSync(`${upper}/w`, { recursive: true });
    writeFileSync(`${upper}/u/chronyc`, `#!/bin/sh\nprintf '%s\\n' "$*" >> ${out}/chronyc.txt\n`, { mode: 0o755 });
    await sh(["mount", "-t", "overlay", "overlay", "-o", `lowerdir=/usr/bin,upperdir=${upper}/u,workdir=${upper}/w`, "/usr/bin"]);
    const etc = tempDir("nd-etc-");
    const d = DaemonProcess.start([
      "run",
      "-c",
      writeConfig(
        `system:\n  backend: systemd-networkd\n  scripts_dirs: [${tempDir("netevd-none-")}]\nmonitoring:\n  interfaces: [${lab.ifname}]\n` +
          `compat:\n  networkd_dispatcher: true\n  networkd_dispatcher_dirs: [${etc}, ${CHRONY_ND_DIR}]\n`,
      ),
    ]);
    try {
      const takeover = await d.waitRecord((r) => r.msg === "networkd-dispatcher scripts taken over", 15_000);
      assert.equal(takeover.scripts, 2, "off.d and routable.d chrony-onoffline");
      // the startup replay: lab0 is routable
      await waitFor("chronyc run by the routable replay", () => existsSync(join(out, "chronyc.txt")), 10_000);
      assert.equal(readFileSync(join(out, "chronyc.txt"), "utf8"), "onoffline\n");
      await ipSrv("link", "set", lab.peer, "down");
      // no-carrier is not off: chrony's hook is in off.d and routable.d only
      await sleep(1500);
      assert.equal(readFileSync(join(out, "chronyc.txt"), "utf8"), "onoffline\n");
    } finally {
      await ipSrv("link", "set", lab.peer, "up");
      await d.stop();
      await sh(["umount", "/usr/bin"], { allowFail: true });
    }
  });
}
