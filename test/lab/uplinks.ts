// A second uplink for policy routing tests, built inside a lab (its netns lives in the lab's private
// mount namespace and dies with it):
//
//   client netns (tests, netevd)             nv-up-<id> (a second ISP router)
//   up1  10.88.0.2/24 fd88::2/64  ── veth ──  p-up1 10.88.0.1/24 fd88::1/64
//                                             lo    10.99.0.1/32 fd99::1/128  (a host beyond it)
//
// 10.99.0.1 / fd99::1 exist only behind up1: the main table's default route points at lab0, so
// traffic from the uplink's address reaches them only when policy routing sends it out of up1.
import { spawn, type ChildProcess } from "node:child_process";
import net from "node:net";
import { ip, lab, sh, waitFor } from "./lab.js";

export const UP = {
  ifname: "up1",
  peer: "p-up1",
  addr4: "10.88.0.2",
  gw4: "10.88.0.1",
  addr6: "fd88::2",
  gw6: "fd88::1",
  far4: "10.99.0.1",
  far6: "fd99::1",
  port: 7777,
} as const;

export const PROTO = "110";

export const upNs = (): string => `nv-up-${lab.nsCli.replace(/^nv-cli-/, "")}`;
export const ipUp = (...args: string[]) => sh(["ip", "-n", upNs(), ...args]);

/** lab0 as the main uplink (backend none): addresses and the main table's default routes (v4 + v6). */
export async function mainUplink(): Promise<void> {
  await ip("link", "set", lab.ifname, "up");
  await ip("addr", "replace", "10.77.0.60/24", "dev", lab.ifname);
  await ip("-6", "addr", "replace", "fd77::60/64", "dev", lab.ifname, "nodad");
  await ip("route", "replace", "default", "via", "10.77.0.1", "dev", lab.ifname, "metric", "100");
  await ip("-6", "route", "replace", "default", "via", "fd77::1", "dev", lab.ifname, "metric", "100");
}

/** Build the second uplink (link up, no client addresses yet). Replaces a previous one. */
export async function addUplink(): Promise<{ ifindex: number }> {
  await removeUplink();
  await sh(["ip", "netns", "add", upNs()]);
  await ipUp("link", "set", "lo", "up");
  await ip("link", "add", UP.ifname, "type", "veth", "peer", "name", UP.peer, "netns", upNs());
  await ipUp("addr", "add", `${UP.gw4}/24`, "dev", UP.peer);
  await ipUp("-6", "addr", "add", `${UP.gw6}/64`, "dev", UP.peer, "nodad");
  await ipUp("addr", "add", `${UP.far4}/32`, "dev", "lo");
  await ipUp("-6", "addr", "add", `${UP.far6}/128`, "dev", "lo");
  await ipUp("link", "set", UP.peer, "up");
  await ip("link", "set", UP.ifname, "up");
  return { ifindex: await ifindex(UP.ifname) };
}

export async function removeUplink(): Promise<void> {
  await ip("link", "del", UP.ifname).catch(() => undefined);
  await sh(["ip", "netns", "del", upNs()], { allowFail: true });
}

/** The client's addresses on up1 and its main-table defaults (metric 500: lab0 stays the main uplink). */
export async function upAddresses(opts: { v6dad?: boolean } = {}): Promise<void> {
  await ip("addr", "add", `${UP.addr4}/24`, "dev", UP.ifname);
  await ip("-6", "addr", "add", `${UP.addr6}/64`, "dev", UP.ifname, ...(opts.v6dad ? [] : ["nodad"]));
}

export async function upDefaults(): Promise<void> {
  await ip("route", "add", "default", "via", UP.gw4, "dev", UP.ifname, "metric", "500");
  await ip("-6", "route", "add", "default", "via", UP.gw6, "dev", UP.ifname, "metric", "500");
}

export async function ifindex(name: string): Promise<number> {
  const [l] = JSON.parse(await ip("-j", "link", "show", name)) as Array<{ ifindex: number }>;
  return l!.ifindex;
}

export interface KRule { family: 4 | 6; priority: number; src: string; srclen?: number; dst?: string; dstlen?: number; table: string; protocol?: string }
export interface KRoute { family: 4 | 6; dst: string; gateway?: string; dev?: string; protocol?: string; scope?: string; prefsrc?: string; metric?: number }

export async function rules(): Promise<KRule[]> {
  const out: KRule[] = [];
  for (const family of [4, 6] as const) {
    for (const r of JSON.parse(await ip(`-${family}`, "-j", "-d", "rule", "show")) as KRule[]) out.push({ ...r, family });
  }
  return out;
}

/** Our rules as `prio from|to ADDR lookup T`, sorted. */
export async function ourRules(): Promise<string[]> {
  return (await rules()).filter((r) => r.protocol === PROTO).map(ruleText).sort();
}

export const ruleText = (r: KRule): string =>
  `${r.priority} ${r.src !== "all" ? `from ${r.src}` : ""}${r.dst ? `to ${r.dst}` : ""} lookup ${r.table}`;

export async function tableRoutes(table: number | string): Promise<KRoute[]> {
  const out: KRoute[] = [];
  for (const family of [4, 6] as const) {
    const text = await ip(`-${family}`, "-j", "-d", "route", "show", "table", String(table)).catch(() => "[]");
    for (const r of JSON.parse(text || "[]") as KRoute[]) out.push({ ...r, family });
  }
  return out;
}

/** Routes as `dst [via gw] dev IF [src S] proto P`, sorted. */
export async function tableText(table: number | string): Promise<string[]> {
  return (await tableRoutes(table)).map(routeText).sort();
}

export const routeText = (r: KRoute): string =>
  `${r.dst}${r.gateway ? ` via ${r.gateway}` : ""} dev ${r.dev}${r.prefsrc ? ` src ${r.prefsrc}` : ""} proto ${r.protocol}`;

/** Every route tagged with our protocol, in any table. */
export async function ourRoutes(): Promise<string[]> {
  return (await tableRoutes("all")).filter((r) => r.protocol === PROTO).map(routeText).sort();
}

/** Delete whatever a previous test left under our protocol (rules; routes die with up1). */
export async function flushOurs(): Promise<void> {
  for (const r of (await rules()).filter((x) => x.protocol === PROTO)) {
    const sel = [...(r.src !== "all" ? ["from", r.src] : []), ...(r.dst ? ["to", r.dst] : [])];
    await ip(`-${r.family}`, "rule", "del", "pref", String(r.priority), ...sel, "table", r.table, "protocol", PROTO).catch(() => undefined);
  }
}

/** TCP servers on the far host (10.99.0.1, fd99::1) answering "pong". */
export async function farHost(): Promise<ChildProcess> {
  const script = `const net = require("node:net"); let n = 0;
    for (const h of ["${UP.far4}", "${UP.far6}"]) net.createServer((s) => s.end("pong " + s.remoteAddress + "\\n")).listen(${UP.port}, h, () => { if (++n === 2) console.log("listening"); });`;
  const child = spawn("ip", ["netns", "exec", upNs(), process.execPath, "-e", script], { stdio: ["ignore", "pipe", "inherit"] });
  await new Promise<void>((res, rej) => {
    child.stdout.once("data", () => res());
    child.once("exit", (c) => rej(new Error(`far host exited (${c})`)));
  });
  return child;
}

/** Connect from `from` to the far host: the answer, or the error (unreachable, timeout). */
export function probe(host: string, from: string, timeoutMs = 1500): Promise<string | Error> {
  return new Promise((res) => {
    const s = net.connect({ host, port: UP.port, localAddress: from, timeout: timeoutMs });
    let data = "";
    s.on("data", (d) => { data += d.toString(); });
    s.on("end", () => res(data.trim()));
    s.on("timeout", () => { s.destroy(); res(new Error("timeout")); });
    s.on("error", (e) => res(e));
  });
}

/** Packets received by the second uplink's router on its side of the veth. */
export async function upRxPackets(): Promise<number> {
  const [l] = JSON.parse(await ipUp("-j", "-s", "link", "show", UP.peer)) as Array<{ stats64: { rx: { packets: number } } }>;
  return l!.stats64.rx.packets;
}

/** Wait until `get()` equals `want` (as sorted lists); on timeout the error shows what there was. */
async function waitSame(what: string, get: () => Promise<string[]>, want: string[], ms: number): Promise<void> {
  const w = JSON.stringify([...want].sort());
  let last: string[] = [];
  try {
    await waitFor(what, async () => JSON.stringify((last = await get())) === w, ms);
  } catch {
    throw new Error(`timeout after ${ms} ms waiting for ${what}\n  want: ${w}\n  have: ${JSON.stringify(last)}`);
  }
}

export const waitTable = (table: number, want: string[], ms = 5000) => waitSame(`table ${table}`, () => tableText(table), want, ms);
export const waitRules = (want: string[], ms = 5000) => waitSame("our rules", ourRules, want, ms);
