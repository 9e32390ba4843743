// systemd-networkd: carrier loss → no-carrier.d and carrier back → routable.d, netevd vs
// networkd-dispatcher, on the same lab (real systemd-networkd managing lab0 with DHCP from the
// lab's dnsmasq).
// References, both taken in this process (run it with SCHED_FIFO: scripts/bench.sh does):
//   * kernel: arrival of the carrier-down RTM_NEWLINK on our own rtnetlink socket;
//   * networkd: arrival of networkd's PropertiesChanged(CarrierState=no-carrier) on our own bus
//     connection, and of PropertiesChanged(OperationalState=routable) for routable.d.
// End: the hook's exec start, recorded by the hookstamp binary (CLOCK_MONOTONIC).
// Contenders, one at a time: netevd with emit_json on (the default: a Link.Describe() round trip
// for $JSON before the hook), netevd with emit_json off, networkd-dispatcher -S <dir>.
import { spawn, type ChildProcess } from "node:child_process";
import { SystemBus, type Signal } from "../src/dbus/bus.js";
import {
  CarrierWatch,
  DaemonProcess,
  IpBatch,
  dist,
  fmtDist,
  lab,
  mb,
  monoNs,
  report,
  requireLab,
  say,
  sleep,
  stamps,
  stampTree,
  statusKb,
  sh,
  waitChange,
  waitFor,
  writeConfig,
  type Dist,
} from "./common.js";

requireLab("networkd-hook");

const FLAPS = Number(process.env.BENCH_NETWORKD_FLAPS ?? 100);
const GAP_MS = 50;
const NETWORKD = "org.freedesktop.network1";

interface Variant {
  name: string;
  flaps: number;
  missed: number;
  sigToHook: Dist;
  kernelToHook: Dist;
  kernelToSig: Dist;
  /** networkd's OperationalState=routable signal → routable.d exec start */
  routableSigToHook: Dist;
  /** VmRSS of the contender before and after the flaps */
  rssBeforeMb: number;
  rssMb: number;
}

/** networkd's link CarrierState / OperationalState changes as this process saw them. */
class NetworkdWatch {
  readonly noCarrier: bigint[] = [];
  readonly routable: bigint[] = [];
  oper = "";
  constructor(bus: SystemBus) {
    bus.onSignal((s: Signal) => {
      const t = monoNs();
      if (s.member !== "PropertiesChanged" || s.body[0] !== `${NETWORKD}.Link`) return;
      const changed = s.body[1] as Record<string, { value: unknown }>;
      if (changed.CarrierState?.value === "no-carrier") this.noCarrier.push(t);
      if (typeof changed.OperationalState?.value === "string") {
        if (changed.OperationalState.value === "routable" && this.oper !== "routable") this.routable.push(t);
        this.oper = changed.OperationalState.value;
      }
    });
  }
}

async function flaps(name: string, n: number, out: string, kernel: CarrierWatch, nd: NetworkdWatch, rssPid: () => number): Promise<Variant> {
  const rssBeforeMb = mb(statusKb(rssPid(), "VmRSS"));
  const srv = new IpBatch(lab.nsSrv);
  const sigToHook: number[] = [];
  const kernelToHook: number[] = [];
  const kernelToSig: number[] = [];
  const routableSigToHook: number[] = [];
  let missed = 0;
  try {
    for (let i = 0; i < n; i++) {
      const s0 = stamps(out, "no-carrier").length;
      const k0 = kernel.downs.length;
      const n0 = nd.noCarrier.length;
      srv.run(`link set ${lab.peer} down`);
      try {
        await waitChange(out, () => stamps(out, "no-carrier").length > s0 && kernel.downs.length > k0 && nd.noCarrier.length > n0, 5000);
        const hook = stamps(out, "no-carrier")[s0]!;
        sigToHook.push(Number(hook - nd.noCarrier[n0]!) / 1e6);
        kernelToHook.push(Number(hook - kernel.downs[k0]!) / 1e6);
        kernelToSig.push(Number(nd.noCarrier[n0]! - kernel.downs[k0]!) / 1e6);
      } catch {
        missed++;
      }
      await sleep(GAP_MS);
      const r0 = stamps(out, "routable").length;
      const nr0 = nd.routable.length;
      srv.run(`link set ${lab.peer} up`);
      // back to the same starting point each time: networkd has re-run DHCP and routable.d ran
      try {
        await waitChange(out, () => stamps(out, "routable").length > r0 && nd.routable.length > nr0, 10_000);
        routableSigToHook.push(Number(stamps(out, "routable")[r0]! - nd.routable[nr0]!) / 1e6);
      } catch {
        missed++;
        await waitFor("lab0 routable again", () => nd.oper === "routable", 10_000, 5).catch(() => {
          missed++;
        });
      }
      await sleep(GAP_MS);
    }
  } finally {
    srv.close();
  }
  const rssMb = mb(statusKb(rssPid(), "VmRSS"));
  return {
    name,
    flaps: n,
    missed,
    sigToHook: dist(sigToHook),
    kernelToHook: dist(kernelToHook),
    kernelToSig: dist(kernelToSig),
    routableSigToHook: dist(routableSigToHook),
    rssBeforeMb,
    rssMb,
  };
}

async function netevd(emitJson: boolean, kernel: CarrierWatch, nd: NetworkdWatch): Promise<Variant> {
  const { base, out } = stampTree(["no-carrier", "carrier", "routable"], "binary");
  const cfg = writeConfig(
    `system:\n  backend: systemd-networkd\n  scripts_dir: ${base}\nmonitoring:\n  interfaces: [${lab.ifname}]\n` +
      `hooks:\n  replay_on_start: false\nbackends:\n  systemd_networkd:\n    emit_json: ${emitJson}\n`,
  );
  const d = DaemonProcess.start(["run", "-c", cfg]);
  try {
    await d.waitRecord((r) => r.msg === "ready", 10_000);
    await d.waitRecord((r) => r.msg === "systemd-networkd attached", 10_000);
    const pid = Number(d.records.find((r) => r.msg === "starting")!.pid);
    await sleep(300);
    return await flaps(`netevd (emit_json ${emitJson ? "on" : "off"})`, FLAPS, out, kernel, nd, () => pid);
  } finally {
    await d.stop();
  }
}

async function dispatcher(kernel: CarrierWatch, nd: NetworkdWatch): Promise<Variant> {
  const { base, out } = stampTree(["no-carrier", "carrier", "routable"], "binary");
  // scripts/bench.sh: the copy scripts/setup-lab.sh unpacked, or an installed one
  const child: ChildProcess = spawn(process.env.NETEVD_ND_BIN || "networkd-dispatcher", ["-S", base], { stdio: ["ignore", "ignore", "pipe"] });
  let stderr = "";
  child.stderr!.on("data", (b: Buffer) => {
    stderr = (stderr + b.toString()).slice(-2000);
  });
  try {
    // it has subscribed once a flap reaches its script (warm-up flaps are not counted)
    await sleep(1500);
    await flaps("warm-up", 2, out, kernel, nd, () => child.pid!);
    if (stamps(out, "no-carrier").length === 0) throw new Error(`networkd-dispatcher ran no script; its stderr:\n${stderr}`);
    return await flaps("networkd-dispatcher", FLAPS, out, kernel, nd, () => child.pid!);
  } finally {
    child.kill("SIGTERM");
  }
}

/**
 * Why emit_json costs what it costs: Link.Describe() round trip called by this process (no hook
 * runner running) right when networkd's no-carrier signal arrives, vs. on an idle networkd.
 */
async function describeRtt(bus: SystemBus, kernel: CarrierWatch, nd: NetworkdWatch, n: number): Promise<{ idle: Dist; atCarrierLoss: Dist }> {
  const index = Number(JSON.parse(await sh(["ip", "-j", "link", "show", lab.ifname]))[0].ifindex);
  const path = `/org/freedesktop/network1/link/_3${String(index)[0]}${String(index).slice(1)}`;
  const describe = async (): Promise<number> => {
    const t0 = monoNs();
    await bus.call({ destination: NETWORKD, path, iface: `${NETWORKD}.Link`, member: "Describe" });
    return Number(monoNs() - t0) / 1e6;
  };
  const idle: number[] = [];
  for (let i = 0; i < n; i++) {
    idle.push(await describe());
    await sleep(20);
  }
  const atLoss: number[] = [];
  const srv = new IpBatch(lab.nsSrv);
  try {
    for (let i = 0; i < n; i++) {
      const n0 = nd.noCarrier.length;
      const pending = new Promise<number>((resolve) => {
        const poll = setInterval(() => {
          if (nd.noCarrier.length > n0) {
            clearInterval(poll);
            resolve(describe());
          }
        }, 0);
      });
      srv.run(`link set ${lab.peer} down`);
      atLoss.push(await pending);
      await sleep(GAP_MS);
      srv.run(`link set ${lab.peer} up`);
      await waitFor("lab0 routable again", () => nd.oper === "routable", 10_000, 5);
      await sleep(GAP_MS);
    }
  } finally {
    srv.close();
  }
  void kernel;
  return { idle: dist(idle), atCarrierLoss: dist(atLoss) };
}

async function main(): Promise<void> {
  const bus = await SystemBus.connect();
  await bus.addMatch(`type='signal',sender='${NETWORKD}',interface='org.freedesktop.DBus.Properties',member='PropertiesChanged',path_namespace='/org/freedesktop/network1'`);
  const nd = new NetworkdWatch(bus);
  const kernel = new CarrierWatch();
  const results: Variant[] = [];
  for (const run of [() => netevd(true, kernel, nd), () => netevd(false, kernel, nd), () => dispatcher(kernel, nd)]) {
    const r = await run();
    results.push(r);
    say(`${r.name}, ${r.flaps} flaps${r.missed ? ` (${r.missed} missed)` : ""}, RSS ${r.rssBeforeMb} MB before, ${r.rssMb} MB after:`);
    say(`  networkd signal -> hook exec: ${fmtDist(r.sigToHook)}`);
    say(`  kernel carrier loss -> hook exec: ${fmtDist(r.kernelToHook)}`);
    say(`  (kernel -> networkd signal: ${fmtDist(r.kernelToSig)})`);
    say(`  networkd routable signal -> routable.d exec: ${fmtDist(r.routableSigToHook)}`);
  }
  const rtt = await describeRtt(bus, kernel, nd, 20);
  say(`Link.Describe() round trip from this process: idle networkd ${fmtDist(rtt.idle)}`);
  say(`  called when the no-carrier signal arrives:    ${fmtDist(rtt.atCarrierLoss)}`);
  kernel.close();
  bus.disconnect();
  const [json, plain, nwd] = results as [Variant, Variant, Variant];
  const ratio = (a: number, b: number) => Math.round((a / b) * 10) / 10;
  say(
    `networkd-dispatcher / netevd (p50, kernel carrier loss -> no-carrier.d): ${ratio(nwd.kernelToHook.p50, json.kernelToHook.p50)}x ` +
      `with emit_json on, ${ratio(nwd.kernelToHook.p50, plain.kernelToHook.p50)}x with it off (target >= 4x)`,
  );
  say(
    `networkd-dispatcher / netevd (p50, routable signal -> routable.d): ${ratio(nwd.routableSigToHook.p50, json.routableSigToHook.p50)}x ` +
      `with emit_json on, ${ratio(nwd.routableSigToHook.p50, plain.routableSigToHook.p50)}x with it off`,
  );
  report("networkd-hook", {
    flaps: FLAPS,
    gapMs: GAP_MS,
    netevdEmitJson: json,
    netevdNoJson: plain,
    networkdDispatcher: nwd,
    describeRttMs: rtt,
    ratioP50: { emitJson: ratio(nwd.sigToHook.p50, json.sigToHook.p50), noJson: ratio(nwd.sigToHook.p50, plain.sigToHook.p50) },
    // the issue-14 figures: kernel carrier loss → no-carrier.d, routable signal → routable.d
    ratioP50KernelToNoCarrier: { emitJson: ratio(nwd.kernelToHook.p50, json.kernelToHook.p50), noJson: ratio(nwd.kernelToHook.p50, plain.kernelToHook.p50) },
    ratioP50Routable: { emitJson: ratio(nwd.routableSigToHook.p50, json.routableSigToHook.p50), noJson: ratio(nwd.routableSigToHook.p50, plain.routableSigToHook.p50) },
    target: { sigToHookP50Ms: 4, networkdDispatcherReferenceP50Ms: 26, kernelToNoCarrierRatio: 4 },
  });
}

await main();
process.exit(0);
