// DNS pushes for a link that systemd-networkd manages: resolved refuses them (LinkBusy), so they go
// through networkd's own SetLinkDNS/SetLinkDomains. Real networkd, resolved and polkitd; the daemon
// runs as the netevd user, allowed by the shipped polkit rule.
import { test } from "node:test";
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { DaemonProcess, dhcpTime, ip, lab, labFile, sh, tempDir, waitFor, writeConfig } from "./lab.js";
import { linkPath as networkdLinkPath } from "../../src/sources/networkd.js";

if (labFile(import.meta.url, { backend: "networkd", resolved: true, polkit: true })) {
  test("a lease for a networkd-managed link: resolved says LinkBusy, the DNS data goes through networkd", async () => {
    const index = JSON.parse(await ip("-j", "link", "show", lab.ifname))[0].ifindex as number;
    const linkPath = `/org/freedesktop/resolve1/link/_3${index}`;
    const resolvedDns = async () => {
      const j = JSON.parse(await sh(["busctl", "--json=short", "get-property", "org.freedesktop.resolve1", linkPath, "org.freedesktop.resolve1.Link", "DNS"]));
      return (j.data as Array<[number, number[]]>).map(([, b]) => b.join("."));
    };
    const resolvedDomains = async () => {
      const j = JSON.parse(await sh(["busctl", "--json=short", "get-property", "org.freedesktop.resolve1", linkPath, "org.freedesktop.resolve1.Link", "Domains"]));
      return (j.data as Array<[string, boolean]>).map(([d]) => d);
    };
    // resolved really refuses this link (else the test would not exercise the fallback)
    await assert.rejects(
      sh([
        "busctl",
        "call",
        "org.freedesktop.resolve1",
        "/org/freedesktop/resolve1",
        "org.freedesktop.resolve1.Manager",
        "SetLinkDNS",
        "ia(iay)",
        String(index),
        "1",
        "2",
        "4",
        "10",
        "77",
        "0",
        "99",
      ]),
      (err: Error) => {
        process.stdout.write(`# resolved: ${err.message}\n`);
        return /managed|busy/i.test(err.message);
      },
      "resolved refuses SetLinkDNS for a networkd link",
    );

    const dir = tempDir("netevd-leases-");
    const t = (s: number) => dhcpTime(new Date(Date.now() + s * 1000));
    writeFileSync(
      join(dir, "dhclient.lab0.leases"),
      [
        "lease {",
        `  interface "${lab.ifname}";`,
        "  fixed-address 10.77.0.50;",
        "  option subnet-mask 255.255.255.0;",
        "  option routers 10.77.0.1;",
        "  option domain-name-servers 10.77.0.53;",
        '  option domain-name "corp.test";',
        `  renew ${t(1800)};`,
        `  rebind ${t(3000)};`,
        `  expire ${t(3600)};`,
        "}",
        "",
      ].join("\n"),
    );
    const d = DaemonProcess.start([
      "run",
      "-c",
      writeConfig(
        `system:\n  backend: dhclient\nmonitoring:\n  interfaces: [${lab.ifname}]\n` +
          `backends:\n  dhclient:\n    use_dns: true\n    use_domain: true\n    lease_files: ["${dir}/*.leases"]\n`,
      ),
    ]);
    try {
      await waitFor("resolved has the lease's server (set through networkd)", async () => (await resolvedDns()).includes("10.77.0.53"), 10_000, 100);
      await waitFor("resolved has the lease's domain (set through networkd)", async () => (await resolvedDomains()).includes("corp.test"), 10_000, 100);
      // networkd holds the setting as its own link DNS: its Describe shows it
      const describe = JSON.parse(
        JSON.parse(await sh(["busctl", "--json=short", "call", "org.freedesktop.network1", networkdLinkPath(index), "org.freedesktop.network1.Link", "Describe"])).data[0],
      );
      assert.match(JSON.stringify(describe.DNS ?? describe.DNSSettings ?? describe), /10,77,0,53|10\.77\.0\.53/);
      assert.equal(d.child.exitCode, null);
    } finally {
      await d.stop();
    }
  });
}
