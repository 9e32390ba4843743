// The `netevd` command.
import { chownSync, existsSync, mkdirSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { dirname, resolve } from "node:path";
import { parseArgs } from "node:util";
import { ConfigError, loadConfig } from "../config/index.js";
import { createLogger } from "../log.js";
import { spawn } from "node:child_process";
import { CAP_NET_ADMIN_BIT, CAP_NUMBERS, effectiveCaps, lookupUser, REEXEC_MARK, setprivArgv } from "./privileges.js";
import { ambientClearAll, ambientRaise } from "../netlink/native.js";
import { clientCommandOf, commandOf, runClientCommand } from "./client.js";
import { checkApiConfig } from "../api/server.js";
import { commandHelp, overview, usageErrorText } from "./help.js";

const EXIT = { ok: 0, failure: 1, usage: 2, unreachable: 3 } as const;



function packageVersion(): string {
  const root = resolve(dirname(fileURLToPath(import.meta.url)), "../../..");
  return (JSON.parse(readFileSync(resolve(root, "package.json"), "utf8")) as { version: string }).version;
}

class UsageError extends Error {
  constructor(message: string, readonly cmd?: string) {
    super(message);
  }
}

async function main(argv: string[]): Promise<number> {
  const first = commandOf(argv);
  // `netevd help [CMD]`, `netevd [CMD] --help`, `netevd --version`, before any other parsing
  if (first === "help") {
    const rest = argv.filter((a) => !a.startsWith("-"));
    const topic = rest[1];
    if (topic === undefined) { process.stdout.write(overview()); return EXIT.ok; }
    const text = commandHelp(topic);
    if (!text) throw new UsageError(`no such command "${topic}"`);
    process.stdout.write(text);
    return EXIT.ok;
  }
  if (argv.includes("--help") || argv.includes("-h")) {
    process.stdout.write(first ? (commandHelp(first) ?? overview()) : overview());
    return EXIT.ok;
  }
  if (first === undefined && argv.includes("--version")) {
    process.stdout.write(`netevd ${packageVersion()}\n`);
    return EXIT.ok;
  }
  // client commands (status, list, events, ...) parse their own options
  if (clientCommandOf(argv)) return runClientCommand(argv);
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        config: { type: "string", short: "c" },
        help: { type: "boolean", short: "h" },
        json: { type: "boolean" },
        link: { type: "string" },
        event: { type: "string" },
        ip: { type: "string" },
      },
    });
  } catch (err) {
    throw new UsageError((err as Error).message.replace(/\. To specify a positional argument.*$/s, ""), first);
  }
  const { values, positionals } = parsed;
  const [cmd = "run", ...rest] = positionals;
  if (values.json && cmd !== "validate" && cmd !== "version") throw new UsageError(`--json is not an option of "${cmd}"`, cmd);
  switch (cmd) {
    case "run":
      if (rest.length) throw new UsageError(`run takes no arguments (got ${rest.join(" ")})`, "run");
      return run(values.config);
    case "validate":
      if (rest.length) throw new UsageError(`validate takes no positional arguments; use -c PATH`, "validate");
      return validate(values.config, values.json === true);
    case "test": {
      const [script, ...extra] = rest;
      if (!script || extra.length) throw new UsageError("test takes one SCRIPT", "test");
      if (!values.link || !values.event) throw new UsageError("test needs --link L and --event E", "test");
      let config;
      try {
        config = loadConfig({ path: values.config }).config;
      } catch (err) {
        if (err instanceof ConfigError) { process.stderr.write(`${err.message}\n`); return EXIT.failure; }
        throw err;
      }
      if (process.getuid?.() === 0 && !process.env[REEXEC_MARK]) {
        // run the script as the daemon runs hooks: as system.user, with only hooks.capabilities
        const user = lookupUser(config.system.user);
        if (!user) { process.stderr.write(`netevd: user "${config.system.user}" (system.user) does not exist\n`); return EXIT.failure; }
        return reexecAs(user, config.hooks.capabilities, false);
      }
      const { testHook, TestUsageError } = await import("./test-hook.js");
      try {
        return await testHook({ script, link: values.link, event: values.event, ip: values.ip }, config);
      } catch (err) {
        if (err instanceof TestUsageError) throw new UsageError(err.message, "test");
        throw err;
      }
    }
    case "version":
      process.stdout.write(values.json ? JSON.stringify({ version: packageVersion(), node: process.version }) + "\n" : `netevd ${packageVersion()} (node ${process.version})\n`);
      return EXIT.ok;
    default:
      throw new UsageError(`unknown command "${cmd}"`);
  }
}

interface ValidateReport {
  ok: boolean;
  file: string;
  fromFile: boolean;
  problems: Array<{ path: string; line?: number; message: string }>;
  notes: string[];
}

function validate(path: string | undefined, json: boolean): number {
  let report: ValidateReport;
  try {
    const { config, file, fromFile, notes } = loadConfig({ path });
    // what the daemon would refuse at start-up is a problem too
    const apiProblem = checkApiConfig(config);
    report = { ok: !apiProblem, file, fromFile, notes, problems: apiProblem ? [{ path: "api.listen", message: apiProblem }] : [] };
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    report = { ok: false, file: err.file, fromFile: true, notes: [], problems: err.problems.map((p) => ({ ...p })) };
  }
  if (json) {
    process.stdout.write(JSON.stringify(report, null, 2) + "\n");
  } else if (report.ok) {
    for (const n of report.notes) process.stdout.write(`${n}\n`);
    process.stdout.write(report.fromFile ? `${report.file}: ok\n` : `no config file (${report.file}): defaults are valid\n`);
  } else {
    for (const p of report.problems) {
      const loc = p.line !== undefined ? `${report.file}:${p.line}` : report.file;
      process.stderr.write(p.path ? `${loc}: ${p.path}: ${p.message}\n` : `${loc}: ${p.message}\n`);
    }
  }
  return report.ok ? EXIT.ok : EXIT.failure;
}

async function run(path: string | undefined): Promise<number> {
  let loaded;
  try {
    loaded = loadConfig({ path });
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`netevd: invalid configuration, not starting:\n${err.message}\n`);
      return EXIT.failure;
    }
    throw err;
  }
  const { config, file, notes } = loaded;
  const apiProblem = checkApiConfig(config);
  if (apiProblem) {
    process.stderr.write(`netevd: ${apiProblem}; not starting\n`);
    return EXIT.failure;
  }

  if (process.getuid?.() === 0 && !process.env[REEXEC_MARK]) {
    // root: continue as system.user with only the capabilities we need
    const user = lookupUser(config.system.user);
    if (!user) {
      process.stderr.write(`netevd: user "${config.system.user}" (system.user) does not exist; create it ` +
        `(useradd --system --no-create-home --shell /usr/sbin/nologin ${config.system.user}) or set system.user. ` +
        `Refusing to run the daemon as root.\n`);
      return EXIT.failure;
    }
    prepareSocketDir(config.api.enabled ? config.api.socket : "", user);
    return reexecAs(user, config.hooks.capabilities);
  }
  const log = createLogger({
    level: config.system.log_level,
    format: (process.env.NETEVD_LOG_FORMAT as "text" | "json" | undefined) ?? config.system.log_format,
  });
  for (const n of notes) log.info(n);
  log.info("starting", { version: packageVersion(), config: file, backend: config.system.backend, pid: process.pid });
  // hooks inherit exactly hooks.capabilities (default none): clear the ambient set, then raise
  // only those. If that fails, hooks could inherit more than configured: do not start.
  try {
    ambientClearAll();
    for (const cap of config.hooks.capabilities) ambientRaise(CAP_NUMBERS[cap]!);
  } catch (err) {
    log.error("cannot set the capabilities hooks inherit; not starting", { err, capabilities: config.hooks.capabilities });
    return EXIT.failure;
  }
  const capEff = effectiveCaps();
  log.info("privileges", { uid: process.getuid?.(), gid: process.getgid?.(), capEff: capEff.toString(16).padStart(16, "0") });
  if (process.getuid?.() !== 0 && (capEff & CAP_NET_ADMIN_BIT) === 0n) {
    log.warn("running without CAP_NET_ADMIN: events and hooks work, policy routing cannot change the kernel");
  }

  // loaded only here: the root parent that just re-executes itself need not load the daemon
  const { Daemon } = await import("../daemon.js");
  const daemon = new Daemon({ config, configFile: file, log });
  let exitCode: number = EXIT.ok;
  const done = new Promise<void>((resolveDone) => {
    const stop = (reason: string, code: number) => {
      exitCode = code;
      void daemon.stop(reason).finally(resolveDone);
    };
    process.on("SIGTERM", () => stop("SIGTERM", EXIT.ok));
    process.on("SIGINT", () => stop("SIGINT", EXIT.ok));
    process.on("SIGHUP", () => { daemon.reload(); });
    process.on("uncaughtException", (err) => {
      log.error("internal error, exiting", { err, stack: err.stack });
      stop("internal error", EXIT.failure);
    });
  });
  try {
    await daemon.start();
  } catch (err) {
    log.error("startup failed", { err, stack: (err as Error).stack });
    await daemon.stop("startup failed");
    return EXIT.failure;
  }
  await done;
  return exitCode;
}

/**
 * The unix socket's directory (default /run/netevd) must be writable by the unprivileged daemon;
 * as root we can make it so before dropping (under systemd, RuntimeDirectory= does this).
 */
function prepareSocketDir(socketPath: string, user: { uid: number; gid: number }): void {
  if (!socketPath) return;
  const dir = dirname(socketPath);
  if (existsSync(dir)) return;
  try {
    mkdirSync(dir, { recursive: true, mode: 0o750 });
    chownSync(dir, user.uid, user.gid);
  } catch (err) {
    process.stderr.write(`netevd: cannot create ${dir} for the API socket: ${(err as Error).message}\n`);
  }
}

/** Run this command again as `user` through setpriv; this process only relays signals and the exit code. */
function reexecAs(user: { name: string; uid: number; gid: number }, caps: readonly string[], daemon = true): Promise<number> {
  const argv = setprivArgv(user, caps, [process.execPath, ...process.execArgv, ...process.argv.slice(1)], daemon);
  const child = spawn(argv[0]!, argv.slice(1), { stdio: "inherit", env: { ...process.env, [REEXEC_MARK]: "1" } });
  for (const sig of ["SIGTERM", "SIGINT", "SIGHUP"] as const) process.on(sig, () => child.kill(sig));
  return new Promise((res) => {
    child.on("error", (err) => { process.stderr.write(`netevd: cannot run setpriv: ${err.message}\n`); res(EXIT.failure); });
    child.on("exit", (code, signal) => res(code ?? (signal === "SIGTERM" ? EXIT.ok : EXIT.failure)));
  });
}

main(process.argv.slice(2)).then(
  // explicit exit: open handles (bus reconnect timers, sockets) must not keep a finished command alive;
  // stdout/stderr are synchronous for files and pipes on Linux, so nothing is cut off
  (code) => process.exit(code),
  (err: unknown) => {
    if (err instanceof UsageError) {
      process.stderr.write(usageErrorText(err.message, err.cmd));
      process.exit(EXIT.usage);
    }
    process.stderr.write(`netevd: ${(err as Error).stack ?? String(err)}\n`);
    process.exit(EXIT.failure);
  },
);
