// Logging straight to systemd-journald with its native protocol (systemd.journal-fields(7)): one
// datagram per record on /run/systemd/journal/socket, with PRIORITY= (so `journalctl -p warning`
// works) and every record field as a searchable journal field, NETEVD_<KEY> (`journalctl
// NETEVD_LINK=eth0`, NETEVD_EVENT=carrier...). Why not "<N>" prefixes on stdout: they carry the
// priority but no fields; a log shipper would have to parse JSON out of MESSAGE.
// Used only when stdout IS the journal ($JOURNAL_STREAM names stdout's device:inode), so a
// redirected stdout or a terminal keeps the line formats of log.ts.
import { fstatSync } from "node:fs";

export const JOURNAL_SOCKET = "/run/systemd/journal/socket";

export type JournalLevel = "trace" | "debug" | "info" | "warn" | "error";

/** syslog priorities (sd-daemon.h): err 3, warning 4, info 6, debug 7 */
export const PRIORITY: Record<JournalLevel, number> = { trace: 7, debug: 7, info: 6, warn: 4, error: 3 };

/** A field value is cut beyond this (a hook's output line, a big error) */
const MAX_VALUE_CHARS = 8192;
/** at most this many NETEVD_* fields per record */
const MAX_FIELDS = 64;

/** Whether fd 1 is the journal stream systemd gave us ($JOURNAL_STREAM = "<dev>:<ino>" of stdout). */
export function stdoutIsJournal(env: NodeJS.ProcessEnv = process.env, fd = 1): boolean {
  const js = env.JOURNAL_STREAM;
  if (!js) return false;
  const m = /^(\d+):(\d+)$/.exec(js);
  if (!m) return false;
  try {
    const st = fstatSync(fd, { bigint: true });
    return st.dev === BigInt(m[1]!) && st.ino === BigInt(m[2]!);
  } catch {
    return false;
  }
}

/** NETEVD_LINK from "link", NETEVD_CAP_EFF from "capEff": journal field names are [A-Z0-9_], ≤ 64. */
export function fieldName(key: string): string | null {
  const name =
    "NETEVD_" +
    key
      .replace(/([a-z0-9])([A-Z])/g, "$1_$2")
      .toUpperCase()
      .replace(/[^A-Z0-9_]/g, "_");
  return name.length <= 64 ? name : null;
}

function fieldValue(v: unknown): string {
  let s: string;
  if (typeof v === "string") s = v;
  else if (v instanceof Error) s = v.message;
  else if (typeof v === "bigint") s = v.toString();
  else s = JSON.stringify(v, (_k, x: unknown) => (typeof x === "bigint" ? x.toString() : x instanceof Error ? x.message : x)) ?? String(v);
  // the simple "KEY=value\n" form: a newline would end the field (the binary form is not worth it
  // for log records), and the journal shows other control characters as-is
  // eslint-disable-next-line no-control-regex -- matching control characters is the point
  s = s.replace(/\n/g, "\\n").replace(/[\u0000\r]/g, "?");
  return s.length > MAX_VALUE_CHARS ? s.slice(0, MAX_VALUE_CHARS) + "…" : s;
}

/**
 * The datagram for one record: MESSAGE (the message and its fields as key=value, as a person reads
 * it in `journalctl`), PRIORITY, SYSLOG_IDENTIFIER, and NETEVD_<KEY> per field.
 */
export function journalDatagram(level: JournalLevel, msg: string, fields: Record<string, unknown>, text: string, identifier = "netevd"): string {
  const lines = [`MESSAGE=${fieldValue(text || msg)}`, `PRIORITY=${PRIORITY[level]}`, `SYSLOG_IDENTIFIER=${identifier}`, `NETEVD_LEVEL=${level}`];
  let n = 0;
  for (const [k, v] of Object.entries(fields)) {
    if (v === undefined || k === "ts" || k === "level" || k === "msg") continue;
    const name = fieldName(k);
    if (!name || name === "NETEVD_LEVEL") continue;
    if (++n > MAX_FIELDS) break;
    lines.push(`${name}=${fieldValue(v)}`);
  }
  return lines.join("\n") + "\n";
}
