// The package version (package.json at the repository/installation root): `netevd --version`,
// the start-up log line, /api/v1/status and the netevd_build_info metric.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { packageRoot } from "./package-root.js";

let cached: string | undefined;

export function packageVersion(): string {
  if (cached !== undefined) return cached;
  try {
    const root = packageRoot();
    cached = root ? (JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as { version: string }).version : "unknown";
  } catch {
    cached = "unknown";
  }
  return cached;
}
