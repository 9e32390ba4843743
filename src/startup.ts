// Start-up sequencing: the replay waits until the backend's first state is known, so that a link's
// carrier is replayed by exactly one source; a backend that is slow to answer only delays the start
// by a bound. Timers are injected (tests drive them by hand).

export interface StartupTimers {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

const realTimers: StartupTimers = {
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout),
};

/** How long start-up waits for the backend's first state, or for the hostname subscription. */
export const STARTUP_BOUND_MS = 2000;

/** `work` or, if it takes longer, `ms`: whichever comes first (the work goes on). */
export async function within(work: Promise<unknown>, ms: number, timers: StartupTimers = realTimers): Promise<"done" | "bound"> {
  let handle: unknown;
  const bound = new Promise<"bound">((resolve) => {
    handle = timers.setTimeout(() => resolve("bound"), ms);
  });
  try {
    return await Promise.race([work.then(() => "done" as const), bound]);
  } finally {
    timers.clearTimeout(handle);
  }
}

export class BackendSettle {
  private known!: () => void;
  private readonly firstState = new Promise<void>((resolve) => {
    this.known = resolve;
  });
  private over = false;

  constructor(private readonly timers: StartupTimers = realTimers) {}

  /** The backend's first state is known, or will not be (none configured, not there): start-up need not wait. */
  settle(): void {
    this.known();
  }

  /** Until settle(), or `ms` at most. From then on, settled is true. */
  async wait(ms = STARTUP_BOUND_MS): Promise<"done" | "bound"> {
    const how = await within(this.firstState, ms, this.timers);
    this.over = true;
    return how;
  }

  /** Start-up's wait is over: backend facts become events (before, they only fill the model, which the replay covers). */
  get settled(): boolean {
    return this.over;
  }
}
