// Issue 15 row 1 (logging half): a log sink that is backed up (stdout a pipe nobody reads) must not
// make the daemon queue records without bound; they are dropped, counted, and the count is logged
// once the sink drains.
import { test } from "node:test";
import assert from "node:assert/strict";
import { PassThrough } from "node:stream";
import { createLogger, logStats, streamSink } from "../../src/log.js";

test("a backed-up stream: memory held stays under the backlog cap, drops are counted, then reported", async () => {
  const stream = new PassThrough({ highWaterMark: 1024 });
  const log = createLogger({ level: "info", format: "json", sink: streamSink(stream, 64 * 1024) });
  const before = logStats.dropped;
  for (let i = 0; i < 20_000; i++) log.info("flood", { i, pad: "x".repeat(200) });
  assert.ok(stream.writableLength < 64 * 1024 + 2048, `unwritten bytes stay bounded (${stream.writableLength})`);
  const dropped = logStats.dropped - before;
  assert.ok(dropped > 15_000, `most records were dropped and counted (${dropped})`);
  // the reader catches up: the next records flow again, and the loss is reported once
  const lines: string[] = [];
  stream.on("data", (c: Buffer) => lines.push(...c.toString().split("\n").filter(Boolean)));
  await new Promise((r) => setImmediate(r));
  await new Promise((r) => setTimeout(r, 20));
  log.info("after");
  await new Promise((r) => setTimeout(r, 20));
  const notices = lines.map((l) => JSON.parse(l) as Record<string, unknown>).filter((r) => r.dropped !== undefined);
  assert.equal(notices.length, 1);
  assert.equal(notices[0]!.dropped, dropped);
  assert.ok(lines.some((l) => l.includes('"msg":"after"')));
});

test("a stream that failed (EPIPE) refuses records instead of throwing", () => {
  const stream = new PassThrough();
  const sink = streamSink(stream);
  stream.emit("error", Object.assign(new Error("write EPIPE"), { code: "EPIPE" }));
  assert.equal(sink.write("x\n"), false);
});
