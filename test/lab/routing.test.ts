// Policy routing against the real kernel, with two uplinks: lab0 (the main table's default route)
// and up1 (a second router, see uplinks.ts). netevd must make traffic from up1's addresses leave
// through up1, keep exactly one copy of its rules and routes, follow address/gateway/link changes,
// put back what someone else deletes, and leave foreign rules alone.
import { test } from "node:test";
import assert from "node:assert/strict";
import type { ChildProcess } from "node:child_process";
import { DaemonProcess, ip, labFile, sleep, writeConfig } from "./lab.js";
import {
  addUplink,
  farHost,
  flushOurs,
  mainUplink,
  ourRoutes,
  ourRules,
  probe,
  removeUplink,
  rules,
  tableText,
  UP,
  upAddresses,
  upDefaults,
  upRxPackets,
  waitRules,
  waitTable,
} from "./uplinks.js";

const start = (extra = "") =>
  DaemonProcess.start(["run", "-c", writeConfig(`system:\n  backend: none\nhooks:\n  replay_on_start: false\nrouting:\n  policy_rules: [${UP.ifname}]\n${extra}`)]);

async function started(extra = ""): Promise<DaemonProcess> {
  const d = start(extra);
  await d.waitRecord((r) => r.msg === "ready", 10_000);
  return d;
}

const v4Rules = (t: number) => [`32765 from ${UP.addr4} lookup ${t}`, `32766 to ${UP.addr4} lookup ${t}`];
const v6Rules = (t: number) => [`32765 from ${UP.addr6} lookup ${t}`, `32766 to ${UP.addr6} lookup ${t}`];
const v4Table = [`10.88.0.0/24 dev ${UP.ifname} src ${UP.addr4} proto 110`, `default via ${UP.gw4} dev ${UP.ifname} proto 110`];
const v6Table = [`fd88::/64 dev ${UP.ifname} src ${UP.addr6} proto 110`, `default via ${UP.gw6} dev ${UP.ifname} proto 110`];

if (labFile(import.meta.url, { timeoutMs: 240_000 })) {
  let far: ChildProcess | undefined;
  let table = 0;

  test.before(mainUplink);
  test.beforeEach(async () => {
    await flushOurs();
    table = 200 + (await addUplink()).ifindex;
    far = await farHost();
  });
  test.afterEach(async () => {
    if (far?.pid) process.kill(far.pid);
    far = undefined;
    await removeUplink();
  });

  test("addresses present before start: from/to rules (v4+v6) at 32765/32766, table 200+ifindex, traffic from A leaves through up1", async () => {
    await upAddresses({ v6dad: true }); // B goes through DAD: its prefix route gets its source once DAD is done
    await upDefaults();
    // foreign rules in the same priority range (an admin's): never touched
    await ip("rule", "add", "from", "10.88.0.99", "lookup", "100", "pref", "32765");
    await ip("rule", "add", "to", UP.addr4, "lookup", "150", "pref", "32766", "protocol", "static");
    const foreignBefore = (await rules()).filter((r) => r.protocol !== "110");
    // control: without policy routing, the far host is not reachable from A (main default is lab0)
    assert.ok((await probe(UP.far4, UP.addr4, 800)) instanceof Error, "far host unreachable from A before netevd");
    assert.match(await ip("route", "get", UP.far4, "from", UP.addr4), /dev lab0/);

    const d = await started();
    try {
      await waitRules([...v4Rules(table), ...v6Rules(table)]);
      await waitTable(table, [...v4Table, ...v6Table], 8000);
      assert.match(await ip("route", "get", UP.far4, "from", UP.addr4), new RegExp(`via ${UP.gw4} dev ${UP.ifname} table ${table}`));
      assert.match(await ip("-6", "route", "get", UP.far6, "from", UP.addr6), new RegExp(`via ${UP.gw6} dev ${UP.ifname} table ${table}`));
      // unbound traffic still follows the main table
      assert.match(await ip("route", "get", UP.far4), /dev lab0/);

      const rx = await upRxPackets();
      assert.equal(await probe(UP.far4, UP.addr4), `pong ${UP.addr4}`);
      assert.equal(await probe(UP.far6, UP.addr6), `pong ${UP.addr6}`);
      assert.ok((await upRxPackets()) > rx, "the packets arrived at up1's router");

      assert.deepEqual(
        (await rules()).filter((r) => r.protocol !== "110"),
        foreignBefore,
        "foreign rules untouched",
      );
      // each change is an event in the history
      const events = d.records.filter((r) => r.msg === "event" && r.event === "routing");
      assert.ok(events.length >= 8, `routing events: ${events.length}`);
    } finally {
      await d.stop();
      await ip("rule", "del", "from", "10.88.0.99", "lookup", "100", "pref", "32765");
      await ip("rule", "del", "to", UP.addr4, "lookup", "150", "pref", "32766", "protocol", "static");
    }
  });

  test("five restarts leave exactly one copy of each rule and route", async () => {
    await upAddresses();
    await upDefaults();
    const wantRules = [...v4Rules(table), ...v6Rules(table)].sort();
    const wantRoutes = [...v4Table, ...v6Table].sort();
    for (let i = 0; i < 5; i++) {
      const d = await started();
      try {
        await waitRules(wantRules);
        await waitTable(table, wantRoutes);
        await sleep(300); // give a duplicating daemon the time to do it
        assert.deepEqual(await ourRules(), wantRules, `run ${i + 1}`);
        assert.deepEqual(await ourRoutes(), wantRoutes, `run ${i + 1}`);
      } finally {
        assert.equal(await d.stop(), 0);
      }
    }
  });

  test("removing A removes only A's rules (and v4 routes); re-adding it brings them back", async () => {
    await upAddresses();
    await upDefaults();
    const d = await started();
    try {
      await waitRules([...v4Rules(table), ...v6Rules(table)]);
      await waitTable(table, [...v4Table, ...v6Table]);
      await ip("addr", "del", `${UP.addr4}/24`, "dev", UP.ifname);
      await waitRules(v6Rules(table));
      await waitTable(table, v6Table);
      await ip("addr", "add", `${UP.addr4}/24`, "dev", UP.ifname);
      await waitRules([...v4Rules(table), ...v6Rules(table)]);
      // no v4 gateway any more (the kernel dropped the main default with the last v4 address)
      await waitTable(table, [v4Table[0]!, ...v6Table]);
    } finally {
      await d.stop();
    }
  });

  test("a gateway that appears after start gets its default route in the table", async () => {
    await upAddresses();
    const d = await started();
    try {
      await waitTable(table, [v4Table[0]!, v6Table[0]!]);
      await sleep(300);
      assert.deepEqual(await tableText(table), [v4Table[0]!, v6Table[0]!].sort(), "no default without a gateway");
      assert.deepEqual(await ourRules(), [...v4Rules(table), ...v6Rules(table)].sort(), "rules do not wait for a gateway");
      await upDefaults();
      await waitTable(table, [...v4Table, ...v6Table]);
      assert.equal(await probe(UP.far4, UP.addr4), `pong ${UP.addr4}`);
      // the gateway goes: so does our default route
      await ip("route", "del", "default", "via", UP.gw4, "dev", UP.ifname, "metric", "500");
      await waitTable(table, [v4Table[0]!, ...v6Table]);
    } finally {
      await d.stop();
    }
  });

  test("a rule or route deleted by hand is back within one second; repeated deletion is rate-limited, then re-asserted", async () => {
    await upAddresses();
    await upDefaults();
    const d = await started();
    try {
      const all = [...v4Rules(table), ...v6Rules(table)];
      await waitRules(all);
      await waitTable(table, [...v4Table, ...v6Table]);
      const t0 = Date.now();
      await ip("rule", "del", "from", UP.addr4, "lookup", String(table), "pref", "32765");
      await ip("route", "del", "default", "via", UP.gw4, "table", String(table));
      await waitRules(all, 1000);
      await waitTable(table, [...v4Table, ...v6Table], 1000);
      const backMs = Date.now() - t0;
      const incidents = d.records.filter((r) => r.level === "warn" && Array.isArray(r.objects));
      assert.equal(incidents.length, 1, "one log line for the incident");

      // keep deleting the same rule: after a few re-asserts netevd backs off, then puts it back
      let reasserts = 0;
      for (; reasserts < 10; reasserts++) {
        await ip("-6", "rule", "del", "to", UP.addr6, "lookup", String(table), "pref", "32766");
        const back = await waitRules(all, 1000).then(
          () => true,
          () => false,
        );
        if (!back) break;
      }
      assert.ok(reasserts >= 3 && reasserts <= 5, `backed off after ${reasserts} re-asserts`);
      await waitRules(all, 12_000);
      console.log(`# re-asserted in ${backMs} ms; backed off after ${reasserts} re-asserts`);
    } finally {
      await d.stop();
    }
  });

  test("deleting the link removes everything of that interface; other rules stay", async () => {
    await upAddresses();
    await upDefaults();
    await ip("rule", "add", "from", "10.88.0.99", "lookup", "100", "pref", "32765");
    const d = await started();
    try {
      await waitRules([...v4Rules(table), ...v6Rules(table)]);
      await waitTable(table, [...v4Table, ...v6Table]);
      await ip("link", "del", UP.ifname);
      await waitRules([]);
      assert.deepEqual(await ourRoutes(), []);
      assert.ok(
        (await rules()).some((r) => r.src === "10.88.0.99" && r.table === "100"),
        "the admin's rule stays",
      );
    } finally {
      await d.stop();
      await ip("rule", "del", "from", "10.88.0.99", "lookup", "100", "pref", "32765");
    }
  });

  test("cleanup_on_exit: nothing of ours is left after SIGTERM (and without it, everything stays)", async () => {
    await upAddresses();
    await upDefaults();
    const keep = await started();
    await waitRules([...v4Rules(table), ...v6Rules(table)]);
    await waitTable(table, [...v4Table, ...v6Table]);
    assert.equal(await keep.stop(), 0);
    assert.equal((await ourRules()).length, 4, "default: rules survive a stop");
    const d = await started("  cleanup_on_exit: true\n");
    await sleep(300);
    assert.equal(await d.stop(), 0);
    assert.deepEqual(await ourRules(), []);
    assert.deepEqual(await ourRoutes(), []);
    assert.equal((await probe(UP.far4, UP.addr4, 800)) instanceof Error, true, "traffic from A follows the main table again");
  });
}
