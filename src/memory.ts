// Giving memory back when the daemon goes idle, on its own terms. V8's memory reducer would do it
// with a series of GCs on timers long after the last event (about 75 wake-ups of 5 threads between
// 5 s and 30 s of idling, measured): bin/netevd turns it off (--no-memory-reducer) and netevd asks
// V8 for the same once instead (Isolate::LowMemoryNotification, native/netevd_memory.cc): after
// start-up, and once after each burst of events has been quiet for a while. The timer exists only
// while a burst is settling, so an idle daemon has none.
import { loadNative, setV8Flags } from "./netlink/native.js";

/** V8's interrupt budget in Node 20 (V8 11.3): how much bytecode a function runs before V8 considers optimizing it. */
export const V8_INTERRUPT_BUDGET = 67_584;

/**
 * bin/netevd starts node with a 64 times larger interrupt budget: start-up runs much code a few
 * times (module resolution for about 180 modules, the config parser), and at V8's budget TurboFan
 * compiles some of it, which pulls about 3.5 MB of TurboFan's own machine code into RSS
 * for good (idle RSS 55.8 -> 51.1 MB, measured). Once the modules and the config are loaded, V8's
 * budget applies again (before the first netlink dump): what runs hot under load is optimized as before.
 */
export function endStartup(): void {
  try {
    // through the addon: node:v8 would stay loaded for this one call (0.3 MB of RSS)
    setV8Flags(`--interrupt-budget=${V8_INTERRUPT_BUDGET}`);
  } catch {
    /* addon missing or flags frozen: the start-up budget stays */
  }
}

/** V8's memory-reducing GCs, then the C heap's free pages back to the kernel. */
export function compactMemory(): void {
  try {
    const native = loadNative();
    native.lowMemoryNotification();
    native.mallocTrim();
  } catch {
    /* addon missing: V8 collects on its own schedule */
  }
}

export class IdleCompactor {
  private timer: NodeJS.Timeout | null = null;

  // 2 s: a burst leaves its garbage in V8's old space until the next major GC (10,000 events: 32 MB
  // "used", 11 MB once compacted, measured); the sooner after the burst, the shorter the time RSS
  // stays up. Not much sooner: each compaction also drops compiled code that the next event recompiles.
  constructor(
    private readonly quietMs = 2_000,
    private readonly compact: () => void = compactMemory,
  ) {}

  /** Something happened: compact once things have been quiet for quietMs. */
  touch(): void {
    if (this.timer) {
      this.timer.refresh();
      return;
    }
    this.timer = setTimeout(() => {
      this.timer = null;
      this.compact();
    }, this.quietMs);
    this.timer.unref();
  }

  /** Compacted just now (start-up): no need for the pending one. */
  stop(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }
}
