// The index a routing change (and so its `routing` event) reports: the link a stale object was for is
// read from its table only when that table is one of ours (table_base + ifindex). A tagged rule into
// any other table used to report table - table_base, which can be some other, live link's index.
import { test } from "node:test";
import assert from "node:assert/strict";
import type { RouteRecord, RuleRecord } from "../../src/netlink/types.js";
import { changesOf } from "../../src/actions/routing/apply.js";

const rule = (table: number): RuleRecord => ({
  family: 4,
  priority: 100,
  table,
  src: "10.77.0.50",
  srcLen: 32,
  dstLen: 0,
  tos: 0,
  action: 1,
  protocol: 245,
  flags: 0,
});
const route = (table: number, oif?: number): RouteRecord => ({
  family: 4,
  table,
  dst: "10.77.0.0",
  dstLen: 24,
  srcLen: 0,
  protocol: 245,
  scope: 253,
  type: 1,
  tos: 0,
  flags: 0,
  ...(oif !== undefined && { oif }),
});

test("a stale rule into one of our tables names its link; into a kernel or foreign table it names none", () => {
  const changes = changesOf({ addRules: [], addRoutes: [], delRules: [rule(205), rule(254), rule(150), rule(200)], delRoutes: [] }, 200);
  assert.deepEqual(
    changes.map((c) => c.index),
    [5, null, null, null],
  );
});

test("a stale route names its output link, else its table's link when the table is ours", () => {
  const changes = changesOf({ addRules: [], addRoutes: [], delRules: [], delRoutes: [route(207, 3), route(207), route(255)] }, 200);
  assert.deepEqual(
    changes.map((c) => c.index),
    [3, 7, null],
  );
});
