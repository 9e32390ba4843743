// `netevd status | list | show | events | reload | trigger`: talk to the running daemon over its unix
// socket (api.socket of the config) or --endpoint URL. Tables for people, --json for scripts.
// Exit codes: 0 ok, 1 failure, 2 usage, 3 daemon unreachable.
import { parseArgs } from "node:util";
import { loadConfig } from "../config/index.js";
import { defaultConfig, type Config } from "../config/types.js";
import { hookDirName } from "../hook-dirs.js";
import { validIfname } from "../net/validate.js";
import type { NetevdEvent } from "../events/types.js";
import type { HookRunResult } from "../events/types.js";
import { ApiError, callApi, DaemonUnreachable, followStream, type Endpoint } from "../api/client.js";
import type { InterfaceView, RouteView, RuleView } from "../api/views.js";
import type { ScriptsView } from "../api/scripts.js";
import { formatEvent, formatHookResult, formatInterface, formatInterfaces, formatRoutes, formatRules, formatScripts, formatStatus } from "./format.js";
import { COMMANDS, usageErrorText } from "./help.js";
import { paintFor } from "./colour.js";
import { parseSince } from "./since.js";

const EXIT = { ok: 0, failure: 1, usage: 2, unreachable: 3 } as const;

export const CLIENT_COMMANDS: ReadonlySet<string> = new Set(["status", "list", "show", "events", "reload", "trigger"]);


const OPTIONS = {
  config: { type: "string", short: "c" },
  json: { type: "boolean" },
  follow: { type: "boolean", short: "f" },
  link: { type: "string" },
  event: { type: "string" },
  limit: { type: "string", short: "n" },
  since: { type: "string" },
  utc: { type: "boolean" },
  endpoint: { type: "string" },
  token: { type: "string" },
  help: { type: "boolean", short: "h" },
} as const;

class UsageError extends Error {
  constructor(message: string, readonly cmd?: string) {
    super(message);
  }
}

/** options of the daemon-side commands that take a value (for finding the command word) */
const OTHER_VALUE_OPTIONS = new Set(["link", "event", "ip", "fd"]);

/** The command `argv` names (its first positional argument, skipping option values), or undefined. */
export function commandOf(argv: readonly string[]): string | undefined {
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === "--") return argv[i + 1];
    if (a.startsWith("-") && a !== "-") {
      const name = a.replace(/^-+/, "");
      const opt = Object.entries(OPTIONS).find(([k, o]) => k === name || ("short" in o && o.short === name));
      if (((opt && opt[1].type === "string") || OTHER_VALUE_OPTIONS.has(name)) && !a.includes("=")) i++;
      continue;
    }
    return a;
  }
  return undefined;
}

/** The client command `argv` asks for, or undefined. */
export function clientCommandOf(argv: readonly string[]): string | undefined {
  const c = commandOf(argv);
  return c !== undefined && CLIENT_COMMANDS.has(c) ? c : undefined;
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

function want(cmd: string, args: string[], n: number): void {
  if (args.length > n) throw new UsageError(`unexpected argument "${args[n]}"`, cmd);
  if (args.length < n) throw new UsageError(`missing argument (usage: ${COMMANDS[cmd]?.usage ?? cmd})`, cmd);
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
      process.stderr.write(usageErrorText(err.message, err.cmd ?? clientCommandOf(argv)));
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
    throw new UsageError((err as Error).message.replace(/\. To specify a positional argument.*$/s, ""));
  }
  const { values: o, positionals } = parsed;
  const [cmd = "", ...args] = positionals;
  if (cmd !== "events") {
    for (const k of ["follow", "link", "event", "limit", "since", "utc"] as const) if (o[k] !== undefined) throw new UsageError(`--${k} is an option of "events" only`, cmd);
  }
  const paint = paintFor(process.stdout);
  const ep = () => endpointFrom(o);

  switch (cmd) {
    case "status": {
      want(cmd, args, 0);
      const { body } = await callApi<Parameters<typeof formatStatus>[0]>(ep(), "GET", "/api/v1/status");
      if (o.json) printJson(body); else out(formatStatus(body, paint));
      return EXIT.ok;
    }
    case "list": {
      want(cmd, args, 1);
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
          throw new UsageError(`list what? "${what}" is not one of interfaces, routes, rules, scripts`, cmd);
      }
    }
    case "show": {
      want(cmd, args, 2);
      if (args[0] !== "interface") throw new UsageError(`show what? "${args[0]}" (only "show interface NAME")`, cmd);
      const name = args[1]!;
      if (!validIfname(name, true)) throw new UsageError(`not an interface name: ${JSON.stringify(name)}`, cmd);
      const { body } = await callApi<InterfaceView>(ep(), "GET", `/api/v1/interfaces/${encodeURIComponent(name)}`);
      if (o.json) printJson(body); else out(formatInterface(body));
      return EXIT.ok;
    }
    case "events":
      want(cmd, args, 0);
      return events(ep, o, paint);
    case "reload": {
      want(cmd, args, 0);
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
      want(cmd, args, 2);
      const [link, event] = args as [string, string];
      if (!validIfname(link, true)) throw new UsageError(`not an interface name: ${JSON.stringify(link)}`, cmd);
      if (!hookDirName(event)) throw new UsageError(`unknown event ${JSON.stringify(event)} (a hook directory name without ".d", e.g. carrier, routable)`, cmd);
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

/** reconnect delays of `events --follow` after the stream broke: 0.25 s doubling up to 10 s */
export const FOLLOW_BACKOFF_MS = { first: 250, max: 10_000 } as const;

interface EventsOptions { follow?: boolean; link?: string; event?: string; limit?: string; since?: string; utc?: boolean; json?: boolean }

async function events(ep: () => Endpoint, o: EventsOptions, paint: ReturnType<typeof paintFor>): Promise<number> {
  const q = new URLSearchParams();
  if (o.link !== undefined) {
    if (!validIfname(o.link, true)) throw new UsageError(`--link: not an interface name: ${JSON.stringify(o.link)}`, "events");
    q.set("link", o.link);
  }
  if (o.event !== undefined) {
    if (!hookDirName(o.event)) throw new UsageError(`--event: unknown event ${JSON.stringify(o.event)}`, "events");
    q.set("event", o.event);
  }
  if (o.limit !== undefined && (!/^\d{1,7}$/.test(o.limit) || Number(o.limit) < 1)) throw new UsageError(`--limit must be a positive integer, got ${JSON.stringify(o.limit)}`, "events");
  if (o.since !== undefined) {
    const s = parseSince(o.since, new Date());
    if ("error" in s) throw new UsageError(s.error, "events");
    q.set("since", s.since);
  }
  // like tail: the last few, then (with --follow) live ones; --since alone means all since then
  if (o.limit !== undefined || o.since === undefined) q.set("limit", o.limit ?? (o.follow ? "10" : "50"));
  const show = (e: NetevdEvent & { hooks?: [] }) => formatEvent(e, { utc: o.utc === true, paint });
  const endpoint = ep();

  if (!o.follow) {
    q.set("include", "hooks");
    const { body } = await callApi<{ events: Array<NetevdEvent & { hooks: [] }> }>(endpoint, "GET", `/api/v1/events?${q}`);
    if (o.json) printJson(body.events);
    else out(body.events.map(show).join("") || "no events\n");
    return EXIT.ok;
  }
  // The stream ends when the daemon stops or restarts: reconnect with backoff and resume after the
  // last event seen (Last-Event-ID; a restarted daemon, whose ids are new, replays its history).
  // The first connection must work; after that, only an answer like 401 ends the loop.
  let lastId: string | undefined;
  let delay: number = FOLLOW_BACKOFF_MS.first;
  let connectedOnce = false;
  const seen = new Set<string>();
  const streamQuery = new URLSearchParams(q);
  // people also see each hook's result as it arrives; --json stays one event contract per line
  if (!o.json) streamQuery.set("include", "hooks");
  for (;;) {
    // resuming: the history after lastId, whatever the limit or since said at the start
    const path = `/api/v1/events/stream?${lastId ? new URLSearchParams([...streamQuery].filter(([k]) => k === "link" || k === "event" || k === "include")) : streamQuery}`;
    let connected = false;
    try {
      await followStream(endpoint, path, (m) => {
        if (m.event === "hook") { out(formatHookResult(JSON.parse(m.data) as HookRunResult, { paint })); return; }
        if (m.event !== undefined && m.event !== "message") return;
        if (m.id) {
          if (seen.has(m.id)) return;
          seen.add(m.id);
          if (seen.size > 10_000) seen.delete(seen.values().next().value!);
          lastId = m.id;
        }
        if (o.json) out(m.data + "\n");
        else out(show(JSON.parse(m.data) as NetevdEvent));
      }, lastId, () => {
        connected = true;
        if (connectedOnce && process.stderr.isTTY) process.stderr.write(paint.dim("netevd: reconnected\n"));
        connectedOnce = true;
        delay = FOLLOW_BACKOFF_MS.first;
      });
      if (process.stderr.isTTY) process.stderr.write(paint.dim("netevd: the event stream ended; reconnecting\n"));
    } catch (err) {
      if (!connectedOnce || err instanceof ApiError) throw err;
      if (!(err instanceof DaemonUnreachable) && !connected) throw err;
    }
    await new Promise((r) => setTimeout(r, delay));
    delay = Math.min(delay * 2, FOLLOW_BACKOFF_MS.max);
  }
}
