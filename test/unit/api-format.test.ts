import { displayTime } from "../../src/cli/since.js";
import { test } from "node:test";
import assert from "node:assert/strict";
import { table, formatEvent, formatDuration } from "../../src/cli/format.js";
import { SseParser, type SseMessage } from "../../src/api/client.js";
import { sseFrame } from "../../src/api/sse.js";
import { clientCommandOf } from "../../src/cli/client.js";
import type { NetevdEvent } from "../../src/events/types.js";
import { testEvent } from "./test-event.js";

const ev: NetevdEvent = testEvent({
  id: "mx1-7",
  event: "no-carrier",
  link: "lab0",
  state: { carrier: false },
  previous: { carrier: true },
  changed: ["carrier"],
  addresses: ["10.0.0.2/24"],
});

test("table: columns aligned to the widest cell, no trailing blanks", () => {
  assert.equal(
    table(
      ["A", "LONGER"],
      [
        ["xyz", "1"],
        ["", "22"],
      ],
    ),
    "A    LONGER\nxyz  1\n     22\n",
  );
});

test("event line and duration for people", () => {
  assert.equal(formatEvent(ev, { utc: true }), "2026-11-28T12:00:00.000Z  mx1-7  no-carrier       lab0        kernel  changed=carrier  addresses=10.0.0.2/24\n");
  // people see local time by default
  assert.equal(formatEvent(ev), `${displayTime(ev.ts)}  mx1-7  no-carrier       lab0        kernel  changed=carrier  addresses=10.0.0.2/24\n`);
  assert.equal(formatDuration(59), "59s");
  assert.equal(formatDuration(3 * 86400 + 61), "3d 0h 1min 1s");
});

test("SSE: a frame parses back to the event, whatever the chunking; comments and CRLF are handled", () => {
  const text = ": hello\nretry: 1000\n\n" + sseFrame(ev) + ": heartbeat\n\n" + "id: x-1\r\ndata: a\r\ndata: b\r\n\r\n";
  for (const size of [1, 3, 7, 64, text.length]) {
    const got: SseMessage[] = [];
    const p = new SseParser((m) => got.push(m));
    for (let i = 0; i < text.length; i += size) p.push(text.slice(i, i + size));
    assert.equal(got.length, 2, `chunk ${size}`);
    assert.equal(got[0]!.id, "mx1-7");
    assert.deepEqual(JSON.parse(got[0]!.data), ev);
    assert.deepEqual(got[1], { id: "x-1", data: "a\nb" });
  }
});

test("client command detection skips option values", () => {
  assert.equal(clientCommandOf(["status"]), "status");
  assert.equal(clientCommandOf(["-c", "/x.yaml", "list", "routes"]), "list");
  assert.equal(clientCommandOf(["--endpoint", "http://h:1", "--json", "events", "--follow"]), "events");
  assert.equal(clientCommandOf(["--config=/x", "reload"]), "reload");
  assert.equal(clientCommandOf(["run"]), undefined);
  assert.equal(clientCommandOf(["-c", "status"]), undefined); // "status" is the config path here
  assert.equal(clientCommandOf([]), undefined);
});
