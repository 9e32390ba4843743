// The journal's native records: priority per level, fields named NETEVD_<KEY>, one line per field.
import { test } from "node:test";
import assert from "node:assert/strict";
import { openSync, closeSync, fstatSync } from "node:fs";
import { fieldName, journalDatagram, stdoutIsJournal } from "../../src/journal.js";
import { createLogger } from "../../src/log.js";

const parse = (d: string) =>
  Object.fromEntries(
    d
      .trimEnd()
      .split("\n")
      .map((l) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1)]),
  );

test("journal datagram: PRIORITY by level, fields as NETEVD_*, newlines cannot forge a field", () => {
  const d = parse(
    journalDatagram("warn", "m", { ts: "x", level: "warn", msg: "m", link: "eth0", event: "carrier", capEff: "1000", changed: ["a", "b"], out: "a\nPRIORITY=0" }, "m  link=eth0"),
  );
  assert.equal(d.PRIORITY, "4");
  assert.equal(d.MESSAGE, "m  link=eth0");
  assert.equal(d.NETEVD_LINK, "eth0");
  assert.equal(d.NETEVD_EVENT, "carrier");
  assert.equal(d.NETEVD_CAP_EFF, "1000");
  assert.equal(d.NETEVD_CHANGED, '["a","b"]');
  assert.equal(d.NETEVD_OUT, "a\\nPRIORITY=0");
  assert.equal(d.NETEVD_TS, undefined);
  assert.equal(parse(journalDatagram("error", "m", {}, "")).PRIORITY, "3");
  assert.equal(parse(journalDatagram("info", "m", {}, "")).PRIORITY, "6");
  assert.equal(parse(journalDatagram("debug", "m", {}, "")).PRIORITY, "7");
  assert.equal(fieldName("x".repeat(80)), null);
  assert.equal(fieldName("dhcp-server"), "NETEVD_DHCP_SERVER");
});

test("JOURNAL_STREAM counts only when it names stdout's device and inode", () => {
  const fd = openSync("/dev/null", "r");
  try {
    const st = fstatSync(fd);
    assert.equal(stdoutIsJournal({ JOURNAL_STREAM: `${st.dev}:${st.ino}` }, fd), true);
    assert.equal(stdoutIsJournal({ JOURNAL_STREAM: `${st.dev}:${st.ino + 1}` }, fd), false);
    assert.equal(stdoutIsJournal({}, fd), false);
    assert.equal(stdoutIsJournal({ JOURNAL_STREAM: "garbage" }, fd), false);
  } finally {
    closeSync(fd);
  }
});

test("a record the journal refuses goes to stdout with its <N> priority prefix", () => {
  const lines: string[] = [];
  const sent: string[] = [];
  const log = createLogger({
    level: "info",
    format: "auto",
    sink: {
      write: (s) => {
        lines.push(s);
      },
    },
    journal: (level, rec) => {
      sent.push(`${level} ${String(rec.msg)}`);
      return rec.msg !== "big";
    },
  });
  log.warn("small", { link: "eth0" });
  log.error("big");
  log.debug("filtered");
  assert.deepEqual(sent, ["warn small", "error big"]);
  assert.equal(lines.length, 1);
  assert.match(lines[0]!, /^<3>\{.*"msg":"big"/);
});
