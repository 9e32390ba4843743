// DNS and hostname pushes: a lease's DNS servers and domains to systemd-resolved
// (org.freedesktop.resolve1.Manager.SetLinkDNS / SetLinkDomains), its host name to
// systemd-hostnamed (SetStaticHostname). For links systemd-networkd manages, resolved answers
// LinkBusy: the same calls then go to networkd's Manager. Only validated values are pushed, only
// when the value to push changed, one call at a time; failures are logged with the D-Bus error
// name and counted, and never reach the daemon.
import { connectSystemBus } from "../dbus/connect.js";
import { isIP } from "node:net";
import type { Config } from "../config/index.js";
import { interfaceSelected } from "../config/index.js";
// dbus-next is loaded only when a push is first needed: hosts that never push don't pay its memory
import type { SystemBus } from "../dbus/bus.js";
import { validHostname, validIp } from "../net/validate.js";
import { logRejection, type Logger } from "../log.js";
import { metrics } from "../metrics.js";
import { monotonicMs } from "../time.js";
import type { Fact, NetworkModel } from "../state/model.js";

export interface DnsOptions {
  log: Logger;
  config(): Config;
  model(): NetworkModel;
}

const RESOLVE = { destination: "org.freedesktop.resolve1", path: "/org/freedesktop/resolve1", iface: "org.freedesktop.resolve1.Manager" };
const NETWORKD = { destination: "org.freedesktop.network1", path: "/org/freedesktop/network1", iface: "org.freedesktop.network1.Manager" };
const HOSTNAMED = { destination: "org.freedesktop.hostname1", path: "/org/freedesktop/hostname1", iface: "org.freedesktop.hostname1" };
const LINK_BUSY = "org.freedesktop.resolve1.LinkBusy";
/** hostnamed refuses static host names longer than HOST_NAME_MAX */
const HOST_NAME_MAX = 64;

export type PushKind = "dns" | "domains" | "hostname";

/** What a lease's fields ask to push: validated values only; `rejected` names what was left out. */
export interface PushPlan {
  dns: string[];
  domains: string[];
  hostname?: string;
  rejected: string[];
}

/** Pure: the DNS servers, search domains and host name of a set of DHCP_* fields, validated again. */
export function pushPlan(fields: Record<string, string>): PushPlan {
  const rejected: string[] = [];
  const words = (s: string | undefined) => (s ? s.split(" ").filter(Boolean) : []);
  const dns = words(fields.DHCP_DNS).filter((a) => validIp(a) || (rejected.push("dns"), false));
  const domains = [...new Set(words(fields.DHCP_DOMAIN).map((d) => (d.endsWith(".") ? d.slice(0, -1) : d).toLowerCase()))].filter(
    (d) => validHostname(d) || (rejected.push("domains"), false),
  );
  const plan: PushPlan = { dns, domains, rejected };
  const h = fields.DHCP_HOSTNAME;
  if (h) {
    const name = h.endsWith(".") ? h.slice(0, -1) : h;
    if (validHostname(name) && name.length <= HOST_NAME_MAX) plan.hostname = name;
    else rejected.push("hostname");
  }
  return plan;
}

/** `10.0.0.1` → [2, [10,0,0,1]], `2001:db8::1` → [10, [16 bytes]]: resolved's (iay). */
export function dnsAddress(a: string): [number, number[]] {
  if (isIP(a) === 4) return [2, a.split(".").map(Number)];
  const bytes: number[] = [];
  const [head = "", tail] = a.split("::") as [string, string | undefined];
  const groups = (s: string) => (s ? s.split(":") : []);
  let parts = groups(head);
  let tailParts = tail === undefined ? [] : groups(tail);
  // an embedded IPv4 suffix (::ffff:1.2.3.4) is two groups
  const v4 = (list: string[]) => {
    const last = list[list.length - 1];
    if (last && last.includes(".")) {
      const o = last.split(".").map(Number) as [number, number, number, number];
      list.splice(-1, 1, ((o[0] << 8) | o[1]).toString(16), ((o[2] << 8) | o[3]).toString(16));
    }
    return list;
  };
  if (tail === undefined) parts = v4(parts);
  else tailParts = v4(tailParts);
  const zeros = 8 - parts.length - tailParts.length;
  for (const g of [...parts, ...Array<string>(tail === undefined ? 0 : zeros).fill("0"), ...tailParts]) {
    const n = parseInt(g, 16);
    bytes.push((n >> 8) & 0xff, n & 0xff);
  }
  return [10, bytes];
}

interface Push {
  key: string;
  kind: PushKind;
  index: number;
  link: string;
  /** comparable form of what is pushed */
  value: string;
  values: string[];
}

export class DnsActions {
  private bus: SystemBus | null = null;
  private connecting: Promise<SystemBus> | null = null;
  /** what was last pushed successfully, per key ("dns:2", "domains:2", "hostname") */
  private readonly pushed = new Map<string, string>();
  private readonly wanted = new Map<string, Push>();
  private draining = false;
  private stopped = false;

  constructor(private readonly o: DnsOptions) {}

  /** backend facts (a lease's DNS, domain, host name) */
  onFacts(facts: Fact[]): void {
    if (this.stopped) return;
    const cfg = this.o.config();
    const use = cfg.backends.dhclient;
    if (!use.use_dns && !use.use_domain && !use.use_hostname) return;
    for (const f of facts) {
      if (f.fact !== "backend-state" || f.backend !== "dhclient") continue;
      if (!f.fields.DHCP_ADDRESS) continue; // no current lease
      const link = f.name ?? this.o.model().links.get(f.index)?.name;
      if (!link || !interfaceSelected(cfg, link)) continue;
      const plan = pushPlan(f.fields);
      for (const what of new Set(plan.rejected)) {
        this.o.log.warn("lease value not pushed: it does not validate", { link, kind: what });
      }
      const base = { index: f.index, link };
      if (use.use_dns) this.want({ ...base, key: `dns:${f.index}`, kind: "dns", value: plan.dns.join(" "), values: plan.dns });
      if (use.use_domain) this.want({ ...base, key: `domains:${f.index}`, kind: "domains", value: plan.domains.join(" "), values: plan.domains });
      if (use.use_hostname && plan.hostname) this.want({ ...base, key: "hostname", kind: "hostname", value: plan.hostname, values: [plan.hostname] });
    }
  }

  stop(): void {
    this.stopped = true;
    this.wanted.clear();
    this.bus?.disconnect();
    this.bus = null;
  }

  private want(p: Push): void {
    // nothing pushed yet and nothing to push: leave resolved alone
    if ((this.pushed.get(p.key) ?? "") === p.value) return;
    this.wanted.set(p.key, p);
    if (!this.draining) void this.drain().catch(logRejection(this.o.log, "DNS push failed"));
  }

  private async drain(): Promise<void> {
    this.draining = true;
    try {
      while (!this.stopped && this.wanted.size > 0) {
        const [key, p] = this.wanted.entries().next().value as [string, Push];
        this.wanted.delete(key);
        if ((this.pushed.get(key) ?? "") === p.value) continue;
        if (await this.push(p)) this.pushed.set(key, p.value);
      }
    } finally {
      this.draining = false;
    }
  }

  private async connection(): Promise<SystemBus> {
    if (this.bus && !this.bus.isClosed) return this.bus;
    this.bus = null;
    this.connecting ??= connectSystemBus().finally(() => {
      this.connecting = null;
    });
    this.bus = await this.connecting;
    return this.bus;
  }

  /** One push; true when it took effect. Never throws. */
  private async push(p: Push): Promise<boolean> {
    const t0 = monotonicMs();
    let via = p.kind === "hostname" ? HOSTNAMED.destination : RESOLVE.destination;
    try {
      const bus = await this.connection();
      if (p.kind === "hostname") {
        await bus.call({ ...HOSTNAMED, member: "SetStaticHostname", signature: "sb", body: [p.values[0], false] });
      } else {
        const call =
          p.kind === "dns"
            ? { member: "SetLinkDNS", signature: "ia(iay)", body: [p.index, p.values.map(dnsAddress)] }
            : { member: "SetLinkDomains", signature: "ia(sb)", body: [p.index, p.values.map((d) => [d, false])] };
        try {
          await bus.call({ ...RESOLVE, ...call });
        } catch (err) {
          // a link systemd-networkd manages: resolved defers to networkd, which takes the same call
          if (dbusName(err) !== LINK_BUSY) throw err;
          via = NETWORKD.destination;
          await bus.call({ ...NETWORKD, ...call });
        }
      }
      metrics.dnsPushes.inc({ kind: p.kind, result: "ok" });
      this.o.log.info("pushed", { kind: p.kind, link: p.link, index: p.index, values: p.values, via, ms: +(monotonicMs() - t0).toFixed(1) });
      return true;
    } catch (err) {
      metrics.dnsPushes.inc({ kind: p.kind, result: "error" });
      const e = err as Error;
      this.o.log.warn("push failed", {
        kind: p.kind,
        link: p.link,
        index: p.index,
        via,
        error: dbusName(err) ?? (e as NodeJS.ErrnoException).code ?? e.name,
        err: e.message,
      });
      return false;
    }
  }
}

/** The D-Bus error name of a failed call (DbusError.dbusName), if it is one. */
function dbusName(err: unknown): string | undefined {
  const n = (err as { dbusName?: unknown } | null)?.dbusName;
  return typeof n === "string" ? n : undefined;
}
