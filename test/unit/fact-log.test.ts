// What the log says about kernel facts (src/events/fact-log.ts): debug facts of watched links, DAD failures once.
import { test } from "node:test";
import assert from "node:assert/strict";
import type { AddressRecord, LinkRecord } from "../../src/netlink/types.js";
import { IFA_F_DADFAILED } from "../../src/netlink/constants.js";
import type { Fact } from "../../src/state/model.js";
import { defaultConfig } from "../../src/config/index.js";
import { logKernelFacts, warnDadFailures } from "../../src/events/fact-log.js";
import { recordingLog } from "./recording-log.js";

const link = (index: number, name: string): LinkRecord => ({ index, name, flags: 0, carrier: true, up: true, mtu: 1500, operstate: "up", type: 1 });
const v6 = (flags: number): AddressRecord => ({ family: 6, index: 2, address: "2001:db8::5", prefixlen: 64, scope: 0, flags, tentative: false });

test("kernel facts at debug: only watched links when a selection is set; nothing built when debug is off", () => {
  const facts: Fact[] = [
    { fact: "carrier-up", link: link(2, "lab0"), before: link(2, "lab0") },
    { fact: "carrier-up", link: link(3, "docker0"), before: link(3, "docker0") },
  ];
  const c = defaultConfig();
  const all = recordingLog(true);
  logKernelFacts(facts, c, all.log);
  assert.deepEqual(
    all.lines.map((l) => l.fields?.link),
    ["lab0", "docker0"],
  );
  assert.equal(all.lines[0]!.fields?.source, "kernel");
  const selected = recordingLog(true);
  logKernelFacts(facts, { ...c, monitoring: { ...c.monitoring, exclude: ["docker*"] } }, selected.log);
  assert.deepEqual(
    selected.lines.map((l) => l.fields?.link),
    ["lab0"],
  );
  const quiet = recordingLog(false);
  logKernelFacts(facts, c, quiet.log);
  assert.deepEqual(quiet.lines, []);
});

test("a failed duplicate address detection is a warning when it happens, not again while it stays failed", () => {
  const { log, lines } = recordingLog(false);
  warnDadFailures([{ fact: "address-changed", addr: v6(IFA_F_DADFAILED), previous: v6(0), link: "lab0" }], log);
  warnDadFailures([{ fact: "address-changed", addr: v6(IFA_F_DADFAILED), previous: v6(IFA_F_DADFAILED), link: "lab0" }], log);
  assert.equal(lines.length, 1);
  assert.equal(lines[0]!.level, "warn");
  assert.deepEqual({ link: lines[0]!.fields?.link, address: lines[0]!.fields?.address }, { link: "lab0", address: "2001:db8::5/64" });
});
