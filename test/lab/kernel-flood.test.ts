// A flood of address changes, with the socket forced to overflow: the model must end equal to a
// fresh dump of the real kernel (no final state lost), and only real changes are reported.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { ip, labFile, sleep, tempDir } from "./lab.js";
import { KernelSource } from "../../src/sources/kernel.js";
import { RtnlRequester } from "../../src/netlink/rtnl.js";
import { createLogger } from "../../src/log.js";
import { diffModels, modelFrom, type Fact } from "../../src/state/model.js";

const quiet = createLogger({ level: "error", format: "json", sink: { write: () => {} } });

/** Busy-wait: the event loop does not read the socket meanwhile, so the kernel drops messages. */
function block(ms: number): void {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    /* spin */
  }
}

async function flood(ops: string[]): Promise<void> {
  const file = join(tempDir(), "batch");
  writeFileSync(file, ops.join("\n") + "\n");
  const child = spawn("ip", ["-batch", file], { stdio: "ignore" });
  // keep the loop busy while the first thousands of notifications arrive
  await sleep(5);
  block(400);
  const code = await new Promise<number | null>((r) => child.on("exit", r));
  assert.equal(code, 0, "ip -batch succeeded");
}

/** 6,000 adds and 4,000 deletes on a fresh veth: 2,000 addresses remain. */
function ops(dev: string): string[] {
  const out: string[] = [];
  for (let i = 0; i < 6000; i++) out.push(`addr add 10.${200 + (i >> 16)}.${(i >> 8) & 255}.${i & 255}/32 dev ${dev}`);
  for (let i = 0; i < 4000; i++) out.push(`addr del 10.${200 + (i >> 16)}.${(i >> 8) & 255}.${i & 255}/32 dev ${dev}`);
  return out;
}

async function settled(src: KernelSource): Promise<void> {
  // until no message and no resync happened for 300 ms
  let last = -1;
  while (src.stats.messages + src.stats.resyncs * 1_000_000 !== last) {
    last = src.stats.messages + src.stats.resyncs * 1_000_000;
    await sleep(300);
  }
  await src.resync([]); // waits for a resync still in flight
}

/**
 * The same 1,000 addresses added and deleted five times over, then 100 added back: after an
 * overflow, a queued RTM_NEWADDR whose RTM_DELADDR was the dropped message must not come back.
 */
function churn(dev: string): string[] {
  const addr = (i: number) => `10.210.${i >> 8}.${i & 255}/32 dev ${dev}`;
  const out: string[] = [];
  for (let round = 0; round < 5; round++) {
    for (let i = 0; i < 1000; i++) out.push(`addr add ${addr(i)}`);
    for (let i = 0; i < 1000; i++) out.push(`addr del ${addr(i)}`);
  }
  for (let i = 0; i < 100; i++) out.push(`addr add ${addr(i)}`);
  return out;
}

if (labFile(import.meta.url)) {
  test("the same addresses added and deleted over and over, forced overflow: nothing deleted comes back", async () => {
    const facts: Fact[] = [];
    const src = new KernelSource({ log: quiet, rcvbufBytes: 64 * 1024, onFacts: (f) => facts.push(...f) });
    await src.start();
    const dev = "fl2";
    try {
      await ip("link", "add", dev, "type", "veth", "peer", "name", `${dev}p`);
      await ip("link", "set", dev, "up");
      await flood(churn(dev));
      await settled(src);
      assert.ok(src.stats.overflows >= 1, `the socket overflowed (${JSON.stringify(src.stats)})`);
      const req = RtnlRequester.open();
      const fresh = modelFrom(await req.dumpAll());
      req.close();
      assert.deepEqual(
        diffModels(src.model, fresh).map((f) => `${f.fact}`),
        [],
        "model equals a fresh dump",
      );
      assert.equal([...src.model.addrs.values()].filter((a) => a.address.startsWith("10.210.")).length, 100);
    } finally {
      await ip("link", "del", dev).catch(() => {});
      src.close();
    }
  });

  for (const [name, rcvbuf] of [
    ["small receive buffer (forced overflow)", 64 * 1024],
    ["default receive buffer", undefined],
  ] as const) {
    test(`10,000 address add/deletes, ${name}: the model ends equal to a fresh dump`, async () => {
      const facts: Fact[] = [];
      const src = new KernelSource({ log: quiet, rcvbufBytes: rcvbuf, onFacts: (f) => facts.push(...f) });
      await src.start();
      const dev = rcvbuf ? "fl0" : "fl1";
      try {
        await ip("link", "add", dev, "type", "veth", "peer", "name", `${dev}p`);
        await ip("link", "set", dev, "up");
        await flood(ops(dev));
        await settled(src);
        if (rcvbuf) assert.ok(src.stats.overflows >= 1, `the socket overflowed (${JSON.stringify(src.stats)})`);
        const req = RtnlRequester.open();
        const fresh = modelFrom(await req.dumpAll());
        req.close();
        const diff = diffModels(src.model, fresh);
        assert.deepEqual(
          diff.map((f) => f.fact),
          [],
          "model equals a fresh dump",
        );
        const addrs = [...src.model.addrs.values()].filter((a) => a.address.startsWith("10.20"));
        assert.equal(addrs.length, 2000);
        // only real changes: no address was reported added twice in a row
        const added = new Map<string, number>();
        let dup = 0;
        for (const f of facts) {
          if (f.fact === "address-added") {
            if (added.get(f.addr.address) === 1) dup++;
            added.set(f.addr.address, 1);
          }
          if (f.fact === "address-removed") added.set(f.addr.address, 0);
        }
        assert.equal(dup, 0, "no duplicate address-added facts");
      } finally {
        await ip("link", "del", dev).catch(() => {});
        src.close();
      }
    });
  }
}
