// `netevd status | list | show | events | reload | trigger`: talk to the running daemon over its unix
// socket (api.socket of the config) or --endpoint URL. Tables for people, --json for scripts.
// Exit codes: 0 ok, 1 failure, 2 usage, 3 daemon unreachable.
import { parseArgs } from "node:util";
import { loadConfig } from "../config/index.js";
import { defaultConfig, type Config } from "../config/schema.js";
import { hookDirName } from "../hook-dirs.js";
import { validIfname } from "../net/validate.js";
import type { NetevdEvent } from "../events/types.js";
import { ApiError, callApi, DaemonUnreachable, followStream, type Endpoint } from "../api/client.js";
import type { InterfaceView, RouteView, RuleView } from "../api/views.js";
import type { ScriptsView } from "../api/scripts.js";
import { formatEvent, formatInterface, formatInterfaces, formatRoutes, formatRules, formatScripts, formatStatus } from "./format.js";

const EXIT = { ok: 0, failure: 1, usage: 2, unreachable: 3 } as const;

export const CLIENT_COMMANDS: ReadonlySet<string> = new Set(["status", "list", "show", "events", "reload", "trigger"]);

export const CLIENT_USAGE = `commands talking to the running daemon:
  status                          daemon state, sources, counts
  list interfaces|routes|rules|scripts
  show interface NAME
  events [--follow] [--link L] [--event E] [--limit N]
  reload                          re-read the config (a bad file is rejected, the old one stays)
  trigger LINK EVENT              run EVENT's hooks for LINK as if it happened

client options:
  --json                  machine-readable output (the API's JSON; one event per line with --follow)
  --endpoint URL          talk to http://HOST:PORT instead of the unix socket (api.socket)
  --token TOKEN           bearer token for --endpoint (default $NETEVD_API_TOKEN or api.token)
`;

const OPTIONS = {
  config: { type: "string", short: "c" },
  json: { type: "boolean" },
  follow: { type: "boolean", short: "f" },
  link: { type: "string" },
  event: { type: "string" },
  limit: { type: "string", short: "n" },
  endpoint: { type: "string" },
  token: { type: "string" },
  help: { type: "boolean", short: "h" },
} as const;

class UsageError extends Error {}

/** The client command `argv` asks for (its first positional argument), or undefined. */
export function clientCommandOf(argv: readonly string[]): string | undefined {
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === "--") return argv[i + 1] !== undefined && CLIENT_COMMANDS.has(argv[i + 1]!) ? argv[i + 1] : undefined;
    if (a.startsWith("-")) {
      const name = a.replace(/^-+/, "");
      const opt = Object.entries(OPTIONS).find(([k, o]) => k === name || ("short" in o && o.short === name));
      if (opt && opt[1].type === "string" && !a.includes("=")) i++;
      continue;
    }
    return CLIENT_COMMANDS.has(a) ? a : undefined;
  }
  return undefined;
}

function configFor(path: string | undefined): Config {
  try {
    return loadConfig({ path }).config;
  } catch {
    // unreadable or (being edited and) invalid: the daemon runs with what it loaded before; the
    // defaults find its socket in the usual case
    return defaultConfig();
  }
}

export function endpointFrom(opts: { endpoint?: string; token?: string; config?: string }): Endpoint {
  if (opts.endpoint !== undefined) {
    let url: URL;
    try {
      url = new URL(opts.endpoint);
    } catch {
      throw new UsageError(`--endpoint must be a URL like http://127.0.0.1:9090, got ${JSON.stringify(opts.endpoint)}`);
    }
    if (url.protocol !== "http:") throw new UsageError(`--endpoint: only http:// URLs are supported, got ${url.protocol}`);
    const token = opts.token ?? process.env.NETEVD_API_TOKEN ?? configFor(opts.config).api.token ?? undefined;
    return token ? { url, token } : { url };
  }
  const cfg = configFor(opts.config);
  if (cfg.api.socket) return { socketPath: cfg.api.socket };
  if (cfg.api.listen) {
    const token = opts.token ?? process.env.NETEVD_API_TOKEN ?? cfg.api.token ?? undefined;
    const url = new URL(`http://${cfg.api.listen}`);
    return token ? { url, token } : { url };
  }
  throw new UsageError("the config has neither api.socket nor api.listen: use --endpoint URL");
}

function want(args: string[], n: number, usage: string): void {
  if (args.length !== n) throw new UsageError(`usage: netevd ${usage}`);
}

function out(s: string): void {
  process.stdout.write(s);
}

const printJson = (v: unknown): void => out(JSON.stringify(v, null, 2) + "\n");

/** Run one client command; `argv` is the whole command line after `netevd`. */
export async function runClientCommand(argv: string[]): Promise<number> {
  // `netevd events --follow | head` closes stdout: that is the end, not an error
  process.stdout.on("error", (err: NodeJS.ErrnoException) => { if (err.code === "EPIPE") process.exit(EXIT.ok); });
  try {
    return await run(argv);
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(`netevd: ${err.message}\n\n${CLIENT_USAGE}`);
      return EXIT.usage;
    }
    if (err instanceof DaemonUnreachable) {
      process.stderr.write(`netevd: ${err.message}\n`);
      return EXIT.unreachable;
    }
    if (err instanceof ApiError) {
      process.stderr.write(`netevd: ${err.message}\n`);
      return EXIT.failure;
    }
    throw err;
  }
}

async function run(argv: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, allowPositionals: true, options: OPTIONS });
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const { values: o, positionals } = parsed;
  if (o.help) {
    out(CLIENT_USAGE);
    return EXIT.ok;
  }
  const [cmd = "", ...args] = positionals;
  if (cmd !== "events") {
    for (const k of ["follow", "link", "event", "limit"] as const) if (o[k] !== undefined) throw new UsageError(`--${k} is an option of "events" only`);
  }
  const ep = () => endpointFrom(o);

  switch (cmd) {
    case "status": {
      want(args, 0, "status [--json]");
      const { body } = await callApi<Parameters<typeof formatStatus>[0]>(ep(), "GET", "/api/v1/status");
      if (o.json) printJson(body); else out(formatStatus(body));
      return EXIT.ok;
    }
    case "list": {
      want(args, 1, "list interfaces|routes|rules|scripts [--json]");
      const what = args[0]!;
      switch (what) {
        case "interfaces": {
          const { body } = await callApi<{ interfaces: InterfaceView[] }>(ep(), "GET", "/api/v1/interfaces");
          if (o.json) printJson(body.interfaces); else out(formatInterfaces(body.interfaces));
          return EXIT.ok;
        }
        case "routes": {
          const { body } = await callApi<{ routes: RouteView[] }>(ep(), "GET", "/api/v1/routes");
          if (o.json) printJson(body.routes); else out(formatRoutes(body.routes));
          return EXIT.ok;
        }
        case "rules": {
          const { body } = await callApi<{ rules: RuleView[] }>(ep(), "GET", "/api/v1/rules");
          if (o.json) printJson(body.rules); else out(formatRules(body.rules));
          return EXIT.ok;
        }
        case "scripts": {
          const { body } = await callApi<ScriptsView>(ep(), "GET", "/api/v1/scripts");
          if (o.json) printJson(body); else out(formatScripts(body));
          return EXIT.ok;
        }
        default:
          throw new UsageError(`list what? "${what}" is not one of interfaces, routes, rules, scripts`);
      }
    }
    case "show": {
      want(args, 2, "show interface NAME [--json]");
      if (args[0] !== "interface") throw new UsageError(`show what? "${args[0]}" (only "show interface NAME")`);
      const name = args[1]!;
      if (!validIfname(name, true)) throw new UsageError(`not an interface name: ${JSON.stringify(name)}`);
      const { body } = await callApi<InterfaceView>(ep(), "GET", `/api/v1/interfaces/${encodeURIComponent(name)}`);
      if (o.json) printJson(body); else out(formatInterface(body));
      return EXIT.ok;
    }
    case "events":
      want(args, 0, "events [--follow] [--link L] [--event E] [--limit N] [--json]");
      return events(ep(), o);
    case "reload": {
      want(args, 0, "reload");
      try {
        await callApi(ep(), "POST", "/api/v1/reload");
      } catch (err) {
        if (err instanceof ApiError && err.code === "config_rejected") {
          if (o.json) printJson({ ok: false, problems: (err.details as { problems?: string[] } | undefined)?.problems ?? [] });
          else process.stderr.write(`netevd: ${err.message}\n`);
          return EXIT.failure;
        }
        throw err;
      }
      if (o.json) printJson({ ok: true }); else out("configuration reloaded\n");
      return EXIT.ok;
    }
    case "trigger": {
      want(args, 2, "trigger LINK EVENT");
      const [link, event] = args as [string, string];
      if (!validIfname(link, true)) throw new UsageError(`not an interface name: ${JSON.stringify(link)}`);
      if (!hookDirName(event)) throw new UsageError(`unknown event ${JSON.stringify(event)} (a hook directory name without ".d", e.g. carrier, routable)`);
      const { body } = await callApi<{ eventId: string }>(ep(), "POST", "/api/v1/trigger", { link, event });
      if (o.json) printJson(body); else out(`triggered ${event} on ${link}: event ${body.eventId}\n`);
      return EXIT.ok;
    }
    case "":
      throw new UsageError("missing command");
    default:
      throw new UsageError(`unknown command "${cmd}"`);
  }
}

async function events(ep: Endpoint, o: { follow?: boolean; link?: string; event?: string; limit?: string; json?: boolean }): Promise<number> {
  const q = new URLSearchParams();
  if (o.link !== undefined) {
    if (!validIfname(o.link, true)) throw new UsageError(`--link: not an interface name: ${JSON.stringify(o.link)}`);
    q.set("link", o.link);
  }
  if (o.event !== undefined) {
    if (!hookDirName(o.event)) throw new UsageError(`--event: unknown event ${JSON.stringify(o.event)}`);
    q.set("event", o.event);
  }
  if (o.limit !== undefined && (!/^\d{1,7}$/.test(o.limit) || Number(o.limit) < 1)) throw new UsageError(`--limit must be a positive integer, got ${JSON.stringify(o.limit)}`);
  // like tail: the last few, then (with --follow) live ones
  q.set("limit", o.limit ?? (o.follow ? "10" : "50"));

  if (!o.follow) {
    q.set("include", "hooks");
    const { body } = await callApi<{ events: Array<NetevdEvent & { hooks: [] }> }>(ep, "GET", `/api/v1/events?${q}`);
    if (o.json) printJson(body.events);
    else out(body.events.map((e) => formatEvent(e)).join("") || "no events\n");
    return EXIT.ok;
  }
  await followStream(ep, `/api/v1/events/stream?${q}`, (m) => {
    if (o.json) out(m.data + "\n");
    else out(formatEvent(JSON.parse(m.data) as NetevdEvent));
  });
  process.stderr.write("netevd: the daemon closed the event stream\n");
  return EXIT.unreachable;
}
