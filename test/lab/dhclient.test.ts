// The dhclient backend against real dhclient + dnsmasq, and the DNS/hostname pushes against real
// systemd-resolved and systemd-hostnamed, with the daemon running as the unprivileged netevd user
// (authorized by the shipped polkit rule).
import { before, test } from "node:test";
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { appendFileSync, copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { DaemonProcess, dhcpTime, hookTree, ip, lab, labFile, readJsonLines, repoRoot, processGone, sh, sleep, waitFor, writeConfig } from "./lab.js";

const LEASES = process.env.NETEVD_LAB_DHCLIENT_LEASES ?? "/var/lib/dhcp/dhclient.lab0.leases";
const HARNESS_PID = "/run/dhclient.lab0.pid";
const OUR_PID = "/run/netevd-test-dhclient.pid";
const DHCP_VARS = ["DHCP_ADDRESS", "DHCP_SUBNET_MASK", "DHCP_GATEWAY", "DHCP_DNS", "DHCP_DOMAIN", "DHCP_HOSTNAME", "DHCP_LEASE_EXPIRY"];

// One JSON line per run (the contract event included), and the whole environment per run.
const recorder = (dir: string) => `#!/bin/sh
n=$(date +%s%N)
env > $OUT/${dir}.$n.env
{ printf '{"dir":"%s","t":%s,"argv1":"%s","argv2":"%s","event":%s' "${dir}" "$n" "$1" "$2" "$NETEVD_EVENT"
  for v in LINK STATE BACKEND NETEVD_REPLAY ${DHCP_VARS.join(" ")}; do
    eval "val=\\\${$v-__unset__}"; printf ',"%s":"%s"' "$v" "$val"; done
  printf '}\\n'
} >> $OUT/runs.jsonl
`;

interface Run {
  dir: string;
  t: number;
  argv1: string;
  argv2: string;
  event: { changed: string[]; dns: string[]; gateway: string | null; backend: string; source: string; replay: boolean };
  [k: string]: unknown;
}
const runs = (out: string): Run[] => readJsonLines<Run>(join(out, "runs.jsonl"));
const routable = (out: string) => runs(out).filter((r) => r.dir === "routable.d");

function tree() {
  return hookTree({ "routable.d": { "50-rec": recorder("routable.d") }, "address-removed.d": { "50-rec": recorder("address-removed.d") } });
}

const start = (base: string, extra = "", leaseFiles?: string[]) =>
  DaemonProcess.start([
    "run",
    "-c",
    writeConfig(
      `system:\n  backend: dhclient\n  scripts_dir: ${base}\nmonitoring:\n  interfaces: [${lab.ifname}]\n` +
        `backends:\n  dhclient:\n    use_dns: true\n    use_domain: true\n    use_hostname: true\n` +
        (leaseFiles ? `    lease_files: [${leaseFiles.join(", ")}]\n` : "") +
        extra,
    ),
  ]);

async function settle(out: string, quietMs = 1200): Promise<Run[]> {
  let n = -1;
  while (runs(out).length !== n) {
    n = runs(out).length;
    await sleep(quietMs);
  }
  return runs(out);
}

let ifindex = 0;
const linkPath = () => `/org/freedesktop/resolve1/link/_3${ifindex}`;

/** resolved's per-link DNS servers, as dotted quads. */
async function resolvedDns(): Promise<string[]> {
  const j = JSON.parse(await sh(["busctl", "--json=short", "get-property", "org.freedesktop.resolve1", linkPath(), "org.freedesktop.resolve1.Link", "DNS"]));
  return (j.data as Array<[number, number[]]>).map(([, b]) => b.join("."));
}
async function resolvedDomains(): Promise<string[]> {
  const j = JSON.parse(await sh(["busctl", "--json=short", "get-property", "org.freedesktop.resolve1", linkPath(), "org.freedesktop.resolve1.Link", "Domains"]));
  return (j.data as Array<[string, boolean]>).map(([d]) => d);
}
const hostname = async () => (await sh(["hostname"])).trim();
const staticHostname = async () =>
  JSON.parse(await sh(["busctl", "--json=short", "get-property", "org.freedesktop.hostname1", "/org/freedesktop/hostname1", "org.freedesktop.hostname1", "StaticHostname"]))
    .data as string;

/** Back to a lab without our pushes: resolved forgets lab0's settings, the host name is netevd-lab. */
async function resetPushes(): Promise<void> {
  await sh(["busctl", "call", "org.freedesktop.resolve1", "/org/freedesktop/resolve1", "org.freedesktop.resolve1.Manager", "RevertLink", "i", String(ifindex)]);
  await sh(["busctl", "call", "org.freedesktop.hostname1", "/org/freedesktop/hostname1", "org.freedesktop.hostname1", "SetStaticHostname", "sb", "netevd-lab", "false"]);
  assert.deepEqual(await resolvedDns(), []);
  assert.equal(await hostname(), "netevd-lab");
}

async function killPidFile(path: string): Promise<void> {
  if (!existsSync(path)) return;
  const pid = Number(readFileSync(path, "utf8").trim());
  if (!(pid > 1)) return;
  try {
    process.kill(pid, "SIGTERM");
  } catch {
    return;
  }
  await waitFor(`dhclient ${pid} gone`, () => processGone(pid), 5000);
}

let ours: ChildProcess | null = null;
/** Our own dhclient on lab0, like the harness's (-d, detached), bound to the lab's dnsmasq. */
function startDhclient(): void {
  ours = spawn("dhclient", ["-4", "-d", "-lf", LEASES, "-pf", OUR_PID, lab.ifname], { stdio: "ignore", detached: true });
  ours.unref();
}
async function stopDhclient(): Promise<void> {
  const p = ours;
  ours = null;
  if (!p || p.exitCode !== null || p.signalCode !== null) return;
  const gone = new Promise((r) => p.once("exit", r));
  p.kill("SIGTERM");
  await gone;
}

/** A lease block like dhclient writes, valid for an hour from now. */
function leaseBlock(o: { addr?: string; dns?: string; options?: string[]; lines?: string[] } = {}): string {
  const t = (s: number) => dhcpTime(new Date(Date.now() + s * 1000));
  return [
    "lease {",
    `  interface "${lab.ifname}";`,
    `  fixed-address ${o.addr ?? "10.77.0.50"};`,
    "  option subnet-mask 255.255.255.0;",
    "  option routers 10.77.0.1;",
    "  option dhcp-lease-time 3600;",
    "  option dhcp-server-identifier 10.77.0.1;",
    `  option domain-name-servers ${o.dns ?? "10.77.0.1"};`,
    ...(o.options ?? ['  option domain-search "lab.test.";', '  option host-name "labclient";', '  option domain-name "lab.test";']),
    ...(o.lines ?? []),
    `  renew ${t(1800)};`,
    `  rebind ${t(3000)};`,
    `  expire ${t(3600)};`,
    "}",
    "",
  ].join("\n");
}

if (labFile(import.meta.url, { backend: "dhclient", resolved: true, polkit: true })) {
  before(async () => {
    ifindex = JSON.parse(await ip("-j", "link", "show", lab.ifname))[0].ifindex as number;
    // the shipped rule, installed as an administrator would (polkitd re-reads rules.d by itself)
    mkdirSync("/etc/polkit-1/rules.d", { recursive: true });
    copyFileSync(resolve(repoRoot, "config/netevd-polkit.rules"), "/etc/polkit-1/rules.d/50-netevd.rules");
    const probe = spawn("setpriv", ["--reuid=netevd", "--regid=netevd", "--clear-groups", "sleep", "30"], { stdio: "ignore" });
    try {
      for (const action of ["org.freedesktop.resolve1.set-dns-servers", "org.freedesktop.resolve1.set-domains", "org.freedesktop.hostname1.set-static-hostname"]) {
        await waitFor(
          `polkit grants ${action} to netevd`,
          () =>
            sh(["pkcheck", "--action-id", action, "--process", String(probe.pid)]).then(
              () => true,
              () => false,
            ),
          10_000,
          200,
        );
      }
    } finally {
      probe.kill();
    }
  });

  test("replay at start: the lease dhclient already holds fires routable.d once; resolved and hostnamed get its data", async () => {
    assert.ok(existsSync(LEASES), "the harness's dhclient wrote its lease");
    assert.equal(await hostname(), "netevd-lab");
    const { base, out } = tree();
    const d = start(base);
    try {
      await d.waitRecord((r) => r.msg === "ready");
      await waitFor("routable.d replay", () => routable(out).length > 0, 5000);
      const r = (await settle(out)).filter((x) => x.dir === "routable.d");
      assert.equal(r.length, 1, JSON.stringify(r));
      const x = r[0]!;
      assert.equal(x.argv1, "", "argv is [path]: no $1");
      assert.equal(x.STATE, "routable");
      assert.equal(x.BACKEND, "dhclient");
      assert.equal(x.NETEVD_REPLAY, "1");
      assert.equal(x.DHCP_ADDRESS, "10.77.0.50");
      assert.equal(x.DHCP_SUBNET_MASK, "255.255.255.0");
      assert.equal(x.DHCP_GATEWAY, "10.77.0.1");
      assert.equal(x.DHCP_DNS, "10.77.0.1");
      assert.equal(x.DHCP_DOMAIN, "lab.test");
      assert.equal(x.DHCP_HOSTNAME, "labclient");
      assert.match(String(x.DHCP_LEASE_EXPIRY), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
      assert.equal(x.event.backend, "dhclient");
      assert.equal(x.event.source, "dhclient");
      assert.equal(x.event.gateway, "10.77.0.1");
      assert.deepEqual(x.event.dns, ["10.77.0.1"]);
      await waitFor("resolved has lab0's DNS server", async () => (await resolvedDns()).join() === "10.77.0.1", 5000, 100);
      await waitFor("resolved has lab0's domain", async () => (await resolvedDomains()).join() === "lab.test", 5000, 100);
      await waitFor("host name labclient", async () => (await hostname()) === "labclient", 5000, 100);
      assert.equal(await staticHostname(), "labclient");
      // the pushes above came from the daemon running as netevd (the root launcher only waits)
      assert.notEqual((await sh(["pgrep", "-u", "netevd", "-f", "bin/netevd run"], { allowFail: true })).trim(), "", "the daemon runs unprivileged");
    } finally {
      await d.stop();
    }
  });

  test("a live bind (lease file appears later): routable.d once with the lease's data, then pushed", async () => {
    await killPidFile(HARNESS_PID);
    await ip("addr", "flush", "dev", lab.ifname);
    rmSync(LEASES, { force: true });
    await resetPushes();
    const { base, out } = tree();
    const d = start(base);
    try {
      await d.waitRecord((r) => r.msg === "ready");
      await sleep(300);
      assert.equal(routable(out).length, 0, "no lease, no replay");
      startDhclient();
      await waitFor("routable.d after the bind", () => routable(out).length > 0, 15_000);
      const r = (await settle(out)).filter((x) => x.dir === "routable.d");
      assert.equal(r.length, 1, JSON.stringify(r));
      const x = r[0]!;
      assert.equal(x.NETEVD_REPLAY, "__unset__");
      assert.equal(x.BACKEND, "dhclient");
      assert.equal(x.DHCP_ADDRESS, "10.77.0.50");
      assert.equal(x.DHCP_GATEWAY, "10.77.0.1");
      assert.equal(x.DHCP_DOMAIN, "lab.test");
      assert.equal(x.DHCP_HOSTNAME, "labclient");
      assert.ok(x.event.changed.includes("addresses"), JSON.stringify(x.event.changed));
      await waitFor("resolved has lab0's DNS server", async () => (await resolvedDns()).join() === "10.77.0.1", 5000, 100);
      await waitFor("host name labclient", async () => (await hostname()) === "labclient", 5000, 100);
    } finally {
      await stopDhclient();
      await d.stop();
    }
  });

  test("a renewal with the same data fires nothing; a changed DNS server fires routable.d naming dns", async (t) => {
    const { base, out } = tree();
    const d = start(base, "hooks:\n  replay_on_start: false\n");
    try {
      await d.waitRecord((r) => r.msg === "ready");
      appendFileSync(LEASES, leaseBlock());
      await sleep(1500);
      appendFileSync(LEASES, leaseBlock());
      await sleep(1500);
      assert.equal(routable(out).length, 0, "renewals that only move the expiry fire nothing");
      const written = Date.now();
      appendFileSync(LEASES, leaseBlock({ dns: "10.77.0.1,10.77.0.9" }));
      await waitFor("routable.d for the new DNS server", () => routable(out).length > 0, 5000);
      const r = (await settle(out)).filter((x) => x.dir === "routable.d");
      assert.equal(r.length, 1);
      const x = r[0]!;
      assert.equal(x.DHCP_DNS, "10.77.0.1 10.77.0.9");
      t.diagnostic(`changed: ${JSON.stringify(x.event.changed)}; lease written → script started: ${(x.t / 1e6 - written).toFixed(0)} ms (50 ms debounce included)`);
      assert.deepEqual(x.event.changed, ["dns"]);
      assert.deepEqual(x.event.dns, ["10.77.0.1", "10.77.0.9"]);
      await waitFor("resolved has both servers", async () => (await resolvedDns()).join() === "10.77.0.1,10.77.0.9", 5000, 100);
    } finally {
      await d.stop();
    }
  });

  test("hostile leases: bad values reach neither scripts nor D-Bus, good ones do, each rejection logged once", async (t) => {
    const { base, out } = tree();
    const d = start(base, "hooks:\n  replay_on_start: false\n");
    try {
      await d.waitRecord((r) => r.msg === "ready");
      const dnsBefore = await resolvedDns();
      // binary garbage, then a block with a 1 MB option: rejected, nothing changes
      const garbage = Buffer.from([0, 1, 2, 0xff, 0xfe, 0x7b, 0x0a, 0x89, 0x3b, 0x7d, 0x0a, 0x6c, 0x65, 0x61, 0x73, 0x65, 0x20, 0x7b, 0x00, 0x0a]);
      appendFileSync(LEASES, garbage);
      appendFileSync(LEASES, leaseBlock({ addr: "10.77.0.77", dns: "10.77.0.77", lines: [`  option domain-name "${"a".repeat(1_000_000)}";`] }));
      await sleep(1500);
      assert.equal(routable(out).length, 0, "the 1 MB block was rejected");
      assert.deepEqual(await resolvedDns(), dnsBefore);
      assert.equal(d.child.exitCode, null, "daemon up");

      // a truncated block, then a well-formed block full of hostile values among good ones
      const long = "a".repeat(300);
      appendFileSync(LEASES, `lease {\n  interface "${lab.ifname}";\n  fixed-address 10.77.0.66;\n`);
      appendFileSync(
        LEASES,
        leaseBlock({
          dns: "10.77.0.1,10.77.0.7,999.1.1.1",
          options: [`  option domain-search "lab.test.", "${long}.test.", "good.test.";`, '  option host-name "a;reboot";', '  option domain-name "$(id)";'],
        }),
      );
      await waitFor("routable.d for the good values", () => routable(out).length > 0, 5000);
      const r = (await settle(out)).filter((x) => x.dir === "routable.d");
      assert.equal(r.length, 1, "scripts still run, once");
      const x = r[0]!;
      assert.equal(x.DHCP_ADDRESS, "10.77.0.50", "not the truncated block's address");
      assert.equal(x.DHCP_DNS, "10.77.0.1 10.77.0.7");
      assert.equal(x.DHCP_DOMAIN, "lab.test good.test");
      assert.equal(x.DHCP_HOSTNAME, "__unset__");
      assert.equal(x.DHCP_GATEWAY, "10.77.0.1");
      for (const f of readdirSync(out).filter((n) => n.startsWith("routable.d.") && n.endsWith(".env"))) {
        const env = readFileSync(join(out, f), "utf8");
        for (const bad of ["reboot", "$(id)", "aaaaaaaaaa", "10.77.0.66", "10.77.0.77", "999.1.1.1"]) assert.ok(!env.includes(bad), `${bad} in ${f}`);
      }
      await waitFor("resolved has the good servers only", async () => (await resolvedDns()).join() === "10.77.0.1,10.77.0.7", 5000, 100);
      await waitFor("resolved has the good domains only", async () => (await resolvedDomains()).join() === "lab.test,good.test", 5000, 100);
      assert.equal(await hostname(), "labclient", "the hostile host name was not pushed");
      assert.equal(await staticHostname(), "labclient");

      // another read of the whole file (a renewal): nothing is logged twice, nothing fires
      appendFileSync(
        LEASES,
        leaseBlock({
          dns: "10.77.0.1,10.77.0.7,999.1.1.1",
          options: [`  option domain-search "lab.test.", "${long}.test.", "good.test.";`, '  option host-name "a;reboot";', '  option domain-name "$(id)";'],
        }),
      );
      await sleep(1500);
      assert.equal(routable(out).length, 1);
      assert.equal(d.child.exitCode, null, "daemon up");
      const problems = d.records.filter((rec) => rec.file === LEASES && typeof rec.line === "number" && typeof rec.problem === "string");
      const keys = problems.map((p) => `${p.line}|${p.problem}`);
      t.diagnostic(`rejections logged: ${keys.join(" / ")}`);
      assert.equal(new Set(keys).size, keys.length, `logged once each:\n${keys.join("\n")}`);
      // garbage (2 runs), the 1 MB block, the truncated block, and once (per content, not per block:
      // the renewal repeats them) DNS, domain-search, host-name, domain-name
      assert.equal(keys.length, 4 + 4, `${keys.length} problems:\n${keys.join("\n")}`);
      for (const p of problems) assert.ok(!String(p.problem).includes("reboot") && !String(p.problem).includes("aaaa"), "values never logged");
    } finally {
      await d.stop();
    }
  });

  test("dhclient -r: no routable.d; the kernel's address removal fires address-removed.d", async () => {
    rmSync(LEASES, { force: true });
    await ip("addr", "flush", "dev", lab.ifname);
    const { base, out } = tree();
    const d = start(base, "hooks:\n  replay_on_start: false\n");
    try {
      await d.waitRecord((r) => r.msg === "ready");
      startDhclient();
      await waitFor("routable.d after the bind", () => routable(out).length > 0, 15_000);
      await settle(out);
      const before = runs(out).length;
      await sh(["dhclient", "-r", "-lf", LEASES, "-pf", OUR_PID, lab.ifname]);
      await waitFor(
        "address-removed.d",
        () =>
          runs(out)
            .slice(before)
            .some((r) => r.dir === "address-removed.d"),
        10_000,
      );
      const after = (await settle(out, 1500)).slice(before);
      assert.deepEqual(
        after.filter((r) => r.dir === "routable.d"),
        [],
        "a release fires no routable.d",
      );
      const removed = after.find((r) => r.dir === "address-removed.d")!;
      assert.equal(removed.argv1, "", "argv is [path]: no $1");
      assert.equal((await ip("-4", "-o", "addr", "show", "dev", lab.ifname)).trim(), "");
    } finally {
      await stopDhclient();
      await d.stop();
    }
  });

  test("a lease directory that does not exist yet: watched for, then its leases count", async () => {
    const dir = "/run/netevd-test-leases/sub";
    rmSync("/run/netevd-test-leases", { recursive: true, force: true });
    const { base, out } = tree();
    const d = start(base, "", [`${dir}/*.leases`]);
    try {
      await d.waitRecord((r) => r.msg === "ready");
      mkdirSync(dir, { recursive: true, mode: 0o755 });
      writeFileSync(join(dir, "dhclient.leases"), leaseBlock({ dns: "10.77.0.5" }), { mode: 0o644 });
      await waitFor("routable.d from the new directory", () => routable(out).length > 0, 5000);
      const x = routable(out)[0]!;
      assert.equal(x.DHCP_DNS, "10.77.0.5");
      assert.equal(x.NETEVD_REPLAY, "__unset__");
    } finally {
      await d.stop();
    }
  });
}
