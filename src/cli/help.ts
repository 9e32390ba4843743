// The CLI's help texts: the overview (`netevd --help`) and one per command (`netevd help CMD`,
// `netevd CMD --help`); and usage errors as one line plus a hint, the way coreutils and git do.
import { DEFAULT_CONFIG_PATH } from "../config/index.js";

export interface CommandHelp {
  usage: string;
  summary: string;
  details: string;
}

const CLIENT_OPTIONS = `client options:
  --json                  machine-readable output (the API's JSON)
  --endpoint URL          talk to http://HOST:PORT instead of the unix socket (api.socket)
  --token TOKEN           bearer token for --endpoint (default $NETEVD_API_TOKEN or api.token)
  -c, --config PATH       config file to find api.socket in (default ${DEFAULT_CONFIG_PATH})`;

export const COMMANDS: Readonly<Record<string, CommandHelp>> = {
  run: {
    usage: "netevd run [-c PATH]",
    summary: "run the daemon (the default)",
    details: `Runs the daemon in the foreground. Started as root it re-executes itself as system.user with
only the capabilities it needs.

options:
  -c, --config PATH       config file (default ${DEFAULT_CONFIG_PATH}, or $NETEVD_CONFIG)`,
  },
  validate: {
    usage: "netevd validate [-c PATH] [--json] [--migrate]",
    summary: "check a config file",
    details: `Checks a config file as the daemon would load it. Exit 0 when it is valid, 1 with the
reasons (file, line, key) when it is not.

options:
  -c, --config PATH       config file (default ${DEFAULT_CONFIG_PATH}, or $NETEVD_CONFIG)
  --json                  {"ok": true|false, "file": ..., "problems": [{"path", "line", "message"}], "notes": [...]}
  --migrate               print the file rewritten with today's keys (what was mapped or dropped on stderr)`,
  },
  test: {
    usage: "netevd test SCRIPT --link L --event E [--ip A]",
    summary: "run a hook script with the environment a real event would give it",
    details: `Runs SCRIPT as the daemon would for a real event E on link L now (argv [SCRIPT], that
environment, as hooks.user) and prints its output, exit code and duration.

options:
  --link L                the interface
  --event E               the event (a hook directory name without ".d", e.g. carrier, routable)
  --ip A                  an address to put in the event
  -c, --config PATH       config file`,
  },
  "hook-runner": {
    usage: "netevd hook-runner [-c PATH]",
    summary: "the privileged hook runner (hooks.user: root)",
    details: "Started by `netevd run` as root, or by netevd-hook-runner.socket under systemd; not for interactive use.",
  },
  version: {
    usage: "netevd version [--json]",
    summary: "print the version (also: netevd --version)",
    details: "Prints netevd's version and the Node.js version it runs on.",
  },
  help: {
    usage: "netevd help [COMMAND]",
    summary: "this overview, or a command's help",
    details: "Prints the overview, or with COMMAND that command's help (same as netevd COMMAND --help).",
  },
  status: {
    usage: "netevd status [--json]",
    summary: "daemon state, sources, counts, last reload, failed hooks of the last hour",
    details: `Asks the running daemon for its state: each source's health (with the reason when degraded),
counts, the last reload and its result, and the hook runs that failed in the last hour with the
last line of their stderr.

${CLIENT_OPTIONS}`,
  },
  list: {
    usage: "netevd list interfaces|routes|rules|scripts [--json]",
    summary: "the daemon's view of interfaces, routes, rules or hook scripts",
    details: `Tables of what the daemon knows. "scripts" shows which hook scripts would run and why others
are skipped.

${CLIENT_OPTIONS}`,
  },
  show: {
    usage: "netevd show interface NAME [--json]",
    summary: "one interface in detail",
    details: `Everything the daemon knows about one interface: kernel state, addresses, gateway, backend state.

${CLIENT_OPTIONS}`,
  },
  events: {
    usage: "netevd events [--follow] [--since TIME] [--link L] [--event E] [--limit N] [--utc] [--json]",
    summary: "recent events with their hook runs; --follow for live ones",
    details: `Events from the daemon's history (newest last), with the hook runs they caused. Times are shown
in local time (--utc for UTC).

options:
  -f, --follow            keep printing events as they happen; survives a daemon restart (reconnects
                          with backoff and resumes after the last event seen)
  --since TIME            events after TIME: a duration back from now (30s, 10m, 2h, 1d), a time
                          today (14:05, 14:05:30), a date or date and time (2025-06-01, 2025-06-01 14:05,
                          RFC 3339), or an event id
  --link L                only events of interface L
  --event E               only events E (a hook directory name without ".d")
  -n, --limit N           at most the last N events (default 50; 10 with --follow)
  --utc                   show times in UTC

${CLIENT_OPTIONS}`,
  },
  reload: {
    usage: "netevd reload [--json]",
    summary: "re-read the config (a bad file is rejected, the old one stays)",
    details: `Asks the daemon to re-read its config file. A file that does not validate is rejected with the
reasons (exit 1) and the running configuration stays in force.

${CLIENT_OPTIONS}`,
  },
  trigger: {
    usage: "netevd trigger LINK EVENT [--json]",
    summary: "run EVENT's hooks for LINK as if it happened",
    details: `Makes the daemon emit EVENT for LINK (flagged "trigger" in changed) and run its hooks.

${CLIENT_OPTIONS}`,
  },
};

export function overview(): string {
  const w = Math.max(...Object.keys(COMMANDS).map((c) => c.length)) + 2;
  const line = (c: string) => `  ${c.padEnd(w)}${COMMANDS[c]!.summary}`;
  const daemon = ["run", "validate", "test", "hook-runner", "version", "help"];
  const client = ["status", "list", "show", "events", "reload", "trigger"];
  return `usage: netevd [COMMAND] [OPTIONS]

commands:
${daemon.map(line).join("\n")}

commands talking to the running daemon:
${client.map(line).join("\n")}

options:
  -c, --config PATH   config file (default ${DEFAULT_CONFIG_PATH}, or $NETEVD_CONFIG)
  -h, --help          this text; with a command, that command's help
  --version           print the version

Run 'netevd help COMMAND' for a command's options.
`;
}

export function commandHelp(cmd: string): string | undefined {
  const c = COMMANDS[cmd];
  return c ? `usage: ${c.usage}\n\n${c.summary[0]!.toUpperCase()}${c.summary.slice(1)}.\n\n${c.details}\n` : undefined;
}

/** A usage error: one line, then where to read more. */
export function usageErrorText(message: string, cmd?: string): string {
  const hint = cmd && COMMANDS[cmd] ? `Try 'netevd help ${cmd}' for more information.` : "Try 'netevd --help' for more information.";
  return `netevd: ${message}\n${hint}\n`;
}
