import { test } from "node:test";
import assert from "node:assert/strict";
import { Counter, Gauge, Histogram, Registry } from "../../src/prometheus.js";

test("exposition text: counters, gauges, histograms, labels escaped, unlabelled series at 0", () => {
  const r = new Registry();
  const c = r.register(new Counter("x_total", "Things\nseen", ["kind"]));
  const g = r.register(new Gauge("y", "A gauge"));
  const h = r.register(new Histogram("d_seconds", "Durations", ["dir"], [0.1, 1]));
  const z = r.register(new Counter("z_total", "Never incremented"));
  c.inc({ kind: 'a"b\\c\nd' });
  c.inc({ kind: "plain" }, 2);
  g.set(7);
  h.observe({ dir: "carrier.d" }, 0.05);
  h.observe({ dir: "carrier.d" }, 0.5);
  h.observe({ dir: "carrier.d" }, 5);
  assert.equal(r.metrics(), [
    "# HELP x_total Things\\nseen\n# TYPE x_total counter\n" +
      'x_total{kind="a\\"b\\\\c\\nd"} 1\nx_total{kind="plain"} 2\n',
    "# HELP y A gauge\n# TYPE y gauge\ny 7\n",
    "# HELP d_seconds Durations\n# TYPE d_seconds histogram\n" +
      'd_seconds_bucket{dir="carrier.d",le="0.1"} 1\nd_seconds_bucket{dir="carrier.d",le="1"} 2\nd_seconds_bucket{dir="carrier.d",le="+Inf"} 3\n' +
      'd_seconds_sum{dir="carrier.d"} 5.55\nd_seconds_count{dir="carrier.d"} 3\n',
    "# HELP z_total Never incremented\n# TYPE z_total counter\nz_total 0\n",
  ].join("\n"));
  assert.throws(() => c.inc({ kind: "a" }, -1), /only goes up/);
  assert.throws(() => c.inc({ other: "a" }), /label "kind" missing/);
  assert.throws(() => r.register(new Gauge("y", "again")), /registered twice/);
  void z;
});

test("collect callbacks run at scrape time", () => {
  const r = new Registry();
  let n = 0;
  r.register(new Gauge("scrapes", "Scrapes so far", [], (g) => g.set(++n)));
  assert.match(r.metrics(), /^scrapes 1$/m);
  assert.match(r.metrics(), /^scrapes 2$/m);
});
