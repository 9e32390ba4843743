// hostname.d: a host name change made through the real systemd-hostnamed (bus-activated in the lab)
// fires it, with the new name; with no network backend at all.
import { test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { DaemonProcess, hookTree, labFile, readJsonLines, sh, waitFor, writeConfig } from "./lab.js";

const recorder = `#!/bin/sh
printf '{"HOSTNAME":"%s","STATIC_HOSTNAME":"%s","EVENT":"%s","BACKEND":"%s","LINK":"%s","ev":%s}\\n' "$HOSTNAME" "$STATIC_HOSTNAME" "$EVENT" "$BACKEND" "\${LINK-__unset__}" "$NETEVD_EVENT" >> $OUT/runs.jsonl
`;

if (labFile(import.meta.url)) {
  test("a host name change through hostnamed fires hostname.d with the new name", async () => {
    const { base, out } = hookTree({ "hostname.d": { "50-rec": recorder } });
    const d = DaemonProcess.start(["run", "-c", writeConfig(`system:\n  backend: none\n  scripts_dir: ${base}\n`)]);
    try {
      await d.waitRecord((r) => r.msg === "ready", 10_000);
      const name = `labhost-${process.pid}`;
      // SetStaticHostname(name, interactive=false): hostnamed sets the static and (no transient one) the kernel name
      await sh(["busctl", "--system", "call", "org.freedesktop.hostname1", "/org/freedesktop/hostname1", "org.freedesktop.hostname1", "SetStaticHostname", "sb", name, "false"]);
      await waitFor("hostname.d ran", () => readJsonLines(join(out, "runs.jsonl")).length > 0, 10_000);
      const run = readJsonLines<Record<string, string> & { ev: { source: string; link: string | null } }>(join(out, "runs.jsonl")).at(-1)!;
      assert.equal(run.HOSTNAME, name);
      assert.equal(run.STATIC_HOSTNAME, name);
      assert.equal(run.EVENT, "hostname");
      assert.equal(run.BACKEND, "kernel", "the running backend (none)");
      assert.equal(run.ev.source, "hostnamed");
      assert.equal(run.ev.link, null);
      assert.equal(run.LINK, "__unset__");
      // a second change fires again; setting the same name again fires nothing
      const name2 = `${name}-b`;
      await sh(["busctl", "--system", "call", "org.freedesktop.hostname1", "/org/freedesktop/hostname1", "org.freedesktop.hostname1", "SetStaticHostname", "sb", name2, "false"]);
      await waitFor("hostname.d ran again", () => readJsonLines(join(out, "runs.jsonl")).length > 1, 10_000);
      assert.equal(readJsonLines<Record<string, string>>(join(out, "runs.jsonl"))[1]!.HOSTNAME, name2);
    } finally {
      await d.stop();
    }
  });
}
