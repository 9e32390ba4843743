// `netevd events --since TIME`: what people type, turned into what the API takes (an event id or an
// RFC 3339 time). Pure; `now` is passed in.
const EVENT_ID = /^[0-9a-z]{1,16}-\d{1,15}$/;
const UNITS: Readonly<Record<string, number>> = { s: 1, sec: 1, m: 60, min: 60, h: 3600, d: 86400, w: 604800 };

/** The API's `since` value for TIME, or an error message. Local times are the host's time zone. */
export function parseSince(text: string, now: Date): { since: string } | { error: string } {
  const t = text.trim();
  if (EVENT_ID.test(t)) return { since: t };
  const rel = /^(\d{1,9})\s*(s|sec|m|min|h|d|w)(?:\s+ago)?$/i.exec(t);
  if (rel) return { since: new Date(now.getTime() - Number(rel[1]) * UNITS[rel[2]!.toLowerCase()]! * 1000).toISOString() };
  // a time of day today (local)
  const tod = /^(\d{1,2}):(\d{2})(?::(\d{2}))?$/.exec(t);
  if (tod) {
    const [h, m, s] = [Number(tod[1]), Number(tod[2]), Number(tod[3] ?? 0)];
    if (h > 23 || m > 59 || s > 59) return { error: `not a time of day: ${JSON.stringify(text)}` };
    const d = new Date(now);
    d.setHours(h, m, s, 0);
    return { since: d.toISOString() };
  }
  // a date, or date and time, local unless it says otherwise (RFC 3339 with Z or an offset)
  const dt = /^(\d{4})-(\d{2})-(\d{2})(?:[ T](\d{2}):(\d{2})(?::(\d{2})(\.\d+)?)?)?(Z|[+-]\d{2}:\d{2})?$/.exec(t);
  if (dt) {
    const [y, mo, da, h = "0", mi = "0", se = "0", frac = "", zone] = dt.slice(1);
    let ms: number;
    if (zone) {
      ms = Date.parse(`${y}-${mo}-${da}T${h.padStart(2, "0")}:${mi}:${se.padStart(2, "0")}${frac}${zone}`);
    } else {
      const d = new Date(Number(y), Number(mo) - 1, Number(da), Number(h), Number(mi), Number(se), frac ? Math.round(Number(frac) * 1000) : 0);
      // Date rolls 2025-02-31 over into March: refuse instead
      ms = d.getFullYear() === Number(y) && d.getMonth() === Number(mo) - 1 && d.getDate() === Number(da) ? d.getTime() : NaN;
    }
    if (Number.isFinite(ms)) return { since: new Date(ms).toISOString() };
  }
  return { error: `--since: not a time: ${JSON.stringify(text)} (e.g. 10m, 2h, 14:05, 2025-06-01 14:05, an RFC 3339 time or an event id)` };
}

const pad = (n: number, w = 2) => String(n).padStart(w, "0");

/** An event's RFC 3339 UTC time as people read it: local "YYYY-MM-DD HH:MM:SS.mmm" (or UTC with a Z). */
export function displayTime(iso: string, utc = false): string {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  if (utc) return iso;
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${pad(d.getMilliseconds(), 3)}`;
}
