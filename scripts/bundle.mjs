// The program a service manager runs: the compiled tree (dist/src, from tsc) bundled with its runtime
// dependencies into three CommonJS files, minified:
//   dist/netevd.cjs       everything but the two chunks below; bin/netevd loads it
//   dist/netevd-dbus.cjs  src/dbus/bus.ts with dbus-next, loaded on first use (src/dbus/connect.ts):
//                         a daemon whose backend and actions need no bus never loads it
//   dist/netevd-yaml.cjs  the YAML parser, loaded for each read of a config and let go of after
//                         (src/config/yaml.ts)
//   dist/THIRD-PARTY-LICENSES  the licenses of the dependencies bundled in them
// Why (measured in an idle daemon, backend none, API on; bench/idle.ts): 105 ES modules plus the
// dependencies' files cost RSS as module records and source text, and the ES module loader itself
// loads about 25 more of node's builtins. Bundled and minified: 52.7 → 50.5 MB; as CommonJS, another
// −1.4 MB; spawn → ready 270–370 → 170–230 ms. Unit tests import dist/src (readable stack traces);
// lab tests run bin/netevd, so they run this bundle (test/lab/lab.ts rebuilds it when it is stale).
// Usage: node scripts/bundle.mjs [--dist DIR]   (default: dist; reads DIR/src, writes into DIR)
import { build } from "esbuild";
import { existsSync, readdirSync, readFileSync, renameSync, unlinkSync, writeFileSync } from "node:fs";
import { dirname, join, resolve, sep } from "node:path";
import { fileURLToPath } from "node:url";
import { createRequire } from "node:module";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const distIdx = process.argv.indexOf("--dist");
const dist = resolve(distIdx > 0 ? process.argv[distIdx + 1] : join(root, "dist"));
const busModule = join(dist, "src/dbus/bus.js");
const DBUS_CHUNK = "./netevd-dbus.cjs";
const YAML_CHUNK = "netevd-yaml.cjs";

/** The D-Bus wrapper stays out of the main bundle: its import() becomes a require() of the chunk. */
const dbusApart = {
  name: "dbus-apart",
  setup(b) {
    b.onResolve({ filter: /bus\.js$/ }, (a) => (resolve(a.resolveDir, a.path) === busModule ? { path: DBUS_CHUNK, external: true } : undefined));
  },
};

/**
 * dbus-next's handshake module requires node:crypto as it loads, for the DBUS_COOKIE_SHA1 mechanism
 * alone (netevd authenticates with EXTERNAL: the bus reads its uid from the socket), and node:crypto
 * then stays loaded (about 1 MB of RSS, measured). Its `require("crypto")` gets a stand-in that
 * loads node:crypto on the first use of any of its properties.
 */
const LAZY_CRYPTO = "netevd-lazy-crypto";
const lazyCryptoInHandshake = {
  name: "lazy-crypto-in-handshake",
  setup(b) {
    const handshake = `${sep}node_modules${sep}dbus-next${sep}lib${sep}handshake.js`;
    b.onResolve({ filter: /^crypto$/ }, (a) => (a.importer.endsWith(handshake) ? { path: "crypto", namespace: LAZY_CRYPTO } : undefined));
    b.onLoad({ filter: /.*/, namespace: LAZY_CRYPTO }, () => ({
      contents: 'let c;module.exports=new Proxy({},{get:(_,k)=>(c??=require("node:crypto"))[k]});',
      loader: "js",
    }));
  },
};

const common = {
  absWorkingDir: root,
  // dependencies come from this tree's node_modules, also for a --dist outside it (scripts/package.sh)
  nodePaths: [join(root, "node_modules")],
  bundle: true,
  platform: "node",
  format: "cjs",
  target: "node20",
  minify: true,
  // import.meta.url of every bundled module is the bundle's own file: the package root is found from it
  define: { "import.meta.url": "__netevd_bundle_url" },
  banner: { js: "const __netevd_bundle_url=require('node:url').pathToFileURL(__filename).href;" },
  // dbus-next's optional requires for transports netevd does not use (X11 session bus, usocket)
  external: ["x11", "usocket"],
  // import() of the D-Bus chunk as require(): import() would load the ES module loader (+1.4 MB)
  supported: { "dynamic-import": false },
  legalComments: "none",
  logLevel: "warning",
  metafile: true,
};

const packages = new Set();

/** Builds one bundle; `allowed(file)` (absolute path) says which inputs it may contain. */
async function bundle(entry, outName, plugins, allowed, define = {}) {
  // written beside and renamed: a daemon starting meanwhile reads the old or the new file, never half
  const tmp = join(dist, `.${outName}.${process.pid}.tmp`);
  const { metafile } = await build({ ...common, entryPoints: [entry], outfile: tmp, plugins, define: { ...common.define, ...define } });
  const inputs = Object.keys(metafile.inputs).map((f) => resolve(root, f));
  const wrong = inputs.filter((f) => !allowed(f));
  if (wrong.length) {
    unlinkSync(tmp);
    throw new Error(`bundle ${outName} must not contain ${wrong.join(", ")}`);
  }
  renameSync(tmp, join(dist, outName));
  for (const f of inputs) {
    const m = /^(.*\/node_modules\/(?:@[^/]+\/)?[^/]+)\//.exec(f);
    if (m) packages.add(m[1]);
  }
}

const inPackage = (name) => (f) => f.includes(`${sep}node_modules${sep}${name}${sep}`);
// the chunks hold bus.ts and dependencies only: a netevd module bundled in two would be two instances;
// yaml is required from its chunk by src/config/yaml.ts, which lets go of it after each read
await bundle(join(dist, "src/cli/main.js"), "netevd.cjs", [dbusApart], (f) => !inPackage("dbus-next")(f) && !inPackage("yaml")(f) && f !== busModule, {
  __NETEVD_YAML_CHUNK__: JSON.stringify(`./${YAML_CHUNK}`),
});
await bundle(createRequire(join(root, "package.json")).resolve("yaml"), YAML_CHUNK, [], inPackage("yaml"));
// WebAssembly undefined there: dbus-next's `long` instantiates a small wasm module for 64-bit
// multiplication when loaded (it falls back to plain JS when that throws), and V8 then schedules
// delayed wasm tasks 5, 20, 60 and 120 s later: wake-ups of an idle daemon (found with gdb).
await bundle(busModule, "netevd-dbus.cjs", [lazyCryptoInHandshake], (f) => f === busModule || f.includes(`${sep}node_modules${sep}`) || f.endsWith(`${LAZY_CRYPTO}:crypto`), {
  WebAssembly: "undefined",
});

// what a binary package must carry for the code bundled into it
const notices = [...packages].sort().map((dir) => {
  const pkg = JSON.parse(readFileSync(join(dir, "package.json"), "utf8"));
  const file = readdirSync(dir).find((f) => /^licen[cs]e/i.test(f));
  const text = file && existsSync(join(dir, file)) ? readFileSync(join(dir, file), "utf8").trim() : `License: ${pkg.license ?? "see the package"}`;
  return `${pkg.name} ${pkg.version} (${pkg.license ?? "?"})\n\n${text}\n`;
});
writeFileSync(
  join(dist, "THIRD-PARTY-LICENSES"),
  `Code from these packages is bundled into netevd.cjs, netevd-dbus.cjs and netevd-yaml.cjs:\n\n${notices.join(`\n${"-".repeat(72)}\n\n`)}`,
);
