// The `netevd` command.
import { chownSync, existsSync, mkdirSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { dirname, resolve } from "node:path";
import { parseArgs } from "node:util";
import { ConfigError, DEFAULT_CONFIG_PATH, loadConfig } from "../config/index.js";
import { createLogger } from "../log.js";
import { spawn } from "node:child_process";
import { CAP_NET_ADMIN_BIT, CAP_NUMBERS, effectiveCaps, lookupUser, REEXEC_MARK, setprivArgv } from "./privileges.js";
import { ambientClearAll, ambientRaise } from "../netlink/native.js";
import { CLIENT_USAGE, clientCommandOf, runClientCommand } from "./client.js";

const EXIT = { ok: 0, failure: 1, usage: 2, unreachable: 3 } as const;

const USAGE = `usage: netevd [COMMAND] [OPTIONS]

commands:
  run                     run the daemon (the default)
  validate [-c PATH]      check a config file; exit 1 with the reasons when it is bad
  test SCRIPT --link L --event E [--ip A]
                          run SCRIPT with the environment a real event E on link L would give it,
                          and print its output, exit code and duration
  version                 print the version

options:
  -c, --config PATH       config file (default ${DEFAULT_CONFIG_PATH}, or $NETEVD_CONFIG)
  -h, --help              this text

${CLIENT_USAGE}`;

function packageVersion(): string {
  const root = resolve(dirname(fileURLToPath(import.meta.url)), "../../..");
  return (JSON.parse(readFileSync(resolve(root, "package.json"), "utf8")) as { version: string }).version;
}

class UsageError extends Error {}

async function main(argv: string[]): Promise<number> {
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
    throw new UsageError((err as Error).message);
  }
  const { values, positionals } = parsed;
  if (values.help) {
    process.stdout.write(USAGE);
    return EXIT.ok;
  }
  const [cmd = "run", ...rest] = positionals;
  switch (cmd) {
    case "run":
      if (rest.length) throw new UsageError(`run takes no arguments (got ${rest.join(" ")})`);
      return run(values.config);
    case "validate":
      if (rest.length) throw new UsageError(`validate takes no positional arguments; use -c PATH`);
      return validate(values.config);
    case "test": {
      const [script, ...extra] = rest;
      if (!script || extra.length) throw new UsageError("test takes one SCRIPT: netevd test SCRIPT --link L --event E [--ip A]");
      if (!values.link || !values.event) throw new UsageError("test needs --link L and --event E");
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
        if (err instanceof TestUsageError) throw new UsageError(err.message);
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

function validate(path: string | undefined): number {
  try {
    const { file, fromFile, notes } = loadConfig({ path });
    for (const n of notes) process.stdout.write(`${n}\n`);
    process.stdout.write(fromFile ? `${file}: ok\n` : `no config file (${file}): defaults are valid\n`);
    return EXIT.ok;
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\n`);
      return EXIT.failure;
    }
    throw err;
  }
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
  // loadConfig made every check of runProblems() (the same ones `validate` makes)
  const { config, file, notes } = loaded;

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
      process.stderr.write(`netevd: ${err.message}\n\n${USAGE}`);
      process.exit(EXIT.usage);
    }
    process.stderr.write(`netevd: ${(err as Error).stack ?? String(err)}\n`);
    process.exit(EXIT.failure);
  },
);
