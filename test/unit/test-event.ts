// A whole NetevdEvent for unit tests: a kernel carrier event on eth0, with what a test cares about
// given in `over`.
import type { NetevdEvent } from "../../src/events/types.js";

export function testEvent(over: Partial<NetevdEvent> = {}): NetevdEvent {
  return {
    schema: "netevd.event.v1",
    id: "r1-1",
    ts: "2026-11-28T12:00:00.000Z",
    event: "carrier",
    link: "eth0",
    index: 2,
    backend: "kernel",
    source: "kernel",
    state: {},
    previous: null,
    changed: [],
    addresses: [],
    gateway: null,
    dns: [],
    replay: false,
    ...over,
  };
}
