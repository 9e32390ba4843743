// Vendor and admin hook directories (system.scripts_dirs), merged by file name: a vendor script
// runs, an admin script of the same name replaces it, an admin symlink to /dev/null masks it, and
// `netevd list scripts` says so.
import { test } from "node:test";
import assert from "node:assert/strict";
import { chmodSync, mkdirSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { DaemonProcess, ip, ipSrv, lab, labFile, readJsonLines, repoRoot, sh, tempDir, waitFor, writeConfig } from "./lab.js";

const recorder = (out: string, tag: string) => `#!/bin/sh
printf '{"tag":"%s","iface":"%s","argc":"%s"}\\n' "${tag}" "$LINK" "$#" >> ${out}/runs.jsonl
`;

if (labFile(import.meta.url)) {
  test("a vendor script runs; an /etc script of the same name replaces it; a /dev/null link masks it", async () => {
    const root = tempDir("netevd-vendor-");
    const out = join(root, "out");
    mkdirSync(out);
    chmodSync(out, 0o1777);
    const etc = join(root, "etc");
    const usr = join(root, "usr");
    for (const d of [etc, usr]) mkdirSync(join(d, "carrier.d"), { recursive: true, mode: 0o755 });
    const put = (dir: string, name: string, tag: string) => writeFileSync(join(dir, "carrier.d", name), recorder(out, tag), { mode: 0o755 });
    put(usr, "10-vendor", "vendor:10-vendor");
    put(usr, "20-replaced", "vendor:20-replaced");
    put(usr, "30-masked", "vendor:30-masked");
    put(etc, "20-replaced", "admin:20-replaced");
    symlinkSync("/dev/null", join(etc, "carrier.d", "30-masked"));
    put(etc, "40-admin", "admin:40-admin");

    await ip("link", "set", lab.ifname, "up");
    await ipSrv("link", "set", lab.peer, "up");
    await waitFor("lab0 carrier", async () => (await ip("-o", "link", "show", lab.ifname)).includes("LOWER_UP"), 5000);

    const cfg = writeConfig(`system:\n  backend: none\n  scripts_dirs: [${etc}, ${usr}]\nmonitoring:\n  interfaces: [${lab.ifname}]\n`);
    const d = DaemonProcess.start(["run", "-c", cfg]);
    try {
      await d.waitRecord((r) => r.msg === "ready", 10_000);
      // the startup replay runs carrier.d for lab0 once
      await waitFor("three carrier.d runs", () => readJsonLines(join(out, "runs.jsonl")).length >= 3, 10_000);
      await ipSrv("link", "set", lab.peer, "down");
      await ipSrv("link", "set", lab.peer, "up");
      await waitFor("six carrier.d runs", () => readJsonLines(join(out, "runs.jsonl")).length >= 6, 10_000);
      const runs = readJsonLines<{ tag: string; iface: string }>(join(out, "runs.jsonl"));
      const expected = ["vendor:10-vendor", "admin:20-replaced", "admin:40-admin"];
      assert.deepEqual(
        runs.map((r) => r.tag),
        [...expected, ...expected],
      );
      assert.ok(runs.every((r) => r.iface === lab.ifname));

      // `netevd list scripts --json`: where each comes from, what it overrides and masks
      const view = JSON.parse(await sh([join(repoRoot, "bin/netevd"), "list", "scripts", "--json"])) as {
        scriptsDirs: string[];
        dirs: Array<{ event: string; scripts: Array<{ name: string; origin: string; overrides?: string[] }>; masked: Array<{ name: string; origin: string; masks: string[] }> }>;
      };
      assert.deepEqual(view.scriptsDirs, [etc, usr]);
      const carrier = view.dirs.find((x) => x.event === "carrier");
      assert.ok(carrier);
      assert.deepEqual(
        carrier.scripts.map((s) => [s.name, s.origin, s.overrides ?? []]),
        [
          ["10-vendor", usr, []],
          ["20-replaced", etc, [join(usr, "carrier.d", "20-replaced")]],
          ["40-admin", etc, []],
        ],
      );
      assert.deepEqual(carrier.masked, [{ name: "30-masked", path: join(etc, "carrier.d", "30-masked"), origin: etc, masks: [join(usr, "carrier.d", "30-masked")] }]);
      const table = await sh([join(repoRoot, "bin/netevd"), "list", "scripts"]);
      assert.match(table, /30-masked .*masked \(-> \/dev\/null\)/);
      // a mask is not a broken script: no "hook skipped" warning for it
      assert.equal(d.records.filter((r) => r.msg === "hook skipped" && String(r.script) === "30-masked").length, 0);
    } finally {
      await d.stop();
    }
  });
}
