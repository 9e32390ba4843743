// The API's event queries: the selection parameters of /events and the event stream (since, limit,
// link, event) validated into values, events picked from the history by them, hook results joined
// to their events, and the body of POST /trigger. Pure, so all of it is unit-tested.
import { hookDirName } from "../hook-dirs.js";
import type { HookRunResult, NetevdEvent } from "../events/types.js";
import { validIfname } from "../net/validate.js";
import { badParam, HttpError, queryParams } from "./http.js";

export const MAX_LIMIT = 1_000_000;

export interface EventSelection {
  /** an event id of this run, or an RFC 3339 time */
  since?: string;
  limit?: number;
  link?: string;
  event?: string;
  includeHooks: boolean;
}

const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;
const EVENT_ID = /^[0-9a-z]{1,16}-\d{1,15}$/;

export function parseLimit(v: string): number {
  if (!/^\d{1,7}$/.test(v) || Number(v) < 1 || Number(v) > MAX_LIMIT) throw badParam(`limit must be an integer 1..${MAX_LIMIT}, got ${JSON.stringify(v)}`);
  return Number(v);
}

/** `since`, `limit`, `link`, `event` (and for /events, `include=hooks`) from a query string. */
export function parseEventSelection(search: URLSearchParams, opts: { include: boolean }): EventSelection {
  const q = queryParams(search, opts.include ? ["since", "limit", "link", "event", "include"] : ["since", "limit", "link", "event"]);
  const sel: EventSelection = { includeHooks: false };
  const since = q.get("since");
  if (since !== undefined) {
    if (!EVENT_ID.test(since) && !(RFC3339.test(since) && Number.isFinite(Date.parse(since)))) {
      throw badParam(`since must be an event id (e.g. "${"lq3x9k2a"}-42") or an RFC 3339 time, got ${JSON.stringify(since)}`);
    }
    sel.since = since;
  }
  const limit = q.get("limit");
  if (limit !== undefined) sel.limit = parseLimit(limit);
  const link = q.get("link");
  if (link !== undefined) {
    if (!validIfname(link, true)) throw badParam(`link must be an interface name, got ${JSON.stringify(link)}`);
    sel.link = link;
  }
  const event = q.get("event");
  if (event !== undefined) {
    if (!hookDirName(event)) throw badParam(`unknown event ${JSON.stringify(event)}`);
    sel.event = event;
  }
  const include = q.get("include");
  if (include !== undefined) {
    if (include !== "hooks") throw badParam(`include accepts only "hooks", got ${JSON.stringify(include)}`);
    sel.includeHooks = true;
  }
  return sel;
}

/** "<run prefix>-<counter>" → [prefix, counter], or undefined. */
export function splitEventId(id: string): [string, number] | undefined {
  const i = id.lastIndexOf("-");
  if (i <= 0) return undefined;
  const n = Number(id.slice(i + 1));
  return Number.isSafeInteger(n) ? [id.slice(0, i), n] : undefined;
}

/**
 * The events after `afterId` (oldest first). An id of another run (the daemon restarted since the
 * client saw it) or of nothing we know selects the whole history: nothing still kept is missed.
 */
export function eventsAfter(events: readonly NetevdEvent[], afterId: string): NetevdEvent[] {
  const after = splitEventId(afterId);
  const first = events[0] && splitEventId(events[0].id);
  if (!after || !first || after[0] !== first[0]) return [...events];
  return events.filter((e) => (splitEventId(e.id)?.[1] ?? 0) > after[1]);
}

/** Apply a selection to the history (oldest first); the newest `limit` events are kept. */
export function selectEvents(events: readonly NetevdEvent[], sel: Omit<EventSelection, "includeHooks">): NetevdEvent[] {
  let items: NetevdEvent[];
  if (sel.since === undefined) items = [...events];
  else if (EVENT_ID.test(sel.since)) items = eventsAfter(events, sel.since);
  else {
    const t = Date.parse(sel.since);
    items = events.filter((e) => Date.parse(e.ts) > t);
  }
  if (sel.link !== undefined) items = items.filter((e) => e.link === sel.link);
  if (sel.event !== undefined) items = items.filter((e) => e.event === sel.event);
  if (sel.limit !== undefined && items.length > sel.limit) items = items.slice(-sel.limit);
  return items;
}

/** Whether an event passes a stream's link/event filter. */
export const matchesFilter = (e: { link: string | null; event: string }, f: { link?: string; event?: string }): boolean =>
  (f.link === undefined || e.link === f.link) && (f.event === undefined || e.event === f.event);

/** Events with the hook runs they caused (results still in the hook ring). */
export function withHooks(events: NetevdEvent[], hooks: readonly HookRunResult[]): Array<NetevdEvent & { hooks: HookRunResult[] }> {
  const byEvent = new Map<string, HookRunResult[]>();
  const wanted = new Set(events.map((e) => e.id));
  for (const h of hooks) {
    if (!wanted.has(h.eventId)) continue;
    let list = byEvent.get(h.eventId);
    if (!list) byEvent.set(h.eventId, (list = []));
    list.push(h);
  }
  return events.map((e) => ({ ...e, hooks: byEvent.get(e.id) ?? [] }));
}

export interface TriggerRequest { link: string; event: string }

/** The body of POST /api/v1/trigger: exactly {"link": IFNAME, "event": EVENT}. */
export function parseTriggerBody(body: unknown): TriggerRequest {
  if (typeof body !== "object" || body === null || Array.isArray(body)) {
    throw new HttpError(400, "invalid_body", 'body must be a JSON object {"link": "<interface>", "event": "<event>"}');
  }
  const o = body as Record<string, unknown>;
  const extra = Object.keys(o).filter((k) => k !== "link" && k !== "event");
  if (extra.length) throw new HttpError(400, "invalid_body", `unknown field(s) ${extra.map((k) => JSON.stringify(k)).join(", ")}; expected "link" and "event"`);
  if (typeof o.link !== "string" || !validIfname(o.link, true)) throw new HttpError(400, "invalid_body", `"link" must be an interface name`);
  if (typeof o.event !== "string" || !hookDirName(o.event)) throw new HttpError(400, "invalid_body", `"event" must be a known event (a hook directory name without ".d")`);
  return { link: o.link, event: o.event };
}
