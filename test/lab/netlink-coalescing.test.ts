// Flood coalescing on the multicast socket (the addon pauses reading for 1 ms under a flood, so one
// wake-up takes a batch): it changes only when notifications are read, never which or in what order.
// Two monitors read the same real flood, one with coalescing and one without; a change after a quiet
// moment is not held back; closing a monitor in the middle of a pause is clean.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { ip, labFile, sleep, tempDir } from "./lab.js";
import { RtnlMonitor } from "../../src/netlink/rtnl.js";
import type { RtMessage } from "../../src/netlink/types.js";

/** The same text for the same notification, from either socket. */
const text = (m: RtMessage): string => `${m.op} ${m.kind} ${JSON.stringify(m.kind === "link" ? m.link : m.kind === "addr" ? m.addr : m.kind === "route" ? m.route : m.rule)}`;

function recorder(floodHoldMs: number) {
  const seen: string[] = [];
  let overflows = 0;
  const mon = new RtnlMonitor({
    floodHoldMs,
    rcvbufBytes: 32 << 20, // no overflow: both sockets must see every notification
    onMessages: (msgs) => {
      for (const m of msgs) seen.push(text(m));
    },
    onOverflow: () => {
      overflows++;
    },
  });
  return { mon, seen, overflows: () => overflows };
}

/** `ip -batch` in another process: n /32 addresses added on dev, then deleted. */
async function flood(dev: string, n: number, second: number): Promise<void> {
  const lines: string[] = [];
  for (const op of ["add", "del"]) for (let i = 1; i <= n; i++) lines.push(`address ${op} 10.${second}.${i >> 8}.${i & 255}/32 dev ${dev}`);
  const file = join(tempDir(), "batch");
  writeFileSync(file, lines.join("\n") + "\n");
  const child = spawn("ip", ["-batch", file], { stdio: "ignore" });
  const code = await new Promise<number | null>((r) => child.on("exit", r));
  assert.equal(code, 0, "ip -batch succeeded");
}

/** Until neither list grew for 300 ms. */
async function settled(...lists: string[][]): Promise<void> {
  let last = -1;
  for (;;) {
    const n = lists.reduce((s, l) => s + l.length, 0);
    if (n === last) return;
    last = n;
    await sleep(300);
  }
}

if (labFile(import.meta.url)) {
  test("under a flood the coalescing socket pauses, and reads exactly what a plain socket reads, in order", async () => {
    await ip("link", "add", "co0", "type", "veth", "peer", "name", "co0p");
    await ip("link", "set", "co0", "up");
    await sleep(300);
    const held = recorder(1);
    const plain = recorder(0);
    try {
      await flood("co0", 3000, 220);
      await settled(held.seen, plain.seen);
      assert.equal(held.overflows() + plain.overflows(), 0, "no overflow on either socket");
      assert.ok(held.seen.length >= 12000, `both adds and deletes seen (${held.seen.length} notifications)`);
      assert.deepEqual(held.seen, plain.seen, "the same notifications in the same order");
      assert.ok(held.mon.floodHolds > 0, `the flood paused the coalescing socket (${held.mon.floodHolds} pauses)`);
      assert.equal(plain.mon.floodHolds, 0, "floodHoldMs 0 never pauses");
      assert.ok(held.mon.stats.batches < plain.mon.stats.batches, `fewer batches with coalescing (${held.mon.stats.batches} vs ${plain.mon.stats.batches})`);

      // after a quiet moment, one change: read without a pause
      const holds = held.mon.floodHolds;
      const before = held.seen.length;
      await ip("link", "set", "co0", "mtu", "1400");
      await settled(held.seen);
      assert.ok(
        held.seen.slice(before).some((s) => s.includes('"mtu":1400')),
        "the change arrived",
      );
      assert.equal(held.mon.floodHolds, holds, "no pause for a change after quiet");
    } finally {
      held.mon.close();
      plain.mon.close();
      await ip("link", "del", "co0").catch(() => {});
    }
  });

  test("closing a monitor while a flood pauses it: no callback afterwards, nothing left holding the loop", async () => {
    await ip("link", "add", "co1", "type", "veth", "peer", "name", "co1p");
    await ip("link", "set", "co1", "up");
    await sleep(300);
    let afterClose = 0;
    let closedInPause = false;
    const mon: RtnlMonitor = new RtnlMonitor({
      onMessages: () => {
        if (closedInPause) afterClose++;
        // a pause begins right after a callback returns; the check phase (setImmediate) runs inside it
        const holds = mon.floodHolds;
        setImmediate(() => {
          if (!closedInPause && mon.floodHolds > holds) {
            mon.close();
            closedInPause = true;
          }
        });
      },
      onOverflow: () => {},
    });
    try {
      await flood("co1", 3000, 221);
      await sleep(100);
      assert.ok(closedInPause, "the monitor was closed during a pause");
      assert.equal(afterClose, 0, "no notification delivered after close()");
      assert.equal(mon.floodHolds, 0, "a closed monitor reports no pauses");
    } finally {
      mon.close();
      await ip("link", "del", "co1").catch(() => {});
    }
    // the test runner waits for the event loop: a timer or poll handle left referenced would hang here
  });
}
