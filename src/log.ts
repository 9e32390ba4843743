// Structured logging: one record per line. JSON lines when stdout is not a TTY (files, tests),
// aligned text for people on a TTY. Every record carries its fields, not just a message. When
// stdout is journald's stream (format auto), records go to the journal natively, with their
// priority and fields (src/journal.ts).
import { isoTime } from "./time.js";
import { JOURNAL_SOCKET, journalDatagram, PRIORITY, stdoutIsJournal } from "./journal.js";
import { sendDatagram } from "./netlink/native.js";

export type Level = "trace" | "debug" | "info" | "warn" | "error";
const rank: Record<Level, number> = { trace: 10, debug: 20, info: 30, warn: 40, error: 50 };

export type Fields = Record<string, unknown>;

export interface Logger {
  trace(msg: string, fields?: Fields): void;
  debug(msg: string, fields?: Fields): void;
  info(msg: string, fields?: Fields): void;
  warn(msg: string, fields?: Fields): void;
  error(msg: string, fields?: Fields): void;
  child(fields: Fields): Logger;
  setLevel(level: Level): void;
  enabled(level: Level): boolean;
}

export interface LogSink {
  /** false: the record was not taken (the sink is backed up) and is counted as dropped */
  write(line: string): boolean | void;
  /** called once when a sink that refused records takes them again */
  onResume?(cb: () => void): void;
}

/** The bytes a stream sink may hold unwritten before records are dropped. */
export const LOG_BACKLOG_BYTES = 256 * 1024;

/** Records dropped because the log sink was backed up, since the start (for the metric). */
export const logStats = { dropped: 0 };

/**
 * A sink on a stream (stdout) that never queues without bound: a pipe whose reader is slow
 * (journald under load, a stuck `| less`) makes node buffer every write in memory. Beyond
 * `maxBacklog` unwritten bytes, records are refused (and counted) until the stream drains. A
 * stream that fails (EPIPE: the reader went away) refuses everything from then on.
 */
export function streamSink(stream: NodeJS.WritableStream & { writableLength: number }, maxBacklog = LOG_BACKLOG_BYTES): LogSink {
  let broken = false;
  let waiting: Array<() => void> = [];
  let drainArmed = false;
  stream.on("error", () => {
    broken = true;
  });
  return {
    write(line) {
      if (broken) return false;
      if (stream.writableLength > maxBacklog) {
        if (!drainArmed) {
          drainArmed = true;
          stream.once("drain", () => {
            drainArmed = false;
            for (const cb of waiting.splice(0)) cb();
          });
        }
        return false;
      }
      stream.write(line);
      return true;
    },
    onResume(cb) {
      waiting.push(cb);
      if (waiting.length > 16) waiting = waiting.slice(-16);
    },
  };
}

/** Sends one record to the journal; false when it could not (the record then goes to stdout). */
export type JournalSend = (level: Level, rec: Fields, text: string) => boolean;

export function createLogger(opts: { level: Level; format: "auto" | "text" | "json"; sink?: LogSink; isTTY?: boolean; journal?: JournalSend }): Logger {
  const sink = opts.sink ?? streamSink(process.stdout);
  const json = opts.format === "json" || (opts.format === "auto" && !(opts.isTTY ?? process.stdout.isTTY));
  const journal = opts.journal ?? (opts.format === "auto" && !opts.sink && stdoutIsJournal() ? nativeJournal : undefined);
  const state = { min: rank[opts.level], dropped: 0 };
  // under journald, stdout's "<N>" prefix carries the record's priority
  const write = (rec: Fields, level: Level): boolean => sink.write(journal ? `<${PRIORITY[level]}>${safeJson(rec)}\n` : json ? safeJson(rec) + "\n" : textLine(rec)) !== false;
  const make = (bound: Fields): Logger => {
    const emit = (level: Level, msg: string, fields?: Fields) => {
      if (rank[level] < state.min) return;
      const rec: Fields = { ts: isoTime(), level, msg, ...bound, ...fields };
      if (journal?.(level, rec, textBody(rec))) return;
      if (write(rec, level)) return;
      logStats.dropped++;
      if (state.dropped++ > 0) return;
      // the first drop of a run: say how many were lost once the sink takes records again
      sink.onResume?.(() => {
        const dropped = state.dropped;
        state.dropped = 0;
        write({ ts: isoTime(), level: "warn", msg: "log records dropped: the log sink was too slow", dropped, droppedTotal: logStats.dropped }, "warn");
      });
    };
    return {
      trace: (m, f) => emit("trace", m, f),
      debug: (m, f) => emit("debug", m, f),
      info: (m, f) => emit("info", m, f),
      warn: (m, f) => emit("warn", m, f),
      error: (m, f) => emit("error", m, f),
      child: (f) => make({ ...bound, ...f }),
      setLevel: (l) => {
        state.min = rank[l];
      },
      enabled: (l) => rank[l] >= state.min,
    };
  };
  return make({});
}

/**
 * The `.catch` of a promise that nobody awaits (fire and forget): the rejection is logged, with its
 * stack, instead of becoming an unhandled rejection, which would end the daemon.
 */
export function logRejection(log: Pick<Logger, "error">, msg: string, fields?: Fields): (err: unknown) => void {
  return (err) => log.error(msg, { ...fields, err: err instanceof Error ? err.message : String(err), stack: err instanceof Error ? err.stack : undefined });
}

function nativeJournal(level: Level, rec: Fields, text: string): boolean {
  try {
    return sendDatagram(JOURNAL_SOCKET, journalDatagram(level, String(rec.msg), rec, text));
  } catch {
    return false; // no journal socket, or the record is too big for one datagram
  }
}

function safeJson(rec: Fields): string {
  return JSON.stringify(rec, (_k, v: unknown) => {
    if (typeof v === "bigint") return v.toString();
    if (v instanceof Error) return { name: v.name, message: v.message, code: (v as NodeJS.ErrnoException).code };
    return v;
  });
}

// Control characters from outside (a hook's output, a lease) must not forge log lines on a TTY.
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const ctl = /[\u0000-\u001f\u007f]/g;
function textValue(v: unknown): string {
  if (typeof v === "string") return /[\s"=]/.test(v) || v === "" ? JSON.stringify(v) : v.replace(ctl, "?");
  if (v instanceof Error) return JSON.stringify(v.message);
  return safeJson(v as Fields) ?? String(v);
}

/** "msg  key=value ...": the text line without time and level (the journal's MESSAGE) */
function textBody(rec: Fields): string {
  const { ts: _ts, level: _level, msg, ...rest } = rec;
  const kv = Object.entries(rest)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => `${k}=${textValue(v)}`)
    .join(" ");
  return `${String(msg).replace(ctl, "?")}${kv ? "  " + kv : ""}`;
}

function textLine(rec: Fields): string {
  return `${String(rec.ts).slice(11, 23)} ${String(rec.level).toUpperCase().padEnd(5)} ${textBody(rec)}\n`;
}
