// A minimal Prometheus registry: counters, gauges and histograms with labels, rendered in the text
// exposition format 0.0.4. It replaces prom-client, which loads http/https/tls/zlib/cluster/crypto
// at import time (about 10 MB of RSS in an idle daemon) for features netevd does not use. Pure.

export const CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

type Labels = Record<string, string>;

const escapeLabel = (v: string) => v.replace(/\\/g, "\\\\").replace(/\n/g, "\\n").replace(/"/g, '\\"');
const escapeHelp = (v: string) => v.replace(/\\/g, "\\\\").replace(/\n/g, "\\n");

function fmt(n: number): string {
  if (Number.isNaN(n)) return "NaN";
  if (n === Infinity) return "+Inf";
  if (n === -Infinity) return "-Inf";
  return String(n);
}

function labelText(names: readonly string[], values: readonly string[], extra?: [string, string]): string {
  const parts = names.map((n, i) => `${n}="${escapeLabel(values[i] ?? "")}"`);
  if (extra) parts.push(`${extra[0]}="${escapeLabel(extra[1])}"`);
  return parts.length ? `{${parts.join(",")}}` : "";
}

/** The series key (label values joined by NUL) and the values, in labelNames order; unknown or missing labels throw. */
const NO_LABELS: { key: string; values: string[] } = { key: "", values: [] };

function seriesKey(name: string, labelNames: readonly string[], labels: Labels | undefined): { key: string; values: string[] } {
  // the hot path (netlink message counters, once per kernel batch): nothing to allocate
  if (labelNames.length === 0 && labels === undefined) return NO_LABELS;
  const values = labelNames.map((n) => {
    const v = labels?.[n];
    if (v === undefined) throw new Error(`metric ${name}: label "${n}" missing`);
    return String(v);
  });
  for (const k of Object.keys(labels ?? {})) {
    if (!labelNames.includes(k)) throw new Error(`metric ${name}: unknown label "${k}"`);
  }
  return { key: values.join("\u0000"), values };
}

abstract class Metric {
  /** label values joined by \u0000 → the series */
  protected readonly series = new Map<string, { values: string[]; value: number }>();

  constructor(
    readonly name: string,
    readonly help: string,
    readonly type: string,
    readonly labelNames: readonly string[],
    private readonly collectFn?: (m: Metric) => void,
  ) {}

  protected add(labels: Labels | undefined, delta: number, set = false): void {
    const { key, values } = seriesKey(this.name, this.labelNames, labels);
    const s = this.series.get(key);
    if (s) s.value = set ? delta : s.value + delta;
    else this.series.set(key, { values, value: delta });
  }

  reset(): void {
    this.series.clear();
  }

  render(): string {
    this.collectFn?.(this);
    let out = `# HELP ${this.name} ${escapeHelp(this.help)}\n# TYPE ${this.name} ${this.type}\n`;
    // a metric without labels always has its one series (0 until something happens)
    if (this.labelNames.length === 0 && this.series.size === 0) return `${out}${this.name} 0\n`;
    for (const s of this.series.values()) out += `${this.name}${labelText(this.labelNames, s.values)} ${fmt(s.value)}\n`;
    return out;
  }
}

export class Counter extends Metric {
  constructor(name: string, help: string, labelNames: readonly string[] = [], collect?: (c: Counter) => void) {
    super(name, help, "counter", labelNames, collect as ((m: Metric) => void) | undefined);
  }

  /** inc(), inc(5), inc({a: "x"}), inc({a: "x"}, 5); negative increments are refused */
  inc(labelsOrValue?: Labels | number, value?: number): void {
    const labels = typeof labelsOrValue === "object" ? labelsOrValue : undefined;
    const v = typeof labelsOrValue === "number" ? labelsOrValue : (value ?? 1);
    if (!(v >= 0)) throw new Error(`metric ${this.name}: a counter only goes up (got ${v})`);
    this.add(labels, v);
  }
}

export class Gauge extends Metric {
  constructor(name: string, help: string, labelNames: readonly string[] = [], collect?: (g: Gauge) => void) {
    super(name, help, "gauge", labelNames, collect as ((m: Metric) => void) | undefined);
  }

  /** set(3), set({a: "x"}, 3) */
  set(labelsOrValue: Labels | number, value?: number): void {
    if (typeof labelsOrValue === "number") this.add(undefined, labelsOrValue, true);
    else this.add(labelsOrValue, value ?? 0, true);
  }
}

export class Histogram {
  readonly type = "histogram";
  private readonly series = new Map<string, { values: string[]; counts: number[]; sum: number; count: number }>();

  constructor(
    readonly name: string,
    readonly help: string,
    readonly labelNames: readonly string[],
    readonly buckets: readonly number[],
  ) {}

  observe(labels: Labels, value: number): void {
    const { key, values } = seriesKey(this.name, this.labelNames, labels);
    let s = this.series.get(key);
    if (!s) {
      s = { values, counts: this.buckets.map(() => 0), sum: 0, count: 0 };
      this.series.set(key, s);
    }
    for (let i = 0; i < this.buckets.length; i++) if (value <= this.buckets[i]!) s.counts[i]!++;
    s.sum += value;
    s.count++;
  }

  render(): string {
    let out = `# HELP ${this.name} ${escapeHelp(this.help)}\n# TYPE ${this.name} histogram\n`;
    for (const s of this.series.values()) {
      this.buckets.forEach((b, i) => {
        out += `${this.name}_bucket${labelText(this.labelNames, s.values, ["le", fmt(b)])} ${s.counts[i]}\n`;
      });
      out += `${this.name}_bucket${labelText(this.labelNames, s.values, ["le", "+Inf"])} ${s.count}\n`;
      out += `${this.name}_sum${labelText(this.labelNames, s.values)} ${fmt(s.sum)}\n`;
      out += `${this.name}_count${labelText(this.labelNames, s.values)} ${s.count}\n`;
    }
    return out;
  }
}

export class Registry {
  readonly contentType = CONTENT_TYPE;
  private readonly list: Array<{ render(): string; name: string }> = [];

  register<T extends { render(): string; name: string }>(m: T): T {
    if (this.list.some((x) => x.name === m.name)) throw new Error(`metric ${m.name} registered twice`);
    this.list.push(m);
    return m;
  }

  /** The exposition text. Collect callbacks run now (process metrics are computed when scraped). */
  metrics(): string {
    return this.list.map((m) => m.render()).join("\n");
  }
}
