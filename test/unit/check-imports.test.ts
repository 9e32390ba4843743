// scripts/check-imports.mjs (run by npm test) on small trees: it must fail on a cycle and on an
// import that points up the layers, whatever the import's form, and pass a clean tree.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const script = resolve(dirname(fileURLToPath(import.meta.url)), "../../../scripts/check-imports.mjs");

function check(files: Record<string, string>): { status: number | null; out: string } {
  const dir = mkdtempSync(join(tmpdir(), "netevd-imports-"));
  try {
    for (const [path, text] of Object.entries(files)) {
      mkdirSync(dirname(join(dir, path)), { recursive: true });
      writeFileSync(join(dir, path), text);
    }
    const r = spawnSync(process.execPath, [script, dir], { encoding: "utf8" });
    return { status: r.status, out: r.stdout + r.stderr };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const clean = {
  "netlink/types.ts": "export type X = number;\n",
  "state/model.ts": 'import type { X } from "../netlink/types.js";\nexport const m: X = 1;\n',
  "sources/kernel.ts": 'import { m } from "../state/model.js";\nexport const k = m;\n',
  "events/derive.ts": 'export { k } from "../sources/kernel.js";\n',
  "daemon.ts": 'import "./events/derive.js";\nconst glob = "/etc/*.d"; // import("./cli/main.js") in a comment is no import\nexport { glob };\n',
  "cli/main.ts": 'await import("../daemon.js");\n',
};

test("a tree whose imports point down passes", () => {
  const r = check(clean);
  assert.equal(r.status, 0, r.out);
  assert.match(r.out, /6 files, 5 imports, no cycles/);
});

test("an upward import fails with its edge, in each import form", () => {
  const forms = [
    'import { k } from "../sources/kernel.js";\nexport const n = k;\n',
    'import type { k } from "../sources/kernel.js";\nexport type N = typeof k;\n',
    'export {\n  k,\n} from "../sources/kernel.js";\n',
    'export const load = () => import("../sources/kernel.js");\n',
  ];
  for (const text of forms) {
    const r = check({ ...clean, "state/model.ts": text });
    assert.equal(r.status, 1, text);
    assert.match(r.out, /upward import: state\/model\.ts \(state\) -> sources\/kernel\.ts \(sources\)/, text);
  }
});

test("a cycle fails with the loop", () => {
  const r = check({
    ...clean,
    "config/glob.ts": 'import type { C } from "./schema.js";\nexport type G = C;\n',
    "config/schema.ts": 'import type { G } from "./glob.js";\nexport type C = G | 1;\n',
  });
  assert.equal(r.status, 1);
  assert.match(r.out, /cycle: config\/glob\.ts -> config\/schema\.ts -> config\/glob\.ts/);
});

test("a file in no layer and an import that resolves nowhere fail", () => {
  const r = check({ ...clean, "misc/x.ts": "export {};\n", "cli/main.ts": 'import "../nowhere.js";\n' });
  assert.equal(r.status, 1);
  assert.match(r.out, /misc\/x\.ts: in no layer/);
  assert.match(r.out, /cannot resolve import "\.\.\/nowhere\.js"/);
});
