// The hook engine end to end: kernel event → event → dispatcher → runner, with the daemon started
// as root and running as the netevd user.
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { DaemonProcess, readJsonLines, hookTree, ip, ipSrv, lab, labFile, sleep, tempDir, waitFor, writeConfig } from "./lab.js";
import { RtnlMonitor } from "../../src/netlink/rtnl.js";
import { RTNLGRP_LINK } from "../../src/netlink/constants.js";

// A hook that records its argv and environment as one JSON line per run.
const recorder = (name: string, exit = 0) => `#!/bin/sh
{ printf '{"script":"%s","argv1":"%s","argv2":"%s","t":"%s"' "${name}" "$1" "$2" "$(date +%s%N)"
  for v in LINK LINKINDEX STATE BACKEND ADDRESSES EVENT NETEVD_REPLAY; do
    eval "val=\\\${$v-__unset__}"; printf ',"%s":"%s"' "$v" "$val"; done
  printf ',"uid":"%s","caps":"%s"}\\n' "$(id -u)" "$(awk '/^CapEff/{print $2}' /proc/self/status)"
} >> $OUT/runs.jsonl
printf '%s\\n' "$NETEVD_EVENT" > $OUT/${name}.event.json
exit ${exit}
`;

interface Run { script: string; argv1: string; argv2: string; t: string; [k: string]: string }
const runs = (out: string): Run[] => readJsonLines<Run>(join(out, "runs.jsonl"));

const startDaemon = (base: string, extra = "") =>
  DaemonProcess.start(["run", "-c", writeConfig(`system:\n  backend: none\n  scripts_dir: ${base}\n${extra}`)]);

/** lab0 up with carrier (with no backend in the lab, nobody else sets it up). */
async function lab0Up(): Promise<void> {
  await ip("link", "set", lab.ifname, "up");
  await ipSrv("link", "set", lab.peer, "up");
  await waitFor("lab0 carrier", async () => (await ip("-o", "link", "show", lab.ifname)).includes("LOWER_UP"), 5000);
}

if (labFile(import.meta.url)) {
  test.beforeEach(lab0Up);

  test("carrier loss runs no-carrier.d in byte order with the full environment; a failing script doesn't stop the next", async () => {
    const { base, out } = hookTree({
      "no-carrier.d": { "10-c": recorder("10-c"), "02-b": recorder("02-b", 1), "01-a": recorder("01-a") },
    });
    await ip("addr", "add", "10.77.0.60/24", "dev", lab.ifname);
    await ip("-6", "addr", "add", "2001:db8:77::60/64", "dev", lab.ifname, "nodad");
    const d = startDaemon(base, "hooks:\n  replay_on_start: false\n");
    try {
      await d.waitRecord((r) => r.msg === "ready");
      await ipSrv("link", "set", lab.peer, "down");
      await waitFor("three no-carrier runs", () => runs(out).length >= 3, 5000);
      const r = runs(out);
      assert.deepEqual(r.map((x) => x.script), ["01-a", "02-b", "10-c"]);
      const index = JSON.parse(await ip("-j", "link", "show", lab.ifname))[0].ifindex as number;
      for (const x of r) {
        assert.equal(x.argv1, "", "argv is [path]: no $1");
        assert.equal(x.LINK, lab.ifname);
        assert.equal(x.LINKINDEX, String(index));
        assert.equal(x.STATE, "no-carrier");
        assert.equal(x.BACKEND, "kernel");
        assert.equal(x.EVENT, "no-carrier");
        assert.equal(x.ADDRESSES, "10.77.0.60 2001:db8:77::60");
        assert.equal(x.NETEVD_REPLAY, "__unset__");
      }
      const ev = JSON.parse(readFileSync(join(out, "01-a.event.json"), "utf8"));
      assert.equal(ev.schema, "netevd.event.v1");
      assert.equal(ev.event, "no-carrier");
      assert.equal(ev.link, lab.ifname);
      assert.equal(ev.index, index);
      assert.equal(ev.state.carrier, false);
      assert.equal(ev.previous.carrier, true);
      assert.ok(ev.changed.includes("carrier"));
      assert.deepEqual(ev.addresses, ["10.77.0.60/24", "2001:db8:77::60/64"]);
      const failed = await d.waitRecord((x) => x.script === "02-b" && x.exitCode === 1);
      assert.equal(failed.level, "warn");
    } finally {
      await ipSrv("link", "set", lab.peer, "up");
      await ip("addr", "flush", "dev", lab.ifname);
      await d.stop();
    }
  });

  test("startup replay runs carrier.d once for a link that was up before the daemon started", async () => {
    const { base, out } = hookTree({ "carrier.d": { "50-rec": recorder("50-rec") } });
    const d = startDaemon(base, `monitoring:\n  interfaces: [${lab.ifname}]\n`);
    try {
      await waitFor("replay run", () => runs(out).length >= 1, 5000);
      await sleep(300);
      const r = runs(out);
      assert.equal(r.length, 1);
      assert.equal(r[0]!.LINK, lab.ifname);
      assert.equal(r[0]!.NETEVD_REPLAY, "1");
      assert.equal(r[0]!.STATE, "carrier");
      assert.equal(JSON.parse(readFileSync(join(out, "50-rec.event.json"), "utf8")).replay, true);
    } finally {
      await d.stop();
    }
  });

  test("hooks run without capabilities; the daemon keeps CAP_NET_ADMIN on every thread", async () => {
    const { base, out } = hookTree({
      "carrier.d": {
        "10-try": `#!/bin/sh
awk '/^CapEff/{print $2}' /proc/self/status > $OUT/capeff
id -u > $OUT/uid
if ip addr add 10.99.99.1/32 dev ${lab.ifname} 2> $OUT/ip.err; then echo 0 > $OUT/ip.rc; else echo $? > $OUT/ip.rc; fi
`,
      },
    });
    const d = startDaemon(base, `monitoring:\n  interfaces: [${lab.ifname}]\n`);
    try {
      const starting = await d.waitRecord((r) => r.msg === "starting");
      await waitFor("hook ran", () => existsSync(join(out, "ip.rc")), 5000);
      assert.equal(readFileSync(join(out, "capeff"), "utf8").trim(), "0000000000000000");
      const netevdUid = Number(readFileSync("/etc/passwd", "utf8").split("\n").find((l) => l.startsWith("netevd:"))!.split(":")[2]);
      assert.equal(Number(readFileSync(join(out, "uid"), "utf8")), netevdUid);
      assert.notEqual(readFileSync(join(out, "ip.rc"), "utf8").trim(), "0");
      assert.match(readFileSync(join(out, "ip.err"), "utf8"), /Operation not permitted/);
      assert.equal(await ip("-o", "addr", "show", "to", "10.99.99.1/32"), "", "the hook could not add the address");
      // the daemon process (the re-executed one) has CAP_NET_ADMIN on all its threads
      const pid = Number(starting.pid);
      const tasks = readdirSync(`/proc/${pid}/task`);
      assert.ok(tasks.length > 1, "node has worker threads");
      for (const t of tasks) {
        const status = readFileSync(`/proc/${pid}/task/${t}/status`, "utf8");
        const eff = BigInt("0x" + /^CapEff:\s*([0-9a-f]+)/m.exec(status)![1]);
        assert.equal(eff, 1n << 12n, `thread ${t} CapEff`);
        assert.match(status, new RegExp(`^Uid:\\s+${netevdUid}\\b`, "m"));
      }
    } finally {
      await d.stop();
    }
  });

  test("1000 carrier flaps: bounded runs, no unbounded queue, the last run sees the final state", async () => {
    const slow = (name: string) => recorder(name).replace("exit 0", "sleep 0.05\nexit 0");
    const { base, out } = hookTree({ "carrier.d": { "10-rec": slow("carrier") }, "no-carrier.d": { "10-rec": slow("no-carrier") } });
    const d = startDaemon(base, `monitoring:\n  interfaces: [${lab.ifname}]\nhooks:\n  replay_on_start: false\n`);
    try {
      await d.waitRecord((r) => r.msg === "ready");
      const batch = join(tempDir(), "flaps");
      writeFileSync(batch, `link set ${lab.peer} down\nlink set ${lab.peer} up\n`.repeat(500));
      // the carrier transitions the kernel reports: its link watch folds fast flaps together, so
      // 1000 flaps were seen as 5 to 500 transitions, depending on how fast they come
      let transitions = 0;
      let seen: boolean | undefined;
      const mon = new RtnlMonitor({
        groups: [RTNLGRP_LINK],
        onMessages: (msgs) => {
          for (const m of msgs) {
            if (m.kind !== "link" || m.op !== "new" || m.link.name !== lab.ifname || m.link.carrier === seen) continue;
            if (seen !== undefined) transitions++;
            seen = m.link.carrier;
          }
        },
        onOverflow: () => { transitions = Infinity; },
      });
      try {
        await ipSrv("-batch", batch);
        // settle: no new run for 1 s
        let n = -1;
        while (runs(out).length !== n) { n = runs(out).length; await sleep(1000); }
      } finally {
        mon.close();
      }
      const r = runs(out);
      const events = d.records.filter((x) => x.msg === "event" && x.link === lab.ifname).length;
      assert.ok(transitions >= 1, `the kernel reported the flaps (${transitions} carrier transitions)`);
      assert.ok(events >= Math.min(100, transitions), `the daemon saw the flaps as events (${events} for ${transitions} carrier transitions)`);
      assert.ok(r.length <= 60, `hook runs stay bounded: ${r.length} runs for ${events} events`);
      assert.equal(r.at(-1)!.STATE, "carrier", "the last run sees the final state (carrier up)");
      const carrier = JSON.parse(await ip("-j", "link", "show", lab.ifname))[0].flags as string[];
      assert.ok(carrier.includes("LOWER_UP"));
    } finally {
      await d.stop();
    }
  });

  test("netevd test SCRIPT really runs it with a real event's environment and reports exit code and output", async () => {
    const { base, out } = hookTree({ "routable.d": { "10-rec": recorder("10-rec", 7).replace("exit 7", "echo to-stdout; echo to-stderr >&2; exit 7") } });
    const index = JSON.parse(await ip("-j", "link", "show", lab.ifname))[0].ifindex as number;
    const t = DaemonProcess.start(["test", join(base, "routable.d", "10-rec"), "--link", lab.ifname, "--event", "routable", "--ip", "10.1.2.3"]);
    const code = await t.exited;
    assert.equal(code, 1, "non-zero script exit → exit 1");
    const printed = t.stderr.concat(t.records.map((r) => JSON.stringify(r))).join("\n");
    const [run] = runs(out);
    assert.ok(run, `the script ran: ${printed}`);
    assert.equal(run.LINK, lab.ifname);
    assert.equal(run.LINKINDEX, String(index));
    assert.equal(run.STATE, "routable");
    assert.equal(run.EVENT, "routable");
    assert.match(run.ADDRESSES!, /^10\.1\.2\.3( |$)/);
    assert.equal(run.caps, "0000000000000000", "like a real hook: no capabilities");
    assert.equal(run.uid, readFileSync("/etc/passwd", "utf8").split("\n").find((l) => l.startsWith("netevd:"))!.split(":")[2], "as the netevd user");
    assert.match(printed, /stdout: to-stdout/);
    assert.match(printed, /stderr: to-stderr/);
    assert.match(printed, /exit code 7, [\d.]+ ms/);
    const bad = DaemonProcess.start(["test", join(base, "routable.d", "10-rec"), "--link", lab.ifname, "--event", "../../bin"]);
    assert.equal(await bad.exited, 2, "an event off the allow-list is a usage error");
  });

  test("a hook that ignores SIGTERM and leaves a child holding stdout is killed with it at the timeout; other hooks run on time", async () => {
    const { base, out } = hookTree({
      "no-carrier.d": {
        "10-stuck": `#!/bin/sh
trap '' TERM
sleep 1000 &
echo $! > $OUT/child.pid
echo $$ > $OUT/stuck.pid
while :; do sleep 0.1; done
`,
      },
      "address-added.d": { "10-rec": recorder("address-added") },
      "carrier.d": { "10-rec": recorder("carrier") },
    });
    const d = startDaemon(base, `monitoring:\n  interfaces: [${lab.ifname}]\nhooks:\n  replay_on_start: false\n  timeout_sec: 3\n`);
    try {
      await d.waitRecord((r) => r.msg === "ready");
      await ipSrv("link", "set", lab.peer, "down");
      await waitFor("stuck hook started", () => existsSync(join(out, "child.pid")), 5000);
      await ip("addr", "add", "10.77.0.61/24", "dev", lab.ifname);
      await waitFor("address-added.d ran while the other hook hangs", () => runs(out).some((r) => r.script === "address-added"), 4000);
      // an ordering, not a clock: the unrelated hook ran while the stuck one was still alive
      assert.ok(!d.records.some((r) => r.script === "10-stuck" && r.msg === "hook timed out"), "an unrelated hook is not held up by the stuck one");
      await ipSrv("link", "set", lab.peer, "up"); // carrier.d shares the carrier key: it runs after the kill
      const killed = await d.waitRecord((r) => r.script === "10-stuck" && r.msg === "hook timed out", 10_000);
      assert.equal(killed.level, "warn");
      await waitFor("carrier.d after the kill", () => runs(out).some((r) => r.script === "carrier"), 3000);
      for (const f of ["child.pid", "stuck.pid"]) {
        const pid = Number(readFileSync(join(out, f), "utf8"));
        assert.equal(existsSync(`/proc/${pid}`), false, `${f} ${pid} is gone`);
      }
    } finally {
      await ip("addr", "del", "10.77.0.61/24", "dev", lab.ifname).catch(() => {});
      await d.stop();
    }
  });

  test("hooks.capabilities: [CAP_NET_RAW] gives hooks exactly that, not the daemon's CAP_NET_ADMIN", async () => {
    const { base, out } = hookTree({
      "carrier.d": { "10-caps": "#!/bin/sh\nawk '/^CapEff/{print $2}' /proc/self/status > $OUT/capeff\n" },
    });
    const d = startDaemon(base, `monitoring:\n  interfaces: [${lab.ifname}]\nhooks:\n  capabilities: [CAP_NET_RAW]\n`);
    try {
      const capeff = await waitFor("replayed carrier.d ran", () => existsSync(join(out, "capeff")) && readFileSync(join(out, "capeff"), "utf8").trim(), 5000);
      assert.equal(capeff, (1n << 13n).toString(16).padStart(16, "0"));
    } finally {
      await d.stop();
    }
  });
}
