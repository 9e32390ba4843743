// Hook scheduling: per (link, hook dir) at most one run in flight and one pending, the pending one
// replaced by newer events (latest state wins), an optional debounce before a pending run starts,
// (dirs that are states of one machine, like carrier.d/no-carrier.d, share one key: see coalesceGroup)
// and at most `maxParallel` runs at once across links. Memory is bounded by links × dirs.
import type { HookJob } from "../../events/types.js";
import { coalesceGroup } from "../../hook-dirs.js";
import { logRejection, type Logger } from "../../log.js";
import { metrics } from "../../metrics.js";

export interface DispatcherOptions {
  maxParallel(): number;
  debounceMs(event: string): number;
  /** run every script of the job's dir, serially; must not reject */
  run(job: HookJob): Promise<void>;
  /** where a run that rejected anyway is reported (the slot is freed all the same) */
  log: Pick<Logger, "error">;
}

interface Slot {
  running: boolean;
  pending: HookJob | null;
  timer: NodeJS.Timeout | null;
  queued: boolean;
}

export interface DispatcherStats {
  submitted: number;
  coalesced: number;
  started: number;
  finished: number;
}

export class Dispatcher {
  private readonly slots = new Map<string, Slot>();
  private readonly ready: string[] = [];
  private active = 0;
  private closed = false;
  readonly stats: DispatcherStats = { submitted: 0, coalesced: 0, started: 0, finished: 0 };
  private idleWaiters: Array<() => void> = [];

  constructor(private readonly o: DispatcherOptions) {}

  static keyOf(job: HookJob): string {
    // networkd-dispatcher's carrier and no-carrier are two operational states, each run: no shared slot
    const group = job.compat ? `${job.compat}:${job.event.event}` : coalesceGroup(job.event.event);
    return `${job.event.index ?? job.event.link ?? "-"}|${job.event.backend}|${group}`;
  }

  submit(job: HookJob): void {
    if (this.closed) return;
    this.stats.submitted++;
    const key = Dispatcher.keyOf(job);
    let slot = this.slots.get(key);
    if (!slot) {
      slot = { running: false, pending: null, timer: null, queued: false };
      this.slots.set(key, slot);
    }
    if (slot.pending) { this.stats.coalesced++; metrics.hooksCoalesced.inc(); }
    slot.pending = job;
    // already going to run (waiting for debounce, a parallel slot, or the current run to end)
    if (slot.running || slot.queued || slot.timer) return;
    this.arm(key, slot);
  }

  private arm(key: string, slot: Slot): void {
    const delay = slot.pending ? this.o.debounceMs(slot.pending.event.event) : 0;
    if (delay > 0) {
      slot.timer = setTimeout(() => { slot.timer = null; this.enqueue(key, slot); }, delay);
    } else {
      this.enqueue(key, slot);
    }
  }

  private enqueue(key: string, slot: Slot): void {
    slot.queued = true;
    this.ready.push(key);
    this.pump();
  }

  private pump(): void {
    while (!this.closed && this.active < Math.max(1, this.o.maxParallel()) && this.ready.length) {
      const key = this.ready.shift()!;
      const slot = this.slots.get(key)!;
      slot.queued = false;
      const job = slot.pending;
      slot.pending = null;
      if (!job) continue;
      slot.running = true;
      this.active++;
      this.stats.started++;
      void this.o.run(job).catch(logRejection(this.o.log, "hook run failed", { event: job.event.event, link: job.event.link })).finally(() => {
        this.active--;
        this.stats.finished++;
        slot.running = false;
        if (slot.pending && !this.closed) this.arm(key, slot);
        else if (!slot.timer && !slot.queued) this.slots.delete(key);
        this.pump();
        if (this.active === 0 && (this.closed || this.ready.length === 0)) for (const w of this.idleWaiters.splice(0)) w();
      });
    }
  }

  /** Jobs waiting (pending or queued), for metrics and tests. */
  get pendingCount(): number {
    let n = 0;
    for (const s of this.slots.values()) if (s.pending) n++;
    return n;
  }

  get activeCount(): number {
    return this.active;
  }

  /** Stop accepting work; resolves when running hooks have finished. */
  close(): Promise<void> {
    this.closed = true;
    this.ready.length = 0; // queued runs never start now
    for (const s of this.slots.values()) if (s.timer) clearTimeout(s.timer);
    if (this.active === 0) return Promise.resolve();
    return new Promise((r) => this.idleWaiters.push(r));
  }
}
