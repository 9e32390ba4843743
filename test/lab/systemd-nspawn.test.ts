// The Debian package on a real host: a Debian 13 container booted by systemd (systemd-nspawn -b),
// `dpkg -i` the .deb that `npm run package` builds, and the unit as administrators run it: enable
// --now, the API for the netevd group, a hook on a carrier change, reload (a rejected config fails
// and the old one stays), journald priorities and fields, a clean stop, the hardening score, purge.
// Then system.backend: auto following a manager that appears, and a taken API port.
import { after, test } from "node:test";
import { rmSync } from "node:fs";
import assert from "node:assert/strict";
import { basename } from "node:path";
import { buildPackage, Container, eventually, haveNspawn, labRootfs } from "./container.js";

const HOOK = `#!/bin/sh
# StateDirectory=netevd is writable for hooks (ProtectSystem=strict makes the rest read-only)
echo "$LINK $STATE $EVENT" >> /var/lib/netevd/carrier.log
`;

let built: ReturnType<typeof buildPackage> | undefined;
const pkgOnce = () => (built ??= buildPackage());
after(async () => {
  const pkg = await built?.catch(() => undefined);
  if (pkg) rmSync(pkg.dir, { recursive: true, force: true });
});

if (process.getuid?.() !== 0) {
  test("systemd-nspawn: the package under systemd", { skip: "needs root" }, () => {});
} else {
  test("systemd-nspawn: the .deb under a real systemd", { timeout: 25 * 60_000 }, async (t) => {
    assert.ok(haveNspawn(), "systemd-nspawn and debootstrap are missing: run scripts/setup-lab.sh");
    const [rootfs, pkg] = await Promise.all([labRootfs(), pkgOnce()]);
    const c = await Container.boot(rootfs, pkg.dir, { keepBinds: true });
    try {
      const deb = `/mnt/host/${basename(pkg.deb)}`;
      await c.ok(["dpkg", "-i", deb], 180_000);
      assert.match(await c.ok(["getent", "passwd", "netevd"]), /^netevd:x:\d+:\d+:.*:\/nonexistent:\/usr\/sbin\/nologin/, "sysusers created the user");
      for (const d of ["carrier.d", "no-carrier.d", "routable.d"]) await c.ok(["test", "-d", `/etc/netevd/${d}`]);
      assert.equal((await c.ct(["systemctl", "is-enabled", "netevd"])).stdout.trim(), "disabled", "installing enables nothing by surprise");
      await c.ok(["sh", "-c", `cat > /etc/netevd/carrier.d/50-log <<'EOF'\n${HOOK}EOF\nchmod 0755 /etc/netevd/carrier.d/50-log`]);

      await c.ok(["systemctl", "enable", "--now", "netevd"], 120_000);
      assert.equal((await c.ct(["systemctl", "is-active", "netevd"])).stdout.trim(), "active");
      // an upgrade (the same package again) restarts a running daemon and keeps it enabled
      const pidBefore = (await c.ok(["systemctl", "show", "netevd", "-p", "MainPID", "--value"])).trim();
      await c.ok(["dpkg", "-i", deb], 180_000);
      assert.equal((await c.ct(["systemctl", "is-enabled", "netevd"])).stdout.trim(), "enabled", "an upgrade keeps the admin's choice");
      await eventually("the restarted daemon active", async () => (await c.ct(["systemctl", "is-active", "netevd"])).stdout.trim() === "active");
      assert.notEqual((await c.ok(["systemctl", "show", "netevd", "-p", "MainPID", "--value"])).trim(), pidBefore, "restarted by the upgrade");
      const status = await c.ok(["systemctl", "show", "netevd", "-p", "StatusText", "--value"]);
      assert.match(status, /kernel ok/, "STATUS= names each source");
      assert.match(status, /absent/, "and says what is degraded");

      // the API over the unix socket for a member of the netevd group, not for others
      await c.ok(["useradd", "-m", "-G", "netevd", "alice"]);
      await c.ok(["useradd", "-m", "bob"]);
      const st = JSON.parse(await c.ok(["runuser", "-u", "alice", "--", "netevd", "status", "--json"])) as { version: string };
      assert.ok(st.version, "status answers");
      assert.notEqual((await c.ct(["runuser", "-u", "bob", "--", "netevd", "status"])).code, 0, "a non-member gets no answer");

      // a hook on a veth carrier change inside the container
      await c.ok(["ip", "link", "add", "v0", "type", "veth", "peer", "name", "v1"]);
      await c.ok(["ip", "link", "set", "v1", "up"]);
      await c.ok(["ip", "link", "set", "v0", "up"]);
      const hookLog = async () => (await c.ct(["cat", "/var/lib/netevd/carrier.log"])).stdout;
      await eventually("the carrier.d hook for v0", async () => (await hookLog()).includes("v0 carrier carrier"));

      // the event is a journal record with searchable fields
      const rec = await eventually("journal record NETEVD_LINK=v0 NETEVD_EVENT=carrier", async () => {
        const out = (await c.ct(["journalctl", "-u", "netevd", "NETEVD_LINK=v0", "NETEVD_EVENT=carrier", "-o", "json", "--no-pager"])).stdout;
        return out
          .split("\n")
          .filter(Boolean)
          .map((l) => JSON.parse(l) as Record<string, string>)[0];
      });
      assert.equal(rec.PRIORITY, "6");

      // reload: a rejected config fails the reload and the old one stays in force
      await c.ok(["cp", "/etc/netevd/netevd.yaml", "/root/good.yaml"]);
      await c.ok(["sh", "-c", "printf 'monitoring:\\n  interfaces: [nomatch]\\nno_such_key: 1\\n' > /etc/netevd/netevd.yaml"]);
      const reload = await c.ct(["systemctl", "reload", "netevd"], 120_000);
      assert.notEqual(reload.code, 0, "systemctl reload fails on a rejected config");
      assert.equal((await c.ct(["systemctl", "is-active", "netevd"])).stdout.trim(), "active");
      assert.match(await c.ok(["systemctl", "show", "netevd", "-p", "StatusText", "--value"]), /rejected/);
      const before = (await hookLog()).split("\n").filter((l) => l.startsWith("v0 carrier")).length;
      await c.ok(["ip", "link", "set", "v1", "down"]);
      await c.ok(["ip", "link", "set", "v1", "up"]);
      // with the rejected config (monitoring only "nomatch") this hook would not run
      await eventually("the hook again under the old config", async () => (await hookLog()).split("\n").filter((l) => l.startsWith("v0 carrier")).length > before);
      await c.ok(["cp", "/root/good.yaml", "/etc/netevd/netevd.yaml"]);
      await c.ok(["systemctl", "reload", "netevd"], 120_000);

      // priorities: -p warning has the missing backend's warning and no info records
      const warnings = await c.ok(["journalctl", "-u", "netevd", "-p", "warning", "-o", "cat", "--no-pager"]);
      assert.match(warnings, /is not running/, "the missing backend's warning");
      assert.doesNotMatch(warnings, /^event /m, "info records are not warnings");

      const security = await c.ok(["systemd-analyze", "security", "netevd.service", "--no-pager"]);
      const score = Number(/Overall exposure level for netevd\.service: ([\d.]+)/.exec(security)?.[1]);
      t.diagnostic(`systemd-analyze security netevd.service: ${score}`);
      assert.ok(score <= 2.0, `exposure ${score} > 2.0:\n${security}`);

      await c.ok(["systemctl", "stop", "netevd"], 120_000);
      const show = await c.ok(["systemctl", "show", "netevd", "-p", "Result", "-p", "ActiveState", "-p", "ExecMainStatus"]);
      assert.match(show, /Result=success/);
      assert.match(show, /ActiveState=inactive/);
      assert.match(show, /ExecMainStatus=0/);

      // remove stops it, purge removes the config and the state
      await c.ok(["systemctl", "start", "netevd"], 120_000);
      await c.ok(["dpkg", "--purge", "netevd"], 180_000);
      assert.equal((await c.ct(["systemctl", "is-active", "netevd"])).stdout.trim() === "active", false, "removal stopped it");
      assert.notEqual((await c.ct(["test", "-e", "/etc/netevd"])).code, 0, "purge removed /etc/netevd");
      assert.notEqual((await c.ct(["test", "-e", "/var/lib/netevd"])).code, 0, "purge removed /var/lib/netevd");
    } catch (err) {
      const j = await c.ct(["journalctl", "-u", "netevd", "-o", "cat", "--no-pager"]).catch(() => ({ stdout: "" }));
      t.diagnostic(`netevd journal:\n${j.stdout.slice(-4000)}`);
      throw err;
    } finally {
      await c.stop();
    }
  });

  test("systemd-nspawn: backend auto follows the manager that appears; a taken API port is not fatal", { timeout: 25 * 60_000 }, async (t) => {
    assert.ok(haveNspawn(), "systemd-nspawn and debootstrap are missing: run scripts/setup-lab.sh");
    const [rootfs, pkg] = await Promise.all([labRootfs(), pkgOnce()]);
    const c = await Container.boot(rootfs, pkg.dir, { keepBinds: true });
    try {
      await c.ok(["dpkg", "-i", `/mnt/host/${basename(pkg.deb)}`], 180_000);
      // something else holds the API port (Prometheus: 9090)
      await c.ok(["systemd-run", "--unit=occupier", "node", "-e", "require('net').createServer().listen(9090, '127.0.0.1')"]);
      await eventually("the occupier listening", async () => (await c.ct(["ss", "-Hltn", "sport = :9090"])).stdout.includes("9090"));
      // fault injection: NetworkManager "installed" (an executable at its path), not running, so
      // that auto picks it and then has to follow systemd-networkd when that one appears
      await c.ok(["sh", "-c", "printf '#!/bin/sh\\nexit 1\\n' > /usr/sbin/NetworkManager && chmod 0755 /usr/sbin/NetworkManager"]);
      await c.ok(["sh", "-c", `cat > /etc/netevd/carrier.d/50-log <<'EOF'\n${HOOK}EOF\nchmod 0755 /etc/netevd/carrier.d/50-log`]);
      await c.ok([
        "sh",
        "-c",
        "printf '#!/bin/sh\\necho \"$LINK $BACKEND\" >> /var/lib/netevd/routable.log\\n' > /etc/netevd/routable.d/50-log && chmod 0755 /etc/netevd/routable.d/50-log",
      ]);

      // the watchdog: with WatchdogSec= the daemon must ping, or systemd kills and restarts it
      await c.ok([
        "sh",
        "-c",
        "mkdir -p /etc/systemd/system/netevd.service.d && printf '[Service]\\nWatchdogSec=4s\\n' > /etc/systemd/system/netevd.service.d/watchdog.conf && systemctl daemon-reload",
      ]);
      await c.ok(["systemctl", "enable", "--now", "netevd"], 120_000);
      assert.equal((await c.ct(["systemctl", "is-active", "netevd"])).stdout.trim(), "active", "a taken port does not stop the daemon");
      const chosen = JSON.parse(
        (await c.ok(["journalctl", "-u", "netevd", "NETEVD_REASON=NetworkManager is installed but not running", "-o", "json", "--no-pager"])).split("\n")[0]!,
      ) as Record<string, string>;
      assert.equal(chosen.NETEVD_BACKEND, "NetworkManager", "auto says which backend and why");

      type Status = {
        backend: string;
        health: { sources: Record<string, { state: string; ok: boolean; detail?: string }> };
        api: { listen: string | null; tcpError: string | null };
      };
      const status = async () => JSON.parse(await c.ok(["netevd", "status", "--json"])) as Status;
      const s1 = await status();
      assert.equal(s1.health.sources.api?.state, "tcp-failed", "status over the unix socket says the TCP listener failed");
      assert.match(s1.health.sources.api?.detail ?? "", /EADDRINUSE/);
      assert.equal(s1.api.listen, null);
      const health = await c.ok([
        "node",
        "-e",
        "require('http').get({ socketPath: '/run/netevd/netevd.sock', path: '/health' }, (r) => { let b = ''; r.on('data', (d) => b += d); r.on('end', () => console.log(r.statusCode, b)); })",
      ]);
      assert.match(health, /^503 .*tcp-failed/, "/health says so too");
      assert.match(await c.ok(["systemctl", "show", "netevd", "-p", "StatusText", "--value"]), /api tcp-failed/);

      // hooks fire meanwhile
      await c.ok(["ip", "link", "add", "v0", "type", "veth", "peer", "name", "v1"]);
      await c.ok(["ip", "link", "set", "v1", "up"]);
      await c.ok(["ip", "link", "set", "v0", "up"]);
      await eventually("the carrier.d hook while the port is taken", async () => (await c.ct(["cat", "/var/lib/netevd/carrier.log"])).stdout.includes("v0 carrier"));

      // systemd-networkd appears: auto follows it, and its events run hooks
      await c.ok(["sh", "-c", "mkdir -p /etc/systemd/network && printf '[Match]\\nName=v0\\n[Network]\\nAddress=192.0.2.1/24\\n' > /etc/systemd/network/50-v0.network"]);
      await c.ok(["systemctl", "start", "systemd-networkd"], 120_000);
      await eventually("the switch to systemd-networkd", async () => {
        const s = await status();
        return s.backend === "systemd-networkd" && s.health.sources["systemd-networkd"]?.ok;
      });
      await eventually("routable.d from systemd-networkd", async () => (await c.ct(["cat", "/var/lib/netevd/routable.log"])).stdout.includes("v0 systemd-networkd"));

      // the port is freed: the retry binds it
      await c.ok(["systemctl", "stop", "occupier"]);
      await eventually(
        "the API on 127.0.0.1:9090",
        async () => (await c.ct(["node", "-e", "fetch('http://127.0.0.1:9090/health').then((r) => console.log(r.status))"])).stdout.trim().match(/^(200|503)$/),
        120_000,
      );
      const s2 = await status();
      assert.equal(s2.api.listen, "127.0.0.1:9090");
      assert.equal(s2.api.tcpError, null);
      assert.equal(s2.health.sources.api, undefined);
      const wd = await c.ok(["systemctl", "show", "netevd", "-p", "NRestarts", "-p", "WatchdogUSec", "-p", "Result"]);
      assert.match(wd, /WatchdogUSec=4s/);
      assert.match(wd, /NRestarts=0/, "the watchdog was fed all along (the test ran for more than one period)");
      await c.ok(["systemctl", "stop", "netevd"], 120_000);
      assert.match(await c.ok(["systemctl", "show", "netevd", "-p", "Result"]), /Result=success/);
    } catch (err) {
      const j = await c.ct(["journalctl", "-u", "netevd", "-o", "cat", "--no-pager"]).catch(() => ({ stdout: "" }));
      t.diagnostic(`netevd journal:\n${j.stdout.slice(-4000)}`);
      throw err;
    } finally {
      await c.stop();
    }
  });
}
