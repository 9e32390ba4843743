import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { httpDate, isoTime } from "../../src/time.js";

test("isoTime and httpDate give exactly what toISOString and toUTCString give", () => {
  for (const ms of [0, 1, 999, 1_000, 951_782_400_000, Date.UTC(2026, 10, 30, 16, 4, 5, 123), Date.UTC(9999, 11, 31, 23, 59, 59, 999), -1, Date.UTC(0, 0, 1)]) {
    assert.equal(isoTime(ms), new Date(ms).toISOString(), String(ms));
  }
  fc.assert(
    fc.property(fc.integer({ min: Date.UTC(1970, 0, 1), max: Date.UTC(9999, 11, 31, 23, 59, 59, 999) }), (ms) => {
      assert.equal(isoTime(ms), new Date(ms).toISOString());
      assert.equal(httpDate(ms), new Date(ms).toUTCString());
    }),
    { numRuns: 20_000 },
  );
});

test("isoTime outside years 0–9999 and for invalid dates behaves as toISOString", () => {
  const far = Date.UTC(10000, 0, 1);
  assert.equal(isoTime(far), new Date(far).toISOString());
  assert.throws(() => isoTime(NaN), RangeError);
});
