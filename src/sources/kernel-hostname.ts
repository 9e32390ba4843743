// The host name, as the kernel has it: /proc/sys/kernel/hostname's change notification (poll, no
// timer; see native/netevd_native.c), for daemons that use no D-Bus for anything else, so they need
// not load a D-Bus client for hostname.d. The kernel wakes every watcher on a change in any UTS
// namespace, and on a set to the same name: only a valid name that differs from the last one fires.
import { hostname } from "node:os";
import type { Logger } from "../log.js";
import { validHostname } from "../net/validate.js";
import { watchKernelHostname } from "../netlink/native.js";
import type { HostnameChange } from "./hostnamed.js";

export type HostnameWatcher = (onChange: () => void, onError: (err: Error & { code: string }) => void) => { close(): void };

export class KernelHostnameSource {
  private last: string;
  /** the invalid name last warned about: warned once, not at every wake-up */
  private warned: string | null = null;
  private watch: { close(): void } | null = null;

  constructor(
    private readonly log: Logger,
    private readonly onChange: (c: HostnameChange) => void,
    private readonly read: () => string = hostname,
    private readonly watcher: HostnameWatcher = watchKernelHostname,
  ) {
    this.last = this.read();
  }

  /** Resolves once the watch is on (a failure is logged: hostname.d then does not fire). */
  start(): Promise<void> {
    try {
      this.watch = this.watcher(
        () => this.check(),
        (err) => {
          this.watch = null;
          this.log.warn("the kernel's host name watch broke: hostname.d will not fire", { err: err.message, code: err.code });
        },
      );
      this.log.debug("following the kernel's host name", { source: "kernel" });
    } catch (err) {
      this.log.warn("cannot watch the kernel's host name: hostname.d will not fire", { err: (err as Error).message });
    }
    return Promise.resolve();
  }

  stop(): void {
    this.watch?.close();
    this.watch = null;
  }

  private check(): void {
    const now = this.read();
    if (!validHostname(now)) {
      if (now !== this.warned) this.log.warn("host name is not a valid RFC 1123 name; hostname.d not fired", { source: "kernel" });
      this.warned = now;
      return;
    }
    this.warned = null;
    if (now === this.last) return;
    const previous = this.last;
    this.last = now;
    this.onChange({ hostname: now, previous });
  }
}
