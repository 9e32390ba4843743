// The Debian package on a real host: a Debian 13 container booted by systemd (systemd-nspawn -b),
// `dpkg -i` the .deb that `npm run package` builds, and the unit as administrators run it: enable
// --now, the API for the netevd group, a hook on a carrier change, reload (a rejected config fails
// and the old one stays), journald priorities and fields, a clean stop, the hardening score, purge.
import { test } from "node:test";
import assert from "node:assert/strict";
import { basename } from "node:path";
import { buildPackage, Container, eventually, haveNspawn, labRootfs } from "./container.js";

const HOOK = `#!/bin/sh
# StateDirectory=netevd is writable for hooks (ProtectSystem=strict makes the rest read-only)
echo "$LINK $STATE $EVENT" >> /var/lib/netevd/carrier.log
`;

if (process.getuid?.() !== 0) {
  test("systemd-nspawn: the package under systemd", { skip: "needs root" }, () => {});
} else {
  test("systemd-nspawn: the .deb under a real systemd", { timeout: 25 * 60_000 }, async (t) => {
    assert.ok(haveNspawn(), "systemd-nspawn and debootstrap are missing: run scripts/setup-lab.sh");
    const [rootfs, pkg] = await Promise.all([labRootfs(), buildPackage()]);
    const c = await Container.boot(rootfs, pkg.dir);
    try {
      const deb = `/mnt/host/${basename(pkg.deb)}`;
      await c.ok(["dpkg", "-i", deb], 180_000);
      assert.match(await c.ok(["getent", "passwd", "netevd"]), /^netevd:x:\d+:\d+:.*:\/nonexistent:\/usr\/sbin\/nologin/, "sysusers created the user");
      for (const d of ["carrier.d", "no-carrier.d", "routable.d"]) await c.ok(["test", "-d", `/etc/netevd/${d}`]);
      assert.equal((await c.ct(["systemctl", "is-enabled", "netevd"])).stdout.trim(), "disabled", "installing enables nothing by surprise");
      await c.ok(["sh", "-c", `cat > /etc/netevd/carrier.d/50-log <<'EOF'\n${HOOK}EOF\nchmod 0755 /etc/netevd/carrier.d/50-log`]);

      await c.ok(["systemctl", "enable", "--now", "netevd"], 120_000);
      assert.equal((await c.ct(["systemctl", "is-active", "netevd"])).stdout.trim(), "active");
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
        return out.split("\n").filter(Boolean).map((l) => JSON.parse(l) as Record<string, string>)[0];
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
}
