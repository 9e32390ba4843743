// The page's session cookie and static files, and the metrics registry's idle cost and labels.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { PAGE_DIR, PAGE_FILES, SESSION_TTL_SEC, sessionCookie, sessionFromCookies, sessionValid, sessionValue } from "../../src/api/page.js";
import { recentHookFailures } from "../../src/api/routes.js";
import type { HookRunResult } from "../../src/events/types.js";

const TOKEN = "unit-token-0123456789";

test("a session value is valid for its token until it expires, and for nothing else", () => {
  const now = Date.now();
  const v = sessionValue(TOKEN, now);
  assert.ok(!v.includes(TOKEN));
  assert.equal(sessionValid(v, TOKEN, now), true);
  assert.equal(sessionValid(v, TOKEN, now + (SESSION_TTL_SEC - 1) * 1000), true);
  assert.equal(sessionValid(v, TOKEN, now + (SESSION_TTL_SEC + 1) * 1000), false, "expired");
  assert.equal(sessionValid(v, `${TOKEN}x`, now), false, "another token (rotated)");
  const [exp, mac] = v.split(".") as [string, string];
  assert.equal(sessionValid(`${Number(exp) + 3600}.${mac}`, TOKEN, now), false, "a stretched expiry");
  assert.equal(sessionValid(`${exp}.${mac.startsWith("A") ? "B" : "A"}${mac.slice(1)}`, TOKEN, now), false, "a changed MAC");
  // the 43rd character carries two spare bits: the next character decodes to the same MAC, and is refused
  const alt = `${mac.slice(0, -1)}${String.fromCharCode(mac.charCodeAt(42) + 1)}`;
  assert.ok(Buffer.from(alt, "base64url").equals(Buffer.from(mac, "base64url")));
  assert.equal(sessionValid(`${exp}.${alt}`, TOKEN, now), false, "a non-canonical spelling");
  for (const junk of [undefined, "", "x", `${exp}.`, `.${mac}`, `${exp}.${mac}.x`, "9".repeat(20) + "." + mac]) assert.equal(sessionValid(junk, TOKEN, now), false, String(junk));
});

test("the cookie is HttpOnly, SameSite=Strict, Secure only over TLS; found among others", () => {
  const c = sessionCookie(TOKEN, false);
  assert.match(c, /^netevd_session=[^;]+; Path=\/; Max-Age=43200; HttpOnly; SameSite=Strict$/);
  assert.match(sessionCookie(TOKEN, true), /; Secure$/);
  const value = c.split(";")[0]!.split("=")[1]!;
  assert.equal(sessionFromCookies(`a=b; netevd_session=${value}; c=d`), value);
  assert.equal(sessionFromCookies("a=b"), undefined);
  assert.equal(sessionFromCookies(undefined), undefined);
});

test("the page's files exist, load only same-origin resources and carry no inline script or style", () => {
  for (const f of Object.values(PAGE_FILES)) readFileSync(PAGE_DIR + f.file);
  const html = readFileSync(PAGE_DIR + "index.html", "utf8");
  assert.doesNotMatch(html, /<script>|<style|\son[a-z]+=|style="|https?:\/\//i);
  for (const m of html.matchAll(/(?:src|href)="([^"]+)"/g)) assert.ok(m[1] === "data:," || (m[1]! in PAGE_FILES), `${m[1]} is served`);
  const js = readFileSync(PAGE_DIR + "app.js", "utf8");
  assert.doesNotMatch(js, /innerHTML|outerHTML|insertAdjacentHTML|document\.write|eval\(|new Function/, "daemon strings never become markup");
});

test("recent hook failures: the last hour's, newest first, with the last non-empty stderr line", () => {
  const now = Date.parse("2025-06-01T12:00:00Z");
  const h = (min: number, ok: boolean, stderr: string[], script = "10-x"): HookRunResult => ({
    eventId: `r-${min}`, event: "carrier", link: "eth0", script, path: `/etc/netevd/carrier.d/${script}`, startedAt: new Date(now - min * 60_000).toISOString(), durationMs: 1,
    exitCode: ok ? 0 : 1, signal: null, timedOut: false, ok, stderrTail: stderr,
  });
  const got = recentHookFailures([h(90, false, ["old"]), h(30, false, ["a", "b", ""]), h(20, true, ["fine"]), h(5, false, [], "20-y")], now);
  assert.deepEqual(got.map((f) => [f.script, f.lastStderr, f.result]), [["20-y", null, "exit 1"], ["10-x", "b", "exit 1"]]);
});

test("metrics: the standard names; no timer at idle; label values pre-initialised from fixed lists", async () => {
  const { registry, LABEL_VALUES } = await import("../../src/metrics.js");
  const timers = () => process.getActiveResourcesInfo().filter((r) => r === "Timeout" || r === "Immediate").length;
  const before = timers();
  const text = registry.metrics();
  await new Promise((r) => setImmediate(r));
  assert.equal(timers(), before, "scraping leaves no timer behind");
  for (const n of ["process_cpu_seconds_total", "process_resident_memory_bytes", "process_start_time_seconds", "process_open_fds",
    "nodejs_heap_size_used_bytes", "nodejs_eventloop_lag_seconds", "nodejs_version_info"]) {
    assert.match(text, new RegExp(`^# TYPE ${n} `, "m"));
  }
  // the event-loop-delay histogram of collectDefaultMetrics() is what would wake an idle daemon
  assert.doesNotMatch(text, /nodejs_eventloop_lag_p99_seconds|_total (?:gauge)/);
  assert.doesNotMatch(text, /^# TYPE \S+_total gauge$/m, "no gauge named like a counter (promtool)");
  for (const dir of LABEL_VALUES.hookDir) {
    assert.match(text, new RegExp(`^netevd_hook_failures_total\\{dir="${dir.replace(".", "\\.")}"\\} 0$`, "m"));
    for (const result of LABEL_VALUES.hookResult) assert.match(text, new RegExp(`^netevd_hook_runs_total\\{dir="${dir.replace(".", "\\.")}",result="${result}"\\} 0$`, "m"));
  }
});
