// Issue 15 row 8: a notification that arrives truncated (MSG_TRUNC, reported as EMSGSIZE) is a lost
// event, like an overflow: the kernel source must re-read the state, so that the model still ends
// equal to the kernel. The receive room is lowered (a test seam of the addon) so that the kernel's
// real link notifications (~1.5 KiB) arrive truncated while address ones (< 100 bytes) fit.
import { test } from "node:test";
import assert from "node:assert/strict";
import { ip, labFile, sleep } from "./lab.js";
import { KernelSource } from "../../src/sources/kernel.js";
import { RtnlRequester } from "../../src/netlink/rtnl.js";
import { createLogger } from "../../src/log.js";
import { diffModels, modelFrom } from "../../src/state/model.js";

const quiet = createLogger({ level: "error", format: "json", sink: { write: () => {} } });

if (labFile(import.meta.url)) {
  test("truncated link notifications trigger a resync: the model still sees the new link and its state", async () => {
    const src = new KernelSource({ log: quiet, recvChunkBytes: 256, onFacts: () => {} });
    await src.start();
    try {
      await ip("link", "add", "tr0", "type", "veth", "peer", "name", "tr0p");
      await ip("link", "set", "tr0", "up");
      await ip("link", "set", "tr0", "mtu", "1400");
      const deadline = Date.now() + 5000;
      const link = () => [...src.model.links.values()].find((l) => l.name === "tr0");
      while (Date.now() < deadline && !(link()?.mtu === 1400 && src.stats.truncated > 0)) await sleep(50);
      await src.resync([]); // a resync still in flight
      assert.ok(src.stats.truncated > 0, `link notifications arrived truncated (${JSON.stringify(src.stats)})`);
      assert.ok(src.stats.resyncs > 0, "a truncation is followed by a resync");
      assert.equal(link()?.mtu, 1400, "the model has the link's final state");
      const req = RtnlRequester.open();
      const fresh = modelFrom(await req.dumpAll());
      req.close();
      assert.deepEqual(
        diffModels(src.model, fresh).map((f) => f.fact),
        [],
        "model equals a fresh dump",
      );
    } finally {
      await ip("link", "del", "tr0").catch(() => {});
      src.close();
    }
  });
}
