// Issue 15 row 7 (second half): a lease file's problems are logged once per content. dhclient appends
// a block on every renewal and rewrites the file on restart, so the same bad option moves to other
// lines; it used to be logged again each time (problems were keyed by line).
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DhclientSource } from "../../src/sources/dhclient.js";
import { createLogger } from "../../src/log.js";
import { defaultConfig, type Config } from "../../src/config/index.js";
import type { BackendSink } from "../../src/sources/backend.js";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test("the same over-long option, moved by appended blocks and by a rewrite, is logged once", async () => {
  const dir = mkdtempSync(join(tmpdir(), "netevd-leases-"));
  const file = join(dir, "dhclient.lab0.leases");
  const long = Array.from({ length: 400 }, (_, i) => `"d${i}.example.test."`).join(", ");
  const block = (addr: string) => `lease {\n  interface "lab0";\n  fixed-address ${addr};\n  option domain-search ${long};\n  expire never;\n}\n`;
  writeFileSync(file, block("10.77.0.50"));
  const records: Array<Record<string, unknown>> = [];
  const log = createLogger({
    level: "debug",
    format: "json",
    sink: {
      write: (l) => {
        records.push(JSON.parse(l) as Record<string, unknown>);
      },
    },
  });
  const base = defaultConfig() as unknown as { backends: Record<string, Record<string, unknown>> };
  const config = { ...base, backends: { ...base.backends, dhclient: { ...base.backends.dhclient, lease_files: [join(dir, "*.leases")] } } } as unknown as Config;
  const sink: BackendSink = { linkState: () => {}, linkGone: () => {}, managerState: () => {}, attached: () => {}, unavailable: () => {} };
  const src = new DhclientSource(
    log,
    sink,
    () => config,
    () => 2,
  );
  src.start();
  try {
    const problems = () => records.filter((r) => r.msg === "lease file problem");
    for (let i = 0; i < 50 && problems().length === 0; i++) await sleep(20);
    assert.equal(problems().length, 1, "logged at first");
    writeFileSync(file, block("10.77.0.50") + block("10.77.0.51")); // renewal: appended
    await sleep(300);
    writeFileSync(file, `default-duid "\\000\\001";\n` + block("10.77.0.52")); // restart: rewritten, lines shifted
    await sleep(300);
    assert.equal(problems().length, 1, `logged once per content: ${JSON.stringify(problems().map((p) => p.line))}`);
    assert.match(String(problems()[0]!.problem), /option domain-search: line longer than 4096 bytes; dropped/);
  } finally {
    src.stop();
  }
});
