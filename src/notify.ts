// The service manager's view of the daemon (sd_notify(3)): READY=1 once the API answers, STATUS=
// saying what is degraded, RELOADING=1 … READY=1 around a reload, STOPPING=1, and the watchdog.
// Outside systemd ($NOTIFY_SOCKET unset) every call is a no-op and no timer exists. The watchdog
// timer exists only when systemd asks for one ($WATCHDOG_USEC, for this pid): an idle daemon
// otherwise wakes up for nothing.

export type NotifySend = (message: string) => boolean;

export interface ServiceNotifierOptions {
  send: NotifySend;
  env?: NodeJS.ProcessEnv;
  pid?: number;
  /** CLOCK_MONOTONIC in µs (systemd ≥ 253 wants it with RELOADING=1); process.hrtime is that clock */
  monotonicUsec?: () => bigint;
  onError?: (err: Error) => void;
}

/** The watchdog period systemd asked for, in ms, or null (unset, 0, or meant for another pid). */
export function watchdogIntervalMs(env: NodeJS.ProcessEnv, pid: number): number | null {
  const usec = Number(env.WATCHDOG_USEC);
  if (!Number.isSafeInteger(usec) || usec <= 0) return null;
  if (env.WATCHDOG_PID !== undefined && Number(env.WATCHDOG_PID) !== pid) return null;
  // half the period, as sd_watchdog_enabled(3) recommends
  return Math.max(1, Math.floor(usec / 2000));
}

/** A STATUS= line: one line, bounded (it lands in `systemctl status`). */
export function statusLine(text: string): string {
  // eslint-disable-next-line no-control-regex -- a newline would end the STATUS= field
  return text.replace(/[\u0000-\u001f\u007f]/g, " ").slice(0, 200);
}

export class ServiceNotifier {
  private watchdog: NodeJS.Timeout | null = null;
  private lastStatus = "";
  private readonly env: NodeJS.ProcessEnv;
  private readonly pid: number;
  private readonly mono: () => bigint;

  constructor(private readonly o: ServiceNotifierOptions) {
    this.env = o.env ?? process.env;
    this.pid = o.pid ?? process.pid;
    this.mono = o.monotonicUsec ?? (() => process.hrtime.bigint() / 1000n);
  }

  /** Under a service manager that listens. */
  get active(): boolean {
    return !!this.env.NOTIFY_SOCKET;
  }

  ready(status: string): void {
    this.lastStatus = statusLine(status);
    this.send(`READY=1\nSTATUS=${this.lastStatus}`);
    this.startWatchdog();
  }

  status(text: string): void {
    const line = statusLine(text);
    if (line === this.lastStatus) return;
    this.lastStatus = line;
    this.send(`STATUS=${line}`);
  }

  reloading(): void {
    this.send(`RELOADING=1\nMONOTONIC_USEC=${this.mono()}\nSTATUS=reloading the configuration`);
  }

  /** The reload is over, accepted or rejected: the daemon runs (with the new or the old config). */
  reloaded(status: string): void {
    this.lastStatus = statusLine(status);
    this.send(`READY=1\nSTATUS=${this.lastStatus}`);
  }

  stopping(): void {
    this.stopWatchdog();
    this.send("STOPPING=1\nSTATUS=stopping");
  }

  private startWatchdog(): void {
    if (this.watchdog || !this.active) return;
    const ms = watchdogIntervalMs(this.env, this.pid);
    if (ms === null) return;
    this.send("WATCHDOG=1");
    // the event loop turning is what the watchdog proves; unref: it never keeps a stopping daemon alive
    this.watchdog = setInterval(() => this.send("WATCHDOG=1"), ms);
    this.watchdog.unref();
  }

  private stopWatchdog(): void {
    if (this.watchdog) clearInterval(this.watchdog);
    this.watchdog = null;
  }

  private send(message: string): void {
    if (!this.active) return;
    try {
      this.o.send(message);
    } catch (err) {
      this.o.onError?.(err as Error);
    }
  }
}
