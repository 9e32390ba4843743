// The `netevd` command.
import { chownSync, closeSync, existsSync, mkdirSync, readFileSync, realpathSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { dirname, join } from "node:path";
import { parseArgs } from "node:util";
import { ConfigError, formatProblem, loadConfig, migrateConfigText, type Config } from "../config/index.js";
import { createLogger, logRejection } from "../log.js";
import { packageVersion } from "../version.js";
import { spawn } from "node:child_process";
import { CAP_NET_ADMIN_BIT, CAP_NUMBERS, effectiveCaps, lookupUser, setprivArgv, setprivPath, unreadableFor, type PasswdEntry } from "./privileges.js";
import { addonCandidates, ambientClearAll, ambientRaise, loadNative } from "../netlink/native.js";
import { clientCommandOf, commandOf, runClientCommand } from "./client.js";
import { commandHelp, overview, usageErrorText } from "./help.js";

const EXIT = { ok: 0, failure: 1, usage: 2, unreachable: 3 } as const;

class UsageError extends Error {
  constructor(
    message: string,
    readonly cmd?: string,
  ) {
    super(message);
  }
}

async function main(argv: string[]): Promise<number> {
  const first = commandOf(argv);
  // `netevd help [CMD]`, `netevd [CMD] --help`, `netevd --version`, before any other parsing
  if (first === "help") {
    const rest = argv.filter((a) => !a.startsWith("-"));
    const topic = rest[1];
    if (topic === undefined) {
      process.stdout.write(overview());
      return EXIT.ok;
    }
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
        fd: { type: "string" },
        migrate: { type: "boolean" },
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
      return values.migrate ? migrate(values.config) : validate(values.config, values.json === true);
    case "test": {
      const [script, ...extra] = rest;
      if (!script || extra.length) throw new UsageError("test takes one SCRIPT", "test");
      if (!values.link || !values.event) throw new UsageError("test needs --link L and --event E", "test");
      let config;
      try {
        config = loadConfig({ path: values.config }).config;
      } catch (err) {
        if (err instanceof ConfigError) {
          process.stderr.write(`${err.message}\n`);
          return EXIT.failure;
        }
        throw err;
      }
      const asRoot = config.hooks.user === "root";
      if (process.getuid?.() === 0 && !asRoot) {
        // run the script as the daemon runs hooks: as system.user, with only hooks.capabilities
        const user = lookupUser(config.system.user);
        if (!user || user.uid === 0) {
          process.stderr.write(`netevd: user "${config.system.user}" (system.user) does not exist or is root\n`);
          return EXIT.failure;
        }
        return execAs(user, config.hooks.capabilities, false);
      }
      const { testHook, TestUsageError } = await import("./test-hook.js");
      try {
        return await testHook({ script, link: values.link, event: values.event, ip: values.ip }, config, process.stdout, asRoot);
      } catch (err) {
        if (err instanceof TestUsageError) throw new UsageError(err.message, "test");
        throw err;
      }
    }
    case "hook-runner":
      if (rest.length) throw new UsageError("hook-runner takes no arguments", "hook-runner");
      return hookRunner(values.config, values.fd);
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

/** `validate [--json]`: loadConfig makes every check the daemon makes at start-up. */
function validate(path: string | undefined, json: boolean): number {
  let report: ValidateReport;
  try {
    const { config, file, fromFile, notes } = loadConfig({ path });
    // the host checks `run` makes when started as root (validate as root makes them too)
    const problem = process.getuid?.() === 0 ? userProblem(config) : undefined;
    report = { ok: !problem, file, fromFile, notes, problems: problem ? [{ path: "system.user", message: problem }] : [] };
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
    for (const p of report.problems) process.stderr.write(`${formatProblem(report.file, p)}\n`);
  }
  return report.ok ? EXIT.ok : EXIT.failure;
}

/** `validate --migrate`: the file rewritten with today's keys on stdout, what was mapped or dropped on stderr. */
function migrate(path: string | undefined): number {
  try {
    const { file, fromFile } = loadConfig({ path });
    if (!fromFile) {
      process.stderr.write(`no config file (${file}): nothing to migrate\n`);
      return EXIT.failure;
    }
    const { text, warnings } = migrateConfigText(readFileSync(file, "utf8"), file);
    for (const w of warnings) process.stderr.write(`${formatProblem(file, w)}\n`);
    process.stdout.write(text);
    return EXIT.ok;
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\n`);
      return EXIT.failure;
    }
    throw err;
  }
}

/**
 * Why the host cannot run the daemon as system.user, or undefined. `run` checks this as root
 * (before dropping to the user), and `validate` makes the same check, so that it says ok only
 * when `run` would start.
 */
function userProblem(config: Config): string | undefined {
  const user = lookupUser(config.system.user);
  if (!user) {
    return (
      `user "${config.system.user}" (system.user) does not exist; create it ` +
      `(useradd --system --no-create-home --shell /usr/sbin/nologin ${config.system.user}) or set system.user. ` +
      `Refusing to run the daemon as root.`
    );
  }
  if (user.uid === 0) return `system.user "${user.name}" has uid 0; the daemon never runs as root. To run hook scripts as root, set hooks.user: root.`;
  const unreadable = unreadableFor(user, programFiles());
  if (unreadable) {
    return (
      `the ${user.name} user cannot read ${unreadable}, which it needs to run netevd; ` +
      `install netevd where system users can read it (the Debian package puts it in /usr/lib/netevd), or let ${user.name} in (chmod o+rx on that path)`
    );
  }
  return undefined;
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

  if (process.getuid?.() === 0) {
    // root: continue as system.user with only the capabilities we need (whatever the environment says)
    const problem = userProblem(config);
    if (problem) {
      process.stderr.write(`netevd: ${problem}\n`);
      return EXIT.failure;
    }
    const user = lookupUser(config.system.user)!;
    prepareSocketDir(config.api.enabled ? config.api.socket : "", user);
    const extraEnv: Record<string, string> = {};
    if (config.hooks.user === "root") extraEnv[RUNNER_FD_ENV] = String(startHookRunner(file));
    return execAs(user, config.hooks.capabilities, true, extraEnv);
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
    loadNative().setNoNewPrivs();
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

  let hookRunner;
  if (config.hooks.user === "root") {
    hookRunner = await connectHookRunner(log);
    if (!hookRunner) return EXIT.failure;
  }

  // loaded only here: a command that execs or fails early need not load the daemon
  const { Daemon } = await import("../daemon.js");
  const daemon = new Daemon({ config, configFile: file, log, hookRunner });
  let exitCode: number = EXIT.ok;
  const done = new Promise<void>((resolveDone) => {
    const stop = (reason: string, code: number) => {
      exitCode = code;
      void daemon.stop(reason).catch(logRejection(log, "stopping failed")).finally(resolveDone);
    };
    process.on("SIGTERM", () => stop("SIGTERM", EXIT.ok));
    process.on("SIGINT", () => stop("SIGINT", EXIT.ok));
    process.on("SIGHUP", () => {
      daemon.reload();
    });
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

/** The files the unprivileged daemon must read: node, bin/netevd, the compiled program (and its D-Bus and YAML chunks when bundled), the addon. */
function programFiles(): string[] {
  const self = fileURLToPath(import.meta.url);
  const chunks = self.endsWith(".cjs") ? ["netevd-dbus.cjs", "netevd-yaml.cjs"].map((f) => join(dirname(self), f)) : [];
  const files = [process.execPath, self, ...chunks, ...addonCandidates().filter((f) => existsSync(f))];
  if (process.argv[1]) files.push(process.argv[1]);
  return files.map((f) => {
    try {
      return realpathSync(f);
    } catch {
      return f;
    }
  });
}

/** The environment variable that names the inherited hook runner socket (hooks.user: root, started as root). */
const RUNNER_FD_ENV = "NETEVD_HOOK_RUNNER_FD";

/**
 * Start the privileged hook runner (root, own session) with one end of a socketpair as its fd 3;
 * returns our end, made inheritable for the exec into the unprivileged daemon.
 */
function startHookRunner(configFile: string): number {
  const native = loadNative();
  const [mine, theirs] = native.socketpair();
  const child = spawn(process.execPath, [...process.execArgv, process.argv[1]!, "hook-runner", "-c", configFile, "--fd", "3"], {
    stdio: ["ignore", "inherit", "inherit", theirs],
    detached: true, // its own session: the terminal's Ctrl-C goes to the daemon, which then closes the socket
    env: { PATH: "/usr/sbin:/usr/bin:/sbin:/bin", ...(process.env.NETEVD_LOG_FORMAT ? { NETEVD_LOG_FORMAT: process.env.NETEVD_LOG_FORMAT } : {}) },
  });
  child.unref();
  closeSync(theirs);
  native.setCloexec(mine, false);
  return mine;
}

/** The daemon's connection to the root hook runner: the inherited socket, else the systemd socket. */
async function connectHookRunner(log: ReturnType<typeof createLogger>) {
  const { RunnerClient } = await import("../actions/hooks/runner-client.js");
  const { RUNNER_SOCKET } = await import("../actions/hooks/runner.js");
  const raw = process.env[RUNNER_FD_ENV];
  delete process.env[RUNNER_FD_ENV];
  if (raw !== undefined && /^[0-9]{1,6}$/.test(raw)) {
    const fd = Number(raw);
    try {
      // only a root process can have made it: a unix socket whose peer was root when created
      const cred = loadNative().peerCred(fd);
      if (cred.uid !== 0) throw new Error(`peer uid ${cred.uid}, not root`);
      loadNative().setCloexec(fd, true);
      log.info("hook runner", { via: "inherited socket", runnerPid: cred.pid });
      return RunnerClient.fromFd(fd);
    } catch (err) {
      log.error("hooks.user is root but the inherited hook runner socket is unusable; not starting", { err: (err as Error).message });
      return undefined;
    }
  }
  try {
    const client = await RunnerClient.connect(RUNNER_SOCKET);
    log.info("hook runner", { via: RUNNER_SOCKET });
    return client;
  } catch (err) {
    log.error(
      "hooks.user is root but no hook runner is reachable; not starting. Start netevd as root " + "(it starts the runner), or enable netevd-hook-runner.socket under systemd",
      { socket: RUNNER_SOCKET, err: (err as Error).message },
    );
    return undefined;
  }
}

/** `netevd hook-runner`: the privileged runner; root only, and only when hooks.user is root. */
async function hookRunner(path: string | undefined, fdArg: string | undefined): Promise<number> {
  if (process.getuid?.() !== 0) {
    process.stderr.write("netevd: hook-runner runs as root (it runs hooks.user: root scripts)\n");
    return EXIT.failure;
  }
  let config;
  try {
    config = loadConfig({ path }).config;
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`netevd: invalid configuration, hook runner not starting:\n${err.message}\n`);
      return EXIT.failure;
    }
    throw err;
  }
  const log = createLogger({
    level: config.system.log_level,
    format: (process.env.NETEVD_LOG_FORMAT as "text" | "json" | undefined) ?? config.system.log_format,
  }).child({ source: "hook-runner" });
  if (config.hooks.user !== "root") {
    log.error("hooks.user is not root: the hook runner has nothing to do; not starting");
    return EXIT.failure;
  }
  const { runRunner } = await import("../actions/hooks/runner.js");
  // started (config loaded, modules in): V8's own interrupt budget from here on, as in the daemon
  (await import("../memory.js")).endStartup();
  const dirs = { scripts: config.system.scripts_dirs, networkdDispatcher: config.compat.networkd_dispatcher_dirs };
  if (fdArg !== undefined) {
    if (!/^[0-9]{1,6}$/.test(fdArg)) throw new UsageError("--fd takes a file descriptor number");
    await runRunner({ dirs, log, fd: Number(fdArg) });
    return EXIT.ok;
  }
  // socket activation: LISTEN_FDS=1 for this pid, the socket is fd 3
  if (process.env.LISTEN_FDS !== "1" || process.env.LISTEN_PID !== String(process.pid)) {
    log.error("hook-runner needs --fd N or a socket from systemd (netevd-hook-runner.socket)");
    return EXIT.failure;
  }
  const user = lookupUser(config.system.user);
  if (!user || user.uid === 0) {
    log.error("system.user does not exist or is root; not starting", { user: config.system.user });
    return EXIT.failure;
  }
  const native = loadNative();
  await runRunner({ dirs, log, listenFd: 3, allowUid: user.uid, peerUid: (fd) => native.peerCred(fd).uid });
  return EXIT.ok;
}

/**
 * Become `user` through setpriv by exec: this process is replaced (same pid), no root parent stays.
 * Returns only on failure.
 */
function execAs(user: PasswdEntry, caps: readonly string[], daemon: boolean, extraEnv: Record<string, string> = {}): number {
  const setpriv = setprivPath();
  if (!setpriv) {
    process.stderr.write("netevd: setpriv (util-linux) not found; it is needed to drop privileges\n");
    return EXIT.failure;
  }
  const argv = setprivArgv(user, caps, [process.execPath, ...process.execArgv, process.argv[1]!, ...process.argv.slice(2)], daemon);
  const env = Object.entries({ ...process.env, ...extraEnv })
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => `${k}=${v}`);
  try {
    // Node marks its stdio close-on-exec: the daemon must keep them (the terminal, journald's stream)
    for (const fd of [0, 1, 2]) {
      try {
        loadNative().setCloexec(fd, false);
      } catch {
        /* closed */
      }
    }
    loadNative().execve(setpriv, argv, env);
  } catch (err) {
    process.stderr.write(`netevd: cannot exec ${setpriv}: ${(err as Error).message}\n`);
  }
  return EXIT.failure;
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
