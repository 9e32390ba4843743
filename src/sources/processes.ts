// Which other programs run on this host: read from /proc, for startup warnings only (e.g. two
// dispatchers running the same scripts). Bounded: one readdir and one small read per process.
import { readdirSync, readFileSync } from "node:fs";

/** PIDs of the processes whose argv[0] or argv[1] (an interpreter's script) is the program `name`. */
export function processesNamed(name: string, proc = "/proc"): number[] {
  const out: number[] = [];
  let entries: string[];
  try {
    entries = readdirSync(proc);
  } catch {
    return out;
  }
  for (const e of entries) {
    if (!/^[0-9]+$/.test(e) || Number(e) === process.pid) continue;
    let argv: string[];
    try {
      argv = readFileSync(`${proc}/${e}/cmdline`, "latin1").slice(0, 4096).split("\0").slice(0, 2);
    } catch {
      continue;
    }
    if (argv.some((a) => a === name || a.endsWith(`/${name}`))) out.push(Number(e));
  }
  return out;
}
