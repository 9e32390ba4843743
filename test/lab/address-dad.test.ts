// IPv6 duplicate address detection against the real kernel: address-added.d runs once the address
// is usable (a hook binds to it), and a duplicate (the peer netns holds the address) fires
// address-dad-failed.d instead.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createSocket } from "node:dgram";
import { join } from "node:path";
import { DaemonProcess, readJsonLines, hookTree, ip, ipSrv, lab, labFile, sleep, waitFor, writeConfig } from "./lab.js";

// The hook reads everything from the environment (not argv): the address from NETEVD_EVENT, then
// binds a UDP socket to it and reports what the kernel says of the address at that moment.
const binder = (dir: string) => `#!/usr/bin/python3
import json, os, socket, subprocess
ev = json.loads(os.environ["NETEVD_EVENT"])
addr = ev["state"]["address"].split("/")[0]
res = {"dir": "${dir}", "event": os.environ.get("EVENT"), "link": os.environ.get("LINK"), "address": addr,
       "reason": ev["state"].get("reason"), "addresses": os.environ.get("ADDRESSES", "")}
try:
    s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    s.bind((addr, 0))
    res["bind"] = "ok"
    s.close()
except OSError as e:
    res["bind"] = "errno %d" % e.errno
res["ip"] = subprocess.run(["ip", "-6", "-o", "addr", "show", "dev", os.environ["LINK"]], capture_output=True, text=True).stdout
with open("$OUT/runs.jsonl", "a") as f:
    f.write(json.dumps(res) + "\\n")
`;

interface Run {
  dir: string;
  event: string;
  link: string;
  address: string;
  reason: string | null;
  addresses: string;
  bind: string;
  ip: string;
}
/** Runs for our global test addresses (lab0's own link-local address comes and goes with the link). */
const runs = (out: string): Run[] => readJsonLines<Run>(join(out, "runs.jsonl")).filter((r) => r.address.startsWith("2001:db8:77::"));

/** What a program gets when it binds to the address right now: "ok" or the error code. */
function tryBind(address: string): Promise<string> {
  return new Promise((res) => {
    const s = createSocket("udp6");
    s.once("error", (err: NodeJS.ErrnoException) => {
      s.close();
      res(err.code ?? "error");
    });
    s.bind({ address, port: 0 }, () => {
      s.close();
      res("ok");
    });
  });
}

if (labFile(import.meta.url)) {
  test("IPv6 with DAD: address-added.d after the tentative flag clears (the hook binds to it); a duplicate fires address-dad-failed.d", async () => {
    const { base, out } = hookTree({
      "address-added.d": { "50-bind": binder("address-added.d") },
      "address-dad-failed.d": { "50-bind": binder("address-dad-failed.d") },
    });
    await ip("link", "set", lab.ifname, "up");
    await ipSrv("link", "set", lab.peer, "up");
    await waitFor("lab0 carrier", async () => (await ip("-o", "link", "show", lab.ifname)).includes("LOWER_UP"), 5000);
    // the peer side already holds ::99
    await ipSrv("-6", "addr", "add", "2001:db8:77::99/64", "dev", "br0", "nodad");
    const d = DaemonProcess.start([
      "run",
      "-c",
      writeConfig(`system:\n  backend: none\n  scripts_dir: ${base}\nmonitoring:\n  interfaces: [${lab.ifname}]\nhooks:\n  replay_on_start: false\n`),
    ]);
    try {
      await d.waitRecord((r) => r.msg === "ready");
      await ip("-6", "addr", "add", "2001:db8:77::60/64", "dev", lab.ifname);
      // DAD is on: right after the add the address is tentative and nobody can bind to it yet
      assert.equal(await tryBind("2001:db8:77::60"), "EADDRNOTAVAIL");
      assert.match(await ip("-6", "-o", "addr", "show", "dev", lab.ifname), /2001:db8:77::60\/64 .*tentative/);
      assert.deepEqual(runs(out), [], "nothing fired while the address is tentative");
      await waitFor("address-added.d", () => runs(out).some((r) => r.dir === "address-added.d"), 10_000);
      const added = runs(out).filter((r) => r.dir === "address-added.d");
      assert.equal(added.length, 1);
      assert.equal(added[0]!.address, "2001:db8:77::60");
      assert.equal(added[0]!.bind, "ok", "the hook could bind to the address it was told about");
      assert.doesNotMatch(added[0]!.ip, /2001:db8:77::60\/64 .*tentative/, "the kernel no longer flags it tentative");
      assert.match(added[0]!.addresses, /(^| )2001:db8:77::60( |$)/);

      // a duplicate: the peer holds ::99
      const from = d.records.length;
      await ip("-6", "addr", "add", "2001:db8:77::99/64", "dev", lab.ifname);
      await waitFor("address-dad-failed.d", () => runs(out).some((r) => r.dir === "address-dad-failed.d"), 10_000);
      await sleep(300);
      const failed = runs(out).filter((r) => r.dir === "address-dad-failed.d");
      assert.equal(failed.length, 1);
      assert.equal(failed[0]!.address, "2001:db8:77::99");
      assert.match(failed[0]!.ip, /2001:db8:77::99\/64 .*dadfailed/, "the kernel flags it dadfailed");
      assert.notEqual(failed[0]!.bind, "ok", "a failed address cannot be bound");
      assert.match(String(failed[0]!.reason), /duplicate address detection failed/);
      assert.doesNotMatch(failed[0]!.addresses, /2001:db8:77::99/, "ADDRESSES holds only usable addresses");
      assert.equal(runs(out).filter((r) => r.address === "2001:db8:77::99" && r.dir === "address-added.d").length, 0, "never announced as added");
      const warn = await d.waitRecord((r) => r.level === "warn" && r.address === "2001:db8:77::99/64", 2000, from);
      assert.equal(warn.link, lab.ifname);
      assert.match(String(warn.reason), /duplicate address detection failed/);
    } finally {
      await d.stop();
    }
  });
}
