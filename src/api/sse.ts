// The live event stream (GET /api/v1/events/stream): Server-Sent Events carrying the event contract,
// one `id:` per event so a client can resume with Last-Event-ID. The history subscription and the
// 15 s heartbeat exist only while a client is connected: no timers at idle.
//
// Memory per client is bounded: the replay (Last-Event-ID, ?limit) is written frame by frame as
// the socket drains, never all at once, and at most MAX_REPLAY_BYTES of it per connection (then
// the stream ends with a comment and the client resumes with its Last-Event-ID); live events that
// arrive meanwhile queue behind it as references. Streams are capped in number, per client and
// in total, separately from the connection caps, so that streams cannot take every slot.
import type { ServerResponse } from "node:http";
import type { History } from "../events/history.js";
import type { HookRunResult } from "../events/types.js";
import type { NetevdEvent } from "../events/types.js";
import { HttpError } from "./http.js";
import { matchesFilter } from "./query.js";

export const HEARTBEAT_MS = 15_000;
/** a client this far behind is dropped (it can resume with Last-Event-ID) rather than buffered without bound */
export const MAX_BACKLOG_BYTES = 1 << 20;
/** replay bytes one connection gets; the client resumes with Last-Event-ID for the rest */
export const MAX_REPLAY_BYTES = 1 << 20;
/** events queued behind a replay still being written; beyond, the client is dropped (it resumes) */
export const MAX_QUEUED_EVENTS = 100_000;
export const MAX_STREAMS = 64;
/** replay bytes written per client in one turn of the event loop */
const PUMP_SLICE_BYTES = 64 * 1024;
export const MAX_STREAMS_PER_CLIENT = 8;

/** One SSE message for an event. */
export function sseFrame(e: NetevdEvent, json: string = JSON.stringify(e)): string {
  return `id: ${e.id}\ndata: ${json}\n\n`;
}

interface StreamClient {
  res: ServerResponse;
  client: string;
  link?: string;
  event?: string;
  /** events still to write (replay, then live events that came meanwhile), from `next` on */
  queue: NetevdEvent[];
  next: number;
  replayBytes: number;
  /** a pump is scheduled for the next turn of the loop */
  scheduled: boolean;
  /** also hook results, as `event: hook` messages without an id (include=hooks; the page uses it) */
  hooks?: boolean;
}

/** One SSE message for a hook result: a named event, no id (resuming is by event id only). */
export function sseHookFrame(r: HookRunResult): string {
  return `event: hook\ndata: ${JSON.stringify(r)}\n\n`;
}

export class EventStreams {
  private readonly clients = new Set<StreamClient>();
  private readonly perClient = new Map<string, number>();
  private heartbeat: NodeJS.Timeout | undefined;
  private unsubscribe: (() => void) | undefined;
  private unsubscribeHooks: (() => void) | undefined;

  constructor(
    private readonly history: History,
    private readonly heartbeatMs = HEARTBEAT_MS,
    private readonly limits = { total: MAX_STREAMS, perClient: MAX_STREAMS_PER_CLIENT, replayBytes: MAX_REPLAY_BYTES },
  ) {}

  get size(): number {
    return this.clients.size;
  }

  /**
   * Start streaming to `res`: `replay` (already selected from the history) first, then live events.
   * The caller selects `replay` in the same tick, so nothing falls between the two. Throws an
   * HttpError (nothing written yet) when the stream caps are reached.
   */
  open(res: ServerResponse, filter: { link?: string; event?: string; hooks?: boolean }, replay: readonly NetevdEvent[], client = "?"): void {
    if (this.clients.size >= this.limits.total) {
      throw new HttpError(503, "too_many_streams", `the event stream serves at most ${this.limits.total} clients; try again later`, { "retry-after": "5" });
    }
    if ((this.perClient.get(client) ?? 0) >= this.limits.perClient) {
      throw new HttpError(429, "too_many_streams", `at most ${this.limits.perClient} event streams per client`, { "retry-after": "5" });
    }
    res.writeHead(200, {
      "content-type": "text/event-stream; charset=utf-8",
      "cache-control": "no-store",
      connection: "keep-alive",
      "x-accel-buffering": "no",
    });
    res.write(": netevd event stream (netevd.event.v1)\nretry: 1000\n\n");
    const c: StreamClient = { res, client, ...filter, queue: [...replay], next: 0, replayBytes: 0, scheduled: false };
    this.clients.add(c);
    this.perClient.set(client, (this.perClient.get(client) ?? 0) + 1);
    res.socket?.setNoDelay(true);
    res.socket?.setTimeout(0); // quiet streams are normal; the heartbeat finds dead peers
    res.on("close", () => this.drop(c));
    res.on("drain", () => this.pump(c));
    this.unsubscribe ??= this.history.subscribe((e) => this.publish(e));
    if (filter.hooks) this.unsubscribeHooks ??= this.history.subscribeHooks((r) => this.publishHook(r));
    this.heartbeat ??= setInterval(() => this.beat(), this.heartbeatMs);
    this.pump(c);
  }

  /** End every stream (daemon stopping). */
  close(): void {
    for (const c of [...this.clients]) {
      c.res.end();
      this.drop(c);
    }
  }

  /**
   * Write queued events until the socket pushes back (the rest follows on "drain") or a slice of
   * PUMP_SLICE_BYTES is written (the rest follows on the next turn of the loop: a loopback
   * socket takes megabytes without pushing back, and 60 replays at once must not stall /health).
   */
  private pump(c: StreamClient): void {
    if (c.scheduled) return;
    let slice = 0;
    while (c.next < c.queue.length && this.clients.has(c)) {
      const frame = sseFrame(c.queue[c.next++]!);
      c.replayBytes += frame.length;
      slice += frame.length;
      const more = c.res.write(frame);
      if (c.replayBytes > this.limits.replayBytes && c.next < c.queue.length) {
        c.res.end(`: replay limit of ${this.limits.replayBytes} bytes reached; reconnect with Last-Event-ID to continue\n\n`);
        this.drop(c);
        return;
      }
      if (!more) return;
      if (slice >= PUMP_SLICE_BYTES && c.next < c.queue.length) {
        c.scheduled = true;
        setImmediate(() => { c.scheduled = false; this.pump(c); });
        return;
      }
    }
    if (c.next >= c.queue.length && c.queue.length) {
      c.queue = [];
      c.next = 0;
    }
  }

  private publish(e: NetevdEvent): void {
    let frame: string | undefined;
    for (const c of this.clients) {
      if (!matchesFilter(e, c)) continue;
      if (c.next < c.queue.length) {
        // still replaying: in order, behind the replay
        c.queue.push(e);
        if (c.queue.length - c.next > MAX_QUEUED_EVENTS) this.kill(c);
        continue;
      }
      frame ??= sseFrame(e);
      this.write(c, frame);
    }
  }

  /** Hook results are live notices: a client still replaying skips them (its history has them). */
  private publishHook(r: HookRunResult): void {
    let frame: string | undefined;
    for (const c of this.clients) {
      if (!c.hooks || !matchesFilter(r, c) || c.next < c.queue.length) continue;
      frame ??= sseHookFrame(r);
      this.write(c, frame);
    }
  }

  private beat(): void {
    for (const c of this.clients) this.write(c, ": heartbeat\n\n");
  }

  private write(c: StreamClient, chunk: string): void {
    if (c.res.writableLength > MAX_BACKLOG_BYTES) {
      this.kill(c);
      return;
    }
    c.res.write(chunk);
  }

  private kill(c: StreamClient): void {
    c.res.destroy();
    this.drop(c);
  }

  private drop(c: StreamClient): void {
    if (!this.clients.delete(c)) return;
    const n = (this.perClient.get(c.client) ?? 1) - 1;
    if (n > 0) this.perClient.set(c.client, n);
    else this.perClient.delete(c.client);
    c.queue = [];
    if (this.clients.size > 0) return;
    this.unsubscribe?.();
    this.unsubscribe = undefined;
    this.unsubscribeHooks?.();
    this.unsubscribeHooks = undefined;
    clearInterval(this.heartbeat);
    this.heartbeat = undefined;
  }
}
