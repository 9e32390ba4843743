#!/usr/bin/env node
// Import check for src/: no import cycles, and every import points down the layer order
//   leaf libraries (netlink, dbus, net, config, log, metrics, ...) → state → sources → events
//   → actions → api → daemon → cli
// Parses static imports (`import`, `import type`), re-exports (`export … from`), side-effect imports
// and dynamic `import()` of relative specifiers. No dependencies: a regex pass over each file with
// comments removed is enough for this tree's import syntax. Exit status 1 with the offending edges.
import { readdirSync, readFileSync, statSync, existsSync } from "node:fs";
import { join, dirname, resolve, relative, sep } from "node:path";
import { fileURLToPath } from "node:url";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const srcDir = process.argv[2] ? resolve(process.argv[2]) : join(root, "src");

/** Bottom to top; a file may import only from its own layer or a lower one. First match wins. */
const LAYERS = [
  // the libraries in directories, and every top-level file but daemon.ts (log, metrics, hook-dirs, ...)
  ["leaf", /^(netlink|dbus|net|config)\/|^(?!daemon\.ts$)[^/]+\.ts$/],
  ["state", /^state\//],
  ["sources", /^sources\//],
  ["events", /^events\//],
  ["actions", /^actions\//],
  ["api", /^api\//],
  ["daemon", /^daemon\.ts$/],
  ["cli", /^cli\//],
];

function layerOf(file) {
  const i = LAYERS.findIndex(([, re]) => re.test(file));
  return i < 0 ? undefined : i;
}

function walk(dir) {
  const out = [];
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...walk(p));
    else if (name.endsWith(".ts") && !name.endsWith(".d.ts")) out.push(p);
  }
  return out;
}

/** Removes comments, keeps string and template literals (a "/*" inside a glob string is no comment). */
function stripComments(text) {
  let out = "";
  for (let i = 0; i < text.length;) {
    const c = text[i];
    const n = text[i + 1];
    if (c === "/" && n === "/") {
      while (i < text.length && text[i] !== "\n") i++;
    } else if (c === "/" && n === "*") {
      const end = text.indexOf("*/", i + 2);
      i = end < 0 ? text.length : end + 2;
      out += " ";
    } else if (c === '"' || c === "'" || c === "`") {
      let j = i + 1;
      while (j < text.length && text[j] !== c && !(c !== "`" && text[j] === "\n")) j += text[j] === "\\" ? 2 : 1;
      out += text.slice(i, j + 1);
      i = j + 1;
    } else if (c === "/" && /[(,=:[!&|?{};]\s*$/.test(out.slice(-20))) {
      // a regex literal: copy it through its closing slash so its quotes do not open a string
      let j = i + 1;
      let cls = false;
      while (j < text.length && text[j] !== "\n" && (cls || text[j] !== "/")) {
        if (text[j] === "\\") j++;
        else if (text[j] === "[") cls = true;
        else if (text[j] === "]") cls = false;
        j++;
      }
      out += text.slice(i, j + 1);
      i = j + 1;
    } else {
      out += c;
      i++;
    }
  }
  return out;
}

const IMPORT_RES = [
  // import x from "…", import type { a } from "…", export { a } from "…", export * from "…"
  /(?:^|[;\n}])\s*(?:import|export)\s+(?:type\s+)?[\w$*{},\s]*?\bfrom\s*["']([^"']+)["']/g,
  // import "…" (side effects)
  /(?:^|[;\n}])\s*import\s*["']([^"']+)["']/g,
  // import("…")
  /\bimport\s*\(\s*["']([^"']+)["']\s*\)/g,
];

const unresolved = [];

function importsOf(file) {
  const text = stripComments(readFileSync(file, "utf8"));
  const specs = new Set();
  for (const re of IMPORT_RES) for (const m of text.matchAll(re)) specs.add(m[1]);
  const out = [];
  for (const spec of specs) {
    if (!spec.startsWith(".")) continue;
    const base = resolve(dirname(file), spec);
    const candidates = [base.replace(/\.js$/, ".ts"), base + ".ts", join(base, "index.ts")];
    const target = candidates.find((p) => existsSync(p) && statSync(p).isFile());
    if (target) out.push(target);
    else unresolved.push(`${relative(srcDir, file)}: cannot resolve import "${spec}"`);
  }
  return out;
}

const files = walk(srcDir);
const rel = (p) => relative(srcDir, p).split(sep).join("/");
const graph = new Map(
  files.map((f) => [
    rel(f),
    importsOf(f)
      .map(rel)
      .filter((t) => t.endsWith(".ts")),
  ]),
);
const problems = [...unresolved];

for (const [from, tos] of graph) {
  const lf = layerOf(from);
  if (lf === undefined) problems.push(`${from}: in no layer (add it to LAYERS in scripts/check-imports.mjs)`);
  for (const to of tos) {
    const lt = layerOf(to);
    if (lf !== undefined && lt !== undefined && lt > lf) {
      problems.push(`upward import: ${from} (${LAYERS[lf][0]}) -> ${to} (${LAYERS[lt][0]})`);
    }
  }
}

// cycles: Tarjan's strongly connected components; each component of more than one file (or a file
// importing itself) is a cycle, printed with one concrete loop through it
let counter = 0;
const index = new Map();
const low = new Map();
const stack = [];
const onStack = new Set();
const components = [];
function strong(v) {
  index.set(v, counter);
  low.set(v, counter++);
  stack.push(v);
  onStack.add(v);
  for (const w of graph.get(v) ?? []) {
    if (!index.has(w)) {
      strong(w);
      low.set(v, Math.min(low.get(v), low.get(w)));
    } else if (onStack.has(w)) low.set(v, Math.min(low.get(v), index.get(w)));
  }
  if (low.get(v) === index.get(v)) {
    const comp = [];
    let w;
    do {
      w = stack.pop();
      onStack.delete(w);
      comp.push(w);
    } while (w !== v);
    if (comp.length > 1 || (graph.get(v) ?? []).includes(v)) components.push(comp);
  }
}
for (const v of graph.keys()) if (!index.has(v)) strong(v);

for (const comp of components) {
  const inComp = new Set(comp);
  const start = comp.slice().sort()[0];
  // shortest loop from start back to start inside the component
  const prev = new Map();
  const queue = [start];
  let found = false;
  while (queue.length && !found) {
    const v = queue.shift();
    for (const w of graph.get(v) ?? []) {
      if (!inComp.has(w)) continue;
      if (w === start) {
        prev.set("$end", v);
        found = true;
        break;
      }
      if (!prev.has(w)) {
        prev.set(w, v);
        queue.push(w);
      }
    }
  }
  const loop = [start];
  for (let v = prev.get("$end"); v !== start && v !== undefined; v = prev.get(v)) loop.splice(1, 0, v);
  loop.push(start);
  problems.push(`cycle: ${loop.join(" -> ")}${comp.length > loop.length - 1 ? `  (component of ${comp.length} files: ${comp.sort().join(", ")})` : ""}`);
}

if (problems.length) {
  console.error(`check-imports: ${problems.length} problem(s) in ${relative(root, srcDir) || "."}`);
  for (const p of problems) console.error("  " + p);
  process.exit(1);
}
console.log(`check-imports: ${graph.size} files, ${[...graph.values()].reduce((n, t) => n + t.length, 0)} imports, no cycles, layers point down`);
