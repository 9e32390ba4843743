// The way into the D-Bus client for the daemon: src/dbus/bus.ts (and dbus-next, about 3 MB of RSS
// with what it loads) is loaded on the first connection, so a daemon that needs no bus never loads
// it; its calls are counted in netevd's metrics.
import type { SystemBus } from "./bus.js";
import { metrics } from "../metrics.js";

let loading: Promise<typeof import("./bus.js")> | undefined;

export async function connectSystemBus(): Promise<SystemBus> {
  loading ??= import("./bus.js").then((m) => {
    m.observeCalls({ call: (service) => metrics.dbusCalls.inc({ service }), error: (service) => metrics.dbusErrors.inc({ service }) });
    return m;
  });
  const { SystemBus } = await loading;
  return SystemBus.connect();
}
