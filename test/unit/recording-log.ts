// A Logger for unit tests that keeps every record, so a test can assert what was logged and at which level.
import type { Logger } from "../../src/log.js";

export interface LogLine {
  level: string;
  msg: string;
  fields: Record<string, unknown> | undefined;
}

/** `debug: false` makes the logger report debug as disabled, as a daemon at level info does. */
export function recordingLog(debug = true): { log: Logger; lines: LogLine[] } {
  const lines: LogLine[] = [];
  const at = (level: string) => (msg: string, fields?: Record<string, unknown>) => {
    lines.push({ level, msg, fields });
  };
  const log: Logger = {
    trace: at("trace"),
    debug: at("debug"),
    info: at("info"),
    warn: at("warn"),
    error: at("error"),
    child: () => log,
    setLevel() {},
    enabled: (l) => debug || l !== "debug",
  };
  return { log, lines };
}
