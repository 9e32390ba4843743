// The system bus address handed to dbus-next: unix:path= becomes unix:socket=, so dbus-next opens it
// with node:net rather than loading its usocket native addon.
import { test } from "node:test";
import { strict as assert } from "node:assert";
import { socketAddress, systemBusAddress } from "../../src/dbus/bus.js";

test("unix:path= is rewritten as unix:socket=, other keys and transports are kept", () => {
  assert.equal(socketAddress("unix:path=/run/dbus/system_bus_socket"), "unix:socket=/run/dbus/system_bus_socket");
  assert.equal(socketAddress("unix:path=/run/x,guid=0123"), "unix:socket=/run/x,guid=0123");
  assert.equal(socketAddress("unix:abstract=/tmp/dbus-x"), "unix:abstract=/tmp/dbus-x");
  assert.equal(socketAddress("tcp:host=127.0.0.1,port=5"), "tcp:host=127.0.0.1,port=5");
  assert.equal(socketAddress("tcp:host=h,port=1;unix:path=/p"), "tcp:host=h,port=1;unix:socket=/p");
});

test("the system bus address comes from DBUS_SYSTEM_BUS_ADDRESS, else the standard path", () => {
  assert.equal(systemBusAddress({}), "unix:path=/var/run/dbus/system_bus_socket");
  assert.equal(systemBusAddress({ DBUS_SYSTEM_BUS_ADDRESS: "unix:path=/run/lab/bus" }), "unix:path=/run/lab/bus");
});

test("connecting by the rewritten address does not load usocket", async () => {
  const { createRequire } = await import("node:module");
  const require = createRequire(import.meta.url);
  const { SystemBus } = await import("../../src/dbus/bus.js");
  const saved = process.env.DBUS_SYSTEM_BUS_ADDRESS;
  process.env.DBUS_SYSTEM_BUS_ADDRESS = "unix:path=/nonexistent/netevd-test-bus";
  try {
    await assert.rejects(SystemBus.connect(1000));
  } finally {
    if (saved === undefined) delete process.env.DBUS_SYSTEM_BUS_ADDRESS;
    else process.env.DBUS_SYSTEM_BUS_ADDRESS = saved;
  }
  const loaded = Object.keys(require.cache).filter((p) => p.includes("/usocket/"));
  assert.deepEqual(loaded, []);
});
