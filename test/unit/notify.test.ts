// sd_notify messages around the daemon's life; the watchdog timer exists only when systemd asks.
import { test, mock } from "node:test";
import assert from "node:assert/strict";
import { ServiceNotifier, watchdogIntervalMs } from "../../src/notify.js";

test("watchdog period: half of WATCHDOG_USEC, only for our pid", () => {
  assert.equal(watchdogIntervalMs({ WATCHDOG_USEC: "10000000" }, 5), 5000);
  assert.equal(watchdogIntervalMs({ WATCHDOG_USEC: "10000000", WATCHDOG_PID: "5" }, 5), 5000);
  assert.equal(watchdogIntervalMs({ WATCHDOG_USEC: "10000000", WATCHDOG_PID: "6" }, 5), null);
  assert.equal(watchdogIntervalMs({}, 5), null);
  assert.equal(watchdogIntervalMs({ WATCHDOG_USEC: "0" }, 5), null);
});

test("ready, reload, stopping; WATCHDOG=1 every half period while running", () => {
  mock.timers.enable({ apis: ["setInterval"] });
  try {
    const sent: string[] = [];
    const n = new ServiceNotifier({
      send: (m) => {
        sent.push(m);
        return true;
      },
      env: { NOTIFY_SOCKET: "/x", WATCHDOG_USEC: "2000000" },
      pid: 1,
      monotonicUsec: () => 42n,
    });
    n.ready("kernel ok, systemd-networkd absent");
    assert.deepEqual(sent.splice(0), ["READY=1\nSTATUS=kernel ok, systemd-networkd absent", "WATCHDOG=1"]);
    mock.timers.tick(1000);
    mock.timers.tick(1000);
    assert.deepEqual(sent.splice(0), ["WATCHDOG=1", "WATCHDOG=1"]);
    n.status("kernel ok, systemd-networkd absent");
    assert.deepEqual(sent.splice(0), [], "an unchanged status is not resent");
    n.status("kernel ok\nsystemd-networkd ok");
    assert.deepEqual(sent.splice(0), ["STATUS=kernel ok systemd-networkd ok"]);
    n.reloading();
    n.reloaded("kernel ok");
    assert.deepEqual(sent.splice(0), ["RELOADING=1\nMONOTONIC_USEC=42\nSTATUS=reloading the configuration", "READY=1\nSTATUS=kernel ok"]);
    n.stopping();
    mock.timers.tick(5000);
    assert.deepEqual(sent.splice(0), ["STOPPING=1\nSTATUS=stopping"], "no watchdog after stopping");
  } finally {
    mock.timers.reset();
  }
});

test("not under systemd: nothing is sent and no timer is created", () => {
  mock.timers.enable({ apis: ["setInterval"] });
  try {
    const sent: string[] = [];
    const n = new ServiceNotifier({
      send: (m) => {
        sent.push(m);
        return true;
      },
      env: { WATCHDOG_USEC: "2000000" },
      pid: 1,
    });
    n.ready("x");
    mock.timers.tick(10_000);
    assert.deepEqual(sent, []);
  } finally {
    mock.timers.reset();
  }
});
