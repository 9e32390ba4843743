// Bounded in-memory history of events and hook results (events.history_size), for the API, the
// CLI and SSE resume. A ring: memory stays flat however long the daemon runs.
import type { HookRunResult, NetevdEvent } from "./types.js";

export class Ring<T> {
  private buf: (T | undefined)[];
  private start = 0;
  private len = 0;

  constructor(private cap: number) {
    this.buf = new Array<T | undefined>(cap);
  }

  push(x: T): void {
    if (this.len < this.cap) {
      this.buf[(this.start + this.len++) % this.cap] = x;
    } else {
      this.buf[this.start] = x;
      this.start = (this.start + 1) % this.cap;
    }
  }

  /** Oldest first. */
  toArray(): T[] {
    const out: T[] = [];
    for (let i = 0; i < this.len; i++) out.push(this.buf[(this.start + i) % this.cap] as T);
    return out;
  }

  get size(): number {
    return this.len;
  }

  resize(cap: number): void {
    const items = this.toArray().slice(-cap);
    this.cap = cap;
    this.buf = new Array<T | undefined>(cap);
    this.start = 0;
    this.len = 0;
    for (const x of items) this.push(x);
  }
}

export class History {
  readonly events: Ring<NetevdEvent>;
  readonly hooks: Ring<HookRunResult>;
  private listeners = new Set<(e: NetevdEvent) => void>();
  private hookListeners = new Set<(r: HookRunResult) => void>();

  constructor(size: number) {
    this.events = new Ring(size);
    this.hooks = new Ring(size);
  }

  addEvent(e: NetevdEvent): void {
    this.events.push(e);
    for (const l of this.listeners) l(e);
  }

  addHookResult(r: HookRunResult): void {
    this.hooks.push(r);
    for (const l of this.hookListeners) l(r);
  }

  subscribe(fn: (e: NetevdEvent) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  subscribeHooks(fn: (r: HookRunResult) => void): () => void {
    this.hookListeners.add(fn);
    return () => this.hookListeners.delete(fn);
  }

  resize(size: number): void {
    this.events.resize(size);
    this.hooks.resize(size);
  }
}
