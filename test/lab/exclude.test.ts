// monitoring.exclude: a container host's veth churn stays out of everything. 100 veth pairs created
// and deleted while the daemon runs: no hook runs, no event, no fact logged for them; a link that is
// not excluded, created afterwards, is seen (the daemon was listening all along).
import { test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { DaemonProcess, hookTree, ip, labFile, readJsonLines, sh, waitFor, writeConfig } from "./lab.js";

const DIRS = ["link-added.d", "link-removed.d", "carrier.d", "no-carrier.d", "address-added.d", "address-removed.d", "mtu.d", "routes.d"];
const recorder = (dir: string) => `#!/bin/sh\nprintf '{"dir":"%s","link":"%s"}\\n' "${dir}" "$LINK" >> $OUT/runs.jsonl\n`;

if (labFile(import.meta.url, { timeoutMs: 240_000 })) {
  test("a daemon with monitoring.exclude: [veth*] stays silent through 100 veth pairs created and deleted", async () => {
    const { base, out } = hookTree(Object.fromEntries(DIRS.map((d) => [d, { "50-rec": recorder(d) }])));
    const d = DaemonProcess.start([
      "run",
      "-c",
      writeConfig(`system:\n  backend: none\n  scripts_dir: ${base}\nmonitoring:\n  exclude: ["veth*"]\nhooks:\n  replay_on_start: false\n`),
    ]);
    try {
      await d.waitRecord((r) => r.msg === "ready", 10_000);
      const from = d.records.length;
      // one `ip -batch` per phase: 100 pairs up with an address each, then all deleted
      const batch = (lines: string[]) => sh(["sh", "-c", `printf '%s\\n' ${lines.map((l) => `'${l}'`).join(" ")} | ip -batch -`]);
      const n = 100;
      await batch(Array.from({ length: n }, (_, i) => `link add vethA${i} type veth peer name vethB${i}`));
      await batch(Array.from({ length: n }, (_, i) => `link set vethA${i} up`).concat(Array.from({ length: n }, (_, i) => `link set vethB${i} up`)));
      await batch(Array.from({ length: n }, (_, i) => `addr add 10.99.${i}.1/24 dev vethA${i}`));
      await waitFor("all veth up", async () => (await ip("-o", "link", "show", "up")).split("\n").filter((l) => /^\d+: vethA\d+@/.test(l)).length === n, 20_000);
      await batch(Array.from({ length: n }, (_, i) => `link del vethA${i}`));
      await waitFor("all veth gone", async () => !(await ip("-o", "link", "show")).includes("veth"), 20_000);
      // the control: a link that is not excluded is seen, hook and all
      await ip("link", "add", "ctl0", "type", "veth", "peer", "name", "ctl1");
      await waitFor("link-added.d for ctl0", () => readJsonLines<{ dir: string; link: string }>(join(out, "runs.jsonl")).some((r) => r.link === "ctl0"), 10_000);
      await ip("link", "del", "ctl0");

      const runs = readJsonLines<{ dir: string; link: string }>(join(out, "runs.jsonl"));
      assert.deepEqual(
        runs.filter((r) => r.link.startsWith("veth")),
        [],
        "no hook ran for a veth",
      );
      const recs = d.records.slice(from);
      const aboutVeth = recs.filter((r) => /veth/.test(String(r.link ?? "")) || /veth/.test(String(r.name ?? "")));
      assert.deepEqual(
        aboutVeth.map((r) => r.msg),
        [],
        "no event or fact about a veth",
      );
      assert.ok(
        recs.some((r) => r.msg === "event" && r.link === "ctl0"),
        "the control link's event was logged",
      );
      // nor in the history the API serves
      const events = JSON.parse(await sh([join(process.cwd(), "bin/netevd"), "events", "--json", "--limit", "1000"])) as Array<{ link: string | null }>;
      assert.deepEqual(
        events.filter((e) => (e.link ?? "").startsWith("veth")),
        [],
      );
      assert.ok(events.some((e) => e.link === "ctl0"));
    } finally {
      await d.stop();
    }
  });
}
