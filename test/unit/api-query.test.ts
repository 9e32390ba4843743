import { test } from "node:test";
import assert from "node:assert/strict";
import { defaultConfig, type Config } from "../../src/config/types.js";
import type { HookRunResult, NetevdEvent } from "../../src/events/types.js";
import { checkApiConfig, isLoopbackHost } from "../../src/config/check.js";
import { HttpError, isJsonContentType, parseJsonBody, queryParams, RateLimiter } from "../../src/api/http.js";
import { eventsAfter, parseEventSelection, parseTriggerBody, selectEvents, withHooks } from "../../src/api/query.js";
import { testEvent } from "./test-event.js";

const ev = (seq: number, over: Partial<NetevdEvent> = {}, run = "mx1"): NetevdEvent =>
  testEvent({ id: `${run}-${seq}`, ts: new Date(Date.UTC(2026, 10, 28, 12, 0, seq)).toISOString(), ...over });
const history = [ev(1), ev(2, { event: "no-carrier" }), ev(3, { link: "eth1", index: 3 }), ev(4), ev(5, { event: "routes" })];
const sel = (q: string, include = true) => parseEventSelection(new URLSearchParams(q), { include });
const status = (fn: () => unknown): number => {
  try {
    fn();
  } catch (e) {
    if (e instanceof HttpError) return e.status;
    throw e;
  }
  return 0;
};

test("event selection: since an id of this run, limit keeps the newest, link and event filters", () => {
  assert.deepEqual(
    selectEvents(history, sel("since=mx1-2")).map((e) => e.id),
    ["mx1-3", "mx1-4", "mx1-5"],
  );
  assert.deepEqual(
    selectEvents(history, sel("limit=2")).map((e) => e.id),
    ["mx1-4", "mx1-5"],
  );
  assert.deepEqual(
    selectEvents(history, sel("link=eth0&event=carrier")).map((e) => e.id),
    ["mx1-1", "mx1-4"],
  );
  assert.deepEqual(
    selectEvents(history, sel("since=mx1-1&link=eth0&limit=1")).map((e) => e.id),
    ["mx1-5"],
  );
  assert.deepEqual(
    selectEvents(history, sel("since=2026-11-28T12:00:03Z")).map((e) => e.id),
    ["mx1-4", "mx1-5"],
  );
  assert.deepEqual(
    selectEvents(history, sel("since=2026-11-28T13:00:03%2B01:00")).map((e) => e.id),
    ["mx1-4", "mx1-5"],
  );
});

test("resume after an id of another run (daemon restarted) or of nothing known replays the whole history", () => {
  assert.equal(eventsAfter(history, "zz9-4").length, 5);
  assert.equal(eventsAfter(history, "garbage").length, 5);
  assert.deepEqual(
    eventsAfter(history, "mx1-4").map((e) => e.id),
    ["mx1-5"],
  );
  assert.deepEqual(eventsAfter(history, "mx1-5"), []);
  assert.deepEqual(eventsAfter([], "mx1-5"), []);
});

test("bad query parameters are 400s naming the parameter", () => {
  for (const q of [
    "limit=0",
    "limit=-1",
    "limit=abc",
    "limit=10000000",
    "since=yesterday",
    "since=2026-13-45T00:00:00Z",
    "link=../../etc",
    "link=" + "x".repeat(16),
    "event=nope",
    "event=carrier.d",
    "include=everything",
    "foo=1",
    "limit=1&limit=2",
  ]) {
    assert.equal(
      status(() => sel(q)),
      400,
      q,
    );
  }
  assert.equal(
    status(() => sel("include=hooks", false)),
    400,
  );
  assert.equal(sel("include=hooks").includeHooks, true);
  assert.equal(
    status(() => queryParams(new URLSearchParams("x=1"), [])),
    400,
  );
  assert.equal(queryParams(new URLSearchParams(""), []).size, 0);
});

test("hook results are attached to the events that caused them", () => {
  const h = (eventId: string, script: string): HookRunResult => ({
    eventId,
    event: "carrier",
    link: "eth0",
    script,
    path: `/etc/netevd/carrier.d/${script}`,
    startedAt: "",
    durationMs: 1,
    exitCode: 0,
    signal: null,
    timedOut: false,
    ok: true,
    stderrTail: [],
  });
  const out = withHooks([ev(1), ev(4)], [h("mx1-1", "a"), h("mx1-2", "x"), h("mx1-1", "b"), h("mx1-4", "c")]);
  assert.deepEqual(
    out.map((e) => e.hooks.map((x) => x.script)),
    [["a", "b"], ["c"]],
  );
});

test("trigger body: exactly link and event, validated", () => {
  assert.deepEqual(parseTriggerBody({ link: "lab0", event: "carrier" }), { link: "lab0", event: "carrier" });
  for (const b of [
    null,
    [],
    "x",
    1,
    {},
    { link: "lab0" },
    { link: "lab0", event: "carrier", extra: 1 },
    { link: "a/b", event: "carrier" },
    { link: "lab0", event: "../x" },
    { link: 5, event: "carrier" },
  ]) {
    assert.equal(
      status(() => parseTriggerBody(b)),
      400,
      JSON.stringify(b),
    );
  }
  assert.equal(parseJsonBody(Buffer.alloc(0)), undefined);
  assert.deepEqual(parseJsonBody(Buffer.from('{"a":1}')), { a: 1 });
  assert.equal(
    status(() => parseJsonBody(Buffer.from("{nope"))),
    400,
  );
  assert.ok(isJsonContentType("application/json; charset=utf-8"));
  assert.ok(isJsonContentType("Application/JSON"));
  assert.ok(!isJsonContentType("text/plain"));
  assert.ok(!isJsonContentType(undefined));
});

test("listen policy: loopback without a token is fine, anything else needs api.token", () => {
  for (const h of ["127.0.0.1", "127.1.2.3", "::1", "localhost", "::ffff:127.0.0.1"]) assert.ok(isLoopbackHost(h), h);
  for (const h of ["0.0.0.0", "::", "10.0.0.1", "example.com", "::ffff:10.0.0.1", "128.0.0.1"]) assert.ok(!isLoopbackHost(h), h);
  const cfg = (api: Partial<Config["api"]>): Config => {
    const c = defaultConfig();
    return { ...c, api: { ...c.api, ...api } };
  };
  assert.equal(checkApiConfig(cfg({})), undefined);
  assert.equal(checkApiConfig(cfg({ listen: "[::1]:9090" })), undefined);
  assert.equal(checkApiConfig(cfg({ listen: "" })), undefined);
  assert.equal(checkApiConfig(cfg({ listen: "0.0.0.0:9090", enabled: false })), undefined);
  assert.equal(checkApiConfig(cfg({ listen: "0.0.0.0:9090", token: "s3cret-token" })), undefined);
  assert.match(checkApiConfig(cfg({ listen: "0.0.0.0:9090" })) ?? "", /api\.token/);
  assert.match(checkApiConfig(cfg({ listen: "[::]:9090" })) ?? "", /not a loopback address/);
});

test("rate limiter: a burst of `rate`, then one token per 1/rate s, per client", () => {
  let now = 0;
  const rl = new RateLimiter(() => now);
  for (let i = 0; i < 5; i++) assert.equal(rl.take("a", 5), 0);
  assert.ok(rl.take("a", 5) > 0);
  assert.equal(rl.take("b", 5), 0); // another client has its own bucket
  now += 200;
  assert.equal(rl.take("a", 5), 0);
  assert.ok(rl.take("a", 5) > 0);
  now += 10_000;
  for (let i = 0; i < 5; i++) assert.equal(rl.take("a", 5), 0); // refill is capped at the burst
  assert.ok(rl.take("a", 5) > 0);
});

test("rate limiter table stays small under many client addresses", () => {
  let now = 0;
  const rl = new RateLimiter(() => now);
  for (let i = 0; i < 10_000; i++) {
    rl.take(`10.0.${i >> 8}.${i & 255}`, 100);
    now += 1000;
  }
  assert.ok(rl.size <= 1024, String(rl.size));
});
