// The live event stream (GET /api/v1/events/stream): Server-Sent Events carrying the event contract,
// one `id:` per event so a client can resume with Last-Event-ID. The history subscription and the
// 15 s heartbeat exist only while a client is connected: no timers at idle.
import type { ServerResponse } from "node:http";
import type { History, HookResultRecord } from "../events/history.js";
import type { NetevdEvent } from "../events/types.js";
import { matchesFilter } from "./query.js";

export const HEARTBEAT_MS = 15_000;
/** a client this far behind is dropped (it can resume with Last-Event-ID) rather than buffered without bound */
export const MAX_BACKLOG_BYTES = 1 << 20;

/** One SSE message for an event. */
export function sseFrame(e: NetevdEvent, json: string = JSON.stringify(e)): string {
  return `id: ${e.id}\ndata: ${json}\n\n`;
}

interface StreamClient {
  res: ServerResponse;
  link?: string;
  event?: string;
  /** also hook results, as `event: hook` messages without an id (include=hooks; the page uses it) */
  hooks?: boolean;
}

/** One SSE message for a hook result: a named event, no id (resuming is by event id only). */
export function sseHookFrame(r: HookResultRecord): string {
  return `event: hook\ndata: ${JSON.stringify(r)}\n\n`;
}

export class EventStreams {
  private readonly clients = new Set<StreamClient>();
  private heartbeat: NodeJS.Timeout | undefined;
  private unsubscribe: (() => void) | undefined;
  private unsubscribeHooks: (() => void) | undefined;

  constructor(private readonly history: History, private readonly heartbeatMs = HEARTBEAT_MS) {}

  get size(): number {
    return this.clients.size;
  }

  /**
   * Start streaming to `res`: `replay` (already selected from the history) first, then live events.
   * The caller selects `replay` in the same tick, so nothing falls between the two.
   */
  open(res: ServerResponse, filter: { link?: string; event?: string; hooks?: boolean }, replay: readonly NetevdEvent[]): void {
    res.writeHead(200, {
      "content-type": "text/event-stream; charset=utf-8",
      "cache-control": "no-store",
      connection: "keep-alive",
      "x-accel-buffering": "no",
    });
    let head = ": netevd event stream (netevd.event.v1)\nretry: 1000\n\n";
    for (const e of replay) head += sseFrame(e);
    res.write(head);
    const client: StreamClient = { res, ...filter };
    this.clients.add(client);
    res.socket?.setNoDelay(true);
    res.socket?.setTimeout(0); // quiet streams are normal; the heartbeat finds dead peers
    res.on("close", () => this.drop(client));
    this.unsubscribe ??= this.history.subscribe((e) => this.publish(e));
    if (filter.hooks) this.unsubscribeHooks ??= this.history.subscribeHooks((r) => this.publishHook(r));
    this.heartbeat ??= setInterval(() => this.beat(), this.heartbeatMs);
  }

  /** End every stream (daemon stopping). */
  close(): void {
    for (const c of [...this.clients]) {
      c.res.end();
      this.drop(c);
    }
  }

  private publish(e: NetevdEvent): void {
    let frame: string | undefined;
    for (const c of this.clients) {
      if (!matchesFilter(e, c)) continue;
      frame ??= sseFrame(e);
      this.write(c, frame);
    }
  }

  private publishHook(r: HookResultRecord): void {
    let frame: string | undefined;
    for (const c of this.clients) {
      if (!c.hooks || !matchesFilter(r, c)) continue;
      frame ??= sseHookFrame(r);
      this.write(c, frame);
    }
  }

  private beat(): void {
    for (const c of this.clients) this.write(c, ": heartbeat\n\n");
  }

  private write(c: StreamClient, chunk: string): void {
    if (c.res.writableLength > MAX_BACKLOG_BYTES) {
      c.res.destroy();
      this.drop(c);
      return;
    }
    c.res.write(chunk);
  }

  private drop(c: StreamClient): void {
    if (!this.clients.delete(c) || this.clients.size > 0) return;
    this.unsubscribe?.();
    this.unsubscribe = undefined;
    this.unsubscribeHooks?.();
    this.unsubscribeHooks = undefined;
    clearInterval(this.heartbeat);
    this.heartbeat = undefined;
  }
}
