// NetworkManager: netevd vs NetworkManager-dispatcher (NMD) on the same lab (real NetworkManager
// managing lab0 with DHCP from the lab's dnsmasq), one contender at a time.
//   * `nmcli device disconnect` / `connect`: NetworkManager's Device.StateChanged(30 disconnected /
//     100 activated), as it arrives on this process's own bus connection → exec start of netevd's
//     disconnected.d / activated.d vs NMD's `down` / `up` script run (NM calls NMD itself, so parity
//     is the honest target);
//   * carrier loss (the peer set down): the kernel's carrier-down on our own rtnetlink socket → the
//     first hook exec: netevd's no-carrier.d vs NMD's `down` (NetworkManager waits ~6 s, its carrier
//     defer, before it deactivates; reported as it is).
// NMD is not bus-activated in the lab: /usr/lib/NetworkManager/nm-dispatcher --persist is started on
// the lab's bus for its phase, with the hookstamp binary as /etc/NetworkManager/dispatcher.d/10-stamp
// (the lab's /etc is an overlay: nothing of the host is touched).
import { spawn, type ChildProcess } from "node:child_process";
import { chmodSync, copyFileSync, mkdirSync } from "node:fs";
import { SystemBus, type Signal } from "../src/dbus/bus.js";
import {
  CarrierWatch,
  DaemonProcess,
  IpBatch,
  dist,
  fmtDist,
  hookstamp,
  lab,
  mb,
  monoNs,
  report,
  requireLab,
  say,
  sh,
  sleep,
  stamps,
  stampTree,
  statusKb,
  waitChange,
  waitFor,
  writeConfig,
  type Dist,
} from "./common.js";

requireLab("nm-hook");

const CYCLES = Number(process.env.BENCH_NM_CYCLES ?? 20);
const CARRIER_FLAPS = Number(process.env.BENCH_NM_CARRIER_FLAPS ?? 3);
const NM = "org.freedesktop.NetworkManager";
const NMD_BIN = "/usr/lib/NetworkManager/nm-dispatcher";
const NMD_DIR = "/etc/NetworkManager/dispatcher.d";
const NMD_OUT = "/etc/NetworkManager/out";

interface Result {
  name: string;
  cycles: number;
  carrierFlaps: number;
  missed: number;
  /** StateChanged(30) → disconnected.d / NMD down */
  disconnect: Dist;
  /** StateChanged(100) → activated.d / NMD up */
  connect: Dist;
  /** kernel carrier loss → the contender's first hook */
  carrierLossToFirstHook: Dist;
  rssMb: number;
}

/** lab0's NetworkManager device state changes as this process saw them. */
class NmWatch {
  readonly at = new Map<number, bigint[]>();
  state = 0;
  constructor(
    bus: SystemBus,
    private readonly path: string,
  ) {
    bus.onSignal((s: Signal) => {
      const t = monoNs();
      if (s.member !== "StateChanged" || s.iface !== `${NM}.Device` || s.path !== this.path) return;
      const st = Number(s.body[0]);
      this.state = st;
      const list = this.at.get(st) ?? [];
      list.push(t);
      this.at.set(st, list);
    });
  }
  count(st: number): number {
    return this.at.get(st)?.length ?? 0;
  }
  time(st: number, i: number): bigint | undefined {
    return this.at.get(st)?.[i];
  }
}

const nmcli = (...args: string[]) => sh(["nmcli", ...args]);

interface Ends {
  down: string;
  up: string;
  carrier: string;
  out: string;
}

async function measure(name: string, ends: Ends, nm: NmWatch, kernel: CarrierWatch, rssPid: () => number): Promise<Result> {
  const disconnect: number[] = [];
  const connect: number[] = [];
  const carrier: number[] = [];
  let missed = 0;
  const sample = async (event: string, st: number, into: number[], act: () => Promise<unknown>) => {
    const h0 = stamps(ends.out, event).length;
    const s0 = nm.count(st);
    await act();
    try {
      await waitChange(ends.out, () => stamps(ends.out, event).length > h0 && nm.count(st) > s0, 15_000);
      into.push(Number(stamps(ends.out, event)[h0]! - nm.time(st, s0)!) / 1e6);
    } catch {
      missed++;
    }
  };
  for (let i = 0; i < CYCLES; i++) {
    await sample(ends.down, 30, disconnect, () => nmcli("device", "disconnect", lab.ifname));
    await sleep(100);
    await sample(ends.up, 100, connect, () => nmcli("device", "connect", lab.ifname));
    await sleep(100);
  }
  const srv = new IpBatch(lab.nsSrv);
  try {
    for (let i = 0; i < CARRIER_FLAPS; i++) {
      const h0 = stamps(ends.out, ends.carrier).length;
      const k0 = kernel.downs.length;
      const n0 = nm.count(20);
      srv.run(`link set ${lab.peer} down`);
      try {
        // NetworkManager's carrier defer: its "down" comes ~6 s after the loss
        await waitChange(ends.out, () => stamps(ends.out, ends.carrier).length > h0 && kernel.downs.length > k0, 20_000);
        carrier.push(Number(stamps(ends.out, ends.carrier)[h0]! - kernel.downs[k0]!) / 1e6);
      } catch {
        missed++;
      }
      // the same starting point for both contenders: NetworkManager has given the device up
      // (unavailable, after its carrier defer) before the carrier comes back
      await waitFor("lab0 unavailable", () => nm.count(20) > n0, 20_000, 20).catch(() => {
        missed++;
      });
      const u0 = nm.count(100);
      srv.run(`link set ${lab.peer} up`);
      await waitFor("lab0 activated again", () => nm.count(100) > u0, 30_000, 20).catch(() => {
        missed++;
      });
      await sleep(300);
    }
  } finally {
    srv.close();
  }
  return {
    name,
    cycles: CYCLES,
    carrierFlaps: CARRIER_FLAPS,
    missed,
    disconnect: dist(disconnect),
    connect: dist(connect),
    carrierLossToFirstHook: dist(carrier),
    rssMb: mb(statusKb(rssPid(), "VmRSS")),
  };
}

async function netevd(nm: NmWatch, kernel: CarrierWatch): Promise<Result> {
  const { base, out } = stampTree(["disconnected", "activated", "no-carrier"], "binary");
  const cfg = writeConfig(`system:\n  backend: NetworkManager\n  scripts_dir: ${base}\nmonitoring:\n  interfaces: [${lab.ifname}]\nhooks:\n  replay_on_start: false\n`);
  const d = DaemonProcess.start(["run", "-c", cfg]);
  try {
    await d.waitRecord((r) => r.msg === "ready", 10_000);
    await d.waitRecord((r) => r.msg === "NetworkManager attached", 10_000);
    const pid = Number(d.records.find((r) => r.msg === "starting")!.pid);
    await sleep(300);
    return await measure("netevd", { down: "disconnected", up: "activated", carrier: "no-carrier", out }, nm, kernel, () => pid);
  } finally {
    await d.stop();
  }
}

async function dispatcher(nm: NmWatch, kernel: CarrierWatch): Promise<Result> {
  mkdirSync(NMD_DIR, { recursive: true, mode: 0o755 });
  mkdirSync(NMD_OUT, { recursive: true, mode: 0o1777 });
  chmodSync(NMD_OUT, 0o1777);
  copyFileSync(hookstamp(), `${NMD_DIR}/10-stamp`);
  chmodSync(`${NMD_DIR}/10-stamp`, 0o755);
  const child: ChildProcess = spawn(NMD_BIN, ["--persist"], { stdio: ["ignore", "ignore", "pipe"] });
  let stderr = "";
  child.stderr!.on("data", (b: Buffer) => {
    stderr = (stderr + b.toString()).slice(-2000);
  });
  try {
    const bus = await SystemBus.connect();
    await waitFor("nm-dispatcher on the bus", () => bus.nameHasOwner("org.freedesktop.nm_dispatcher"), 10_000, 50).catch((err: Error) => {
      throw new Error(`${err.message}; its stderr:\n${stderr}`);
    });
    bus.disconnect();
    return await measure("NetworkManager-dispatcher", { down: "down", up: "up", carrier: "down", out: NMD_OUT }, nm, kernel, () => child.pid!);
  } finally {
    child.kill("SIGTERM");
  }
}

async function main(): Promise<void> {
  const bus = await SystemBus.connect();
  const [path] = await bus.call({ destination: NM, path: "/org/freedesktop/NetworkManager", iface: NM, member: "GetDeviceByIpIface", signature: "s", body: [lab.ifname] });
  await bus.addMatch(`type='signal',sender='${NM}',interface='${NM}.Device',member='StateChanged'`);
  const nm = new NmWatch(bus, String(path));
  const kernel = new CarrierWatch();
  await waitFor("lab0 activated", async () => (await nmcli("-g", "GENERAL.STATE", "device", "show", lab.ifname)).startsWith("100"), 30_000, 100);
  const results: Result[] = [];
  for (const run of [() => netevd(nm, kernel), () => dispatcher(nm, kernel)]) {
    const r = await run();
    results.push(r);
    say(`${r.name}: ${r.cycles} disconnect/connect cycles, ${r.carrierFlaps} carrier flaps${r.missed ? ` (${r.missed} missed)` : ""}, RSS ${r.rssMb} MB`);
    say(`  StateChanged(disconnected) -> ${r.name === "netevd" ? "disconnected.d" : "down"} exec: ${fmtDist(r.disconnect)}`);
    say(`  StateChanged(activated) -> ${r.name === "netevd" ? "activated.d" : "up"} exec: ${fmtDist(r.connect)}`);
    say(`  kernel carrier loss -> first hook (${r.name === "netevd" ? "no-carrier.d" : "down"}): ${fmtDist(r.carrierLossToFirstHook)}`);
  }
  kernel.close();
  bus.disconnect();
  const [ne, nmd] = results as [Result, Result];
  const ratio = (a: number, b: number) => Math.round((a / b) * 100) / 100;
  say(
    `NMD / netevd p50: disconnect ${ratio(nmd.disconnect.p50, ne.disconnect.p50)}x, connect ${ratio(nmd.connect.p50, ne.connect.p50)}x ` +
      `(target: netevd within 10% or 1 ms), carrier loss -> first hook ${Math.round(nmd.carrierLossToFirstHook.p50 / ne.carrierLossToFirstHook.p50)}x (target >= 100x)`,
  );
  report("nm-hook", {
    cycles: CYCLES,
    carrierFlaps: CARRIER_FLAPS,
    netevd: ne,
    nmDispatcher: nmd,
    ratioP50: {
      disconnect: ratio(nmd.disconnect.p50, ne.disconnect.p50),
      connect: ratio(nmd.connect.p50, ne.connect.p50),
      carrierLossToFirstHook: Math.round(nmd.carrierLossToFirstHook.p50 / ne.carrierLossToFirstHook.p50),
    },
    target: { stateToHook: "netevd p50 <= NMD p50 * 1.1 or + 1 ms", carrierLossRatio: 100 },
  });
}

await main();
process.exit(0);
