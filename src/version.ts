// The package version (package.json at the repository/installation root): `netevd --version`,
// the start-up log line, /api/v1/status and the netevd_build_info metric.
import { readFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";

let cached: string | undefined;

export function packageVersion(): string {
  if (cached !== undefined) return cached;
  try {
    // this file compiles to dist/src/version.js
    const root = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
    cached = (JSON.parse(readFileSync(resolve(root, "package.json"), "utf8")) as { version: string }).version;
  } catch {
    cached = "unknown";
  }
  return cached;
}
