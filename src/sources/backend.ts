// What every backend source (systemd-networkd, NetworkManager, dhclient) gives the daemon, and what
// it gets: it only reports facts about links into the model through the sink; events are derived
// from the model's changes like the kernel's (src/events/backends.ts).
import type { Backend } from "../state/model.js";
import type { DescribeDelivery } from "./networkd-describe.js";

export interface BackendSink {
  /** properties of a link as the backend sees them (flat strings); only changes become facts */
  linkState(index: number, name: string | undefined, fields: Record<string, string>): void;
  /** the backend's fields of a link are gone (device removed, lease released); removes them, no event */
  linkGone(index: number, keys?: string[]): void;
  /** the backend manager's own state */
  managerState(fields: Record<string, string>): void;
  /** attached and the initial state was read (true), or lost (false) */
  attached(on: boolean): void;
  /** the backend is not there for now (name absent, no bus, no lease dir); startup need not wait */
  unavailable(): void;
}

export interface SourceHealth {
  /** e.g. "attached", "absent", "no-bus", "watching" */
  state: string;
  ok: boolean;
  detail?: string;
}

export interface BackendSource {
  readonly backend: Backend;
  start(): void;
  stop(): void;
  health(): SourceHealth;
  /** $JSON for a link's events when the backend has its own (networkd: Link.Describe()); remembered per link */
  describe?(index: number): Promise<string | undefined>;
  /** the last describe() result for the link, without asking (kernel carrier events cannot wait) */
  lastDescribe?(index: number): string | undefined;
  /** describe() now, in the link's order: `deliver` runs after every earlier request for the link was delivered */
  describeInOrder?(index: number, deliver: DescribeDelivery): void;
  /** keep lastDescribe() current in the background: one call out per link, one more when asked meanwhile */
  refreshDescribe?(index: number): void;
  /** the kernel removed the link: drop what is remembered about it */
  linkRemoved?(index: number): void;
}
