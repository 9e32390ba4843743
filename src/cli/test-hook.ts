// `netevd test SCRIPT --link L --event E [--ip A]`: run one script exactly as the daemon would for
// a real event on that link now (the kernel's current view of it), and print what happened.
import { basename, resolve } from "node:path";
import { RtnlRequester } from "../netlink/rtnl.js";
import { linkByName, modelFrom } from "../state/model.js";
import { EventFactory, snapshotOf } from "../events/factory.js";
import { hookDirName } from "../hook-dirs.js";
import { validIfname, validIp } from "../net/validate.js";
import { buildHookEnv } from "../actions/hooks/env.js";
import { runContext, runScript, type HookLogger } from "../actions/hooks/run.js";
import type { Config } from "../config/index.js";

export interface TestHookArgs {
  script: string;
  link: string;
  event: string;
  ip?: string;
}

export class TestUsageError extends Error {}

/**
 * Run the script as a hook would run for that event: argv [real path], the event's environment, as
 * the current user (the caller has become hooks.user already; `asRoot` for hooks.user: root).
 */
export async function testHook(a: TestHookArgs, config: Config, out: NodeJS.WritableStream = process.stdout, asRoot = false): Promise<number> {
  if (!hookDirName(a.event)) throw new TestUsageError(`unknown event "${a.event}" (an event is a hook dir name without .d, e.g. routable, no-carrier)`);
  if (!validIfname(a.link, true)) throw new TestUsageError(`invalid interface name "${a.link}"`);
  if (a.ip !== undefined && !validIp(a.ip.replace(/\/\d{1,3}$/, ""))) throw new TestUsageError(`invalid address "${a.ip}"`);

  const req = RtnlRequester.open();
  let model;
  try {
    model = modelFrom(await req.dumpAll());
  } finally {
    req.close();
  }
  const link = linkByName(model, a.link);
  if (!link) {
    out.write(`netevd: no interface "${a.link}" on this host\n`);
    return 1;
  }
  const snap = snapshotOf(model, link);
  if (a.ip !== undefined) {
    const withPrefix = a.ip.includes("/") ? a.ip : `${a.ip}/${a.ip.includes(":") ? 128 : 32}`;
    snap.addresses = [withPrefix, ...snap.addresses.filter((x) => x !== withPrefix)];
  }
  const event = new EventFactory().make({ event: a.event, link: link.name, index: link.index, source: "kernel", snap, changed: ["test"] });
  const job = { event, state: a.event, env: {} };
  const { env, problems } = buildHookEnv(job, process.env);
  for (const p of problems) out.write(`warning: ${p.variable} dropped: ${p.reason}\n`);

  const print: HookLogger = {
    info: (msg, f) => {
      if (msg === "hook output") out.write(`${f.stream === "stderr" ? "stderr" : "stdout"}: ${String(f.line)}\n`);
    },
    warn: (msg, f) => {
      if (msg === "hook env value dropped") out.write(`warning: ${String(f.variable)} dropped: ${String(f.reason)}\n`);
    },
    error: () => {},
    debug: () => {},
  };
  const path = resolve(a.script);
  const r = await runScript({ name: basename(path), path }, runContext(job), env, {
    timeoutSec: config.hooks.timeout_sec,
    daemonUid: asRoot ? 0 : (process.getuid?.() ?? 0),
    noNewPrivs: !asRoot,
    log: print,
  });
  if (r.error) {
    out.write(`netevd: ${path}: ${r.error}\n`);
    return 1;
  }
  const how = r.timedOut ? `timed out after ${config.hooks.timeout_sec} s` : r.signal ? `killed by ${r.signal}` : `exit code ${r.exitCode}`;
  out.write(`${path}: ${how}, ${r.durationMs} ms (event ${a.event}, link ${link.name}, index ${link.index})\n`);
  return r.ok ? 0 : 1;
}
