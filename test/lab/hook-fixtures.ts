// Helpers shared by the hook runner and launcher lab tests: a recording hook logger and /proc probes.
import * as fs from "node:fs";
import { waitFor } from "./lab.js";
import type { HookLogger } from "../../src/actions/hooks/index.js";

export interface Rec {
  level: string;
  msg: string;
  fields: Record<string, unknown>;
}

/** A HookLogger that keeps every record. */
export function logger(): HookLogger & { recs: Rec[] } {
  const recs: Rec[] = [];
  const at = (level: string) => (msg: string, fields: Record<string, unknown>) => {
    recs.push({ level, msg, fields });
  };
  return { recs, info: at("info"), warn: at("warn"), error: at("error"), debug: at("debug") };
}

/** Is the process gone (absent or a zombie)? */
export function gone(pid: number): boolean {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) === "Z";
  } catch {
    return true;
  }
}

/** The pid a script wrote to file `f`, once it is there. */
export const readPid = (f: string): Promise<number> =>
  waitFor(
    `pid in ${f}`,
    () => {
      try {
        return Number(fs.readFileSync(f, "utf8").trim()) || 0;
      } catch {
        return 0;
      }
    },
    3000,
  );
