// Timestamps as text, from UTC fields only. V8's Date.prototype.toISOString (and toUTCString,
// JSON.stringify of a Date) looks up the host's local time zone and its display name through ICU on
// first use, although an ISO/UTC string needs neither: that pulls about 0.9 MB of ICU data pages into
// a daemon's RSS for good (measured: node -e with toISOString vs getUTCHours).

const pad2 = (n: number): string => (n < 10 ? "0" : "") + n;
const pad3 = (n: number): string => (n < 10 ? "00" : n < 100 ? "0" : "") + n;

/** The same text as new Date(ms).toISOString() for years 0–9999, e.g. 2026-11-30T16:04:05.123Z. */
export function isoTime(ms: number = Date.now()): string {
  const d = new Date(ms);
  const y = d.getUTCFullYear();
  if (!Number.isFinite(y) || y < 0 || y > 9999) return d.toISOString(); // throws RangeError for an invalid date, as toISOString does
  // join(), not a template literal: the text is kept (events, hook results), and a template of 13
  // pieces would be kept as a rope of cons strings, about 10 times the flat string's size
  return [
    String(y).padStart(4, "0"),
    "-",
    pad2(d.getUTCMonth() + 1),
    "-",
    pad2(d.getUTCDate()),
    "T",
    pad2(d.getUTCHours()),
    ":",
    pad2(d.getUTCMinutes()),
    ":",
    pad2(d.getUTCSeconds()),
    ".",
    pad3(d.getUTCMilliseconds()),
    "Z",
  ].join("");
}

const DAYS = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

/** An HTTP Date header (RFC 9110 IMF-fixdate), the same text as new Date(ms).toUTCString(). */
export function httpDate(ms: number = Date.now()): string {
  const d = new Date(ms);
  return `${DAYS[d.getUTCDay()]}, ${pad2(d.getUTCDate())} ${MONTHS[d.getUTCMonth()]} ${d.getUTCFullYear()} ${pad2(d.getUTCHours())}:${pad2(d.getUTCMinutes())}:${pad2(d.getUTCSeconds())} GMT`;
}

/**
 * Milliseconds on the monotonic clock (arbitrary origin: for differences only), like
 * performance.now(). The global `performance` is a lazy getter that loads perf_hooks (its observers
 * and histograms, about 0.3 MB of RSS) on first touch; process.hrtime is always loaded.
 */
export function monotonicMs(): number {
  return Number(process.hrtime.bigint()) / 1e6;
}
