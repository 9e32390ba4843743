// The API's endpoints and the checks every request passes first: rate limit, route
// and method, authorization for mutating endpoints, body size, content type and JSON.
import { isoTime } from "../time.js";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Config } from "../config/types.js";
import { interfaceSelected } from "../config/select.js";
import type { History } from "../events/history.js";
import type { Logger } from "../log.js";
import { linkByName, type NetworkModel } from "../state/model.js";
import type { SourceHealth } from "../sources/backend.js";
import type { KernelStats } from "../sources/kernel.js";
import type { DispatcherStats } from "../actions/hooks/dispatcher.js";
import { registry, scrapeMetrics } from "../metrics.js";
import { nodeCrypto } from "../lazy-builtins.js";
import { isLoopbackHost } from "../config/check.js";
import { HttpError, RateLimiter, isJsonContentType, parseJsonBody, queryParams } from "./http.js";
import { parseEventSelection, parseTriggerBody, selectEvents, eventsAfter, withHooks, matchesFilter } from "./query.js";
import { interfaceView, interfacesView, routesView, rulesView } from "./views.js";
import { scriptsView } from "./scripts.js";
import type { EventStreams } from "./sse.js";
import { validIfname } from "../net/validate.js";
import { parseListen } from "../config/leaves.js";
import { CLEAR_SESSION_COOKIE, PAGE_FILES, servePageFile, sessionCookie, sessionFromCookies, sessionValid } from "./page.js";
import type { HookRunResult } from "../events/types.js";
import { clientOf, rateKeyOf } from "./guard.js";

/** What the API needs of the daemon; `Daemon` (src/daemon.ts) satisfies it structurally. */
export interface ApiContext {
  readonly config: Config;
  readonly model: NetworkModel;
  readonly history: History;
  readonly startedAt: number;
  readonly readyAt: number | null;
  readonly log: Logger;
  readonly kernel: { readonly stats: KernelStats; readonly synced: boolean };
  readonly backend: { readonly backend: string } | null;
  /** what system.backend resolved to (auto) */
  readonly backendInUse?: string;
  readonly dispatcher: { readonly stats: DispatcherStats };
  health(): { ok: boolean; sources: Record<string, SourceHealth> };
  trigger(link: string, event: string): { ok: true; eventId: string } | { ok: false; status: number; error: string };
  reload(): { ok: boolean; problems?: string };
  /** the last reload (API, CLI or SIGHUP) and its result; null before the first */
  readonly lastReload?: { at: string; ok: boolean; problems?: string[] } | null;
  /** the TCP listener failed or came up (for the service manager's STATUS=) */
  apiStateChanged?(): void;
}

/** A failed hook run as `status` shows it: the last line of its stderr instead of the whole tail. */
export interface HookFailureView {
  eventId: string;
  event: string;
  link: string | null;
  script: string;
  startedAt: string;
  result: string;
  lastStderr: string | null;
}

export const RECENT_FAILURES_WINDOW_MS = 3600_000;
const LOGIN_ATTEMPTS_PER_SEC = 1;
const RECENT_FAILURES_MAX = 20;

export function hookResultText(h: HookRunResult): string {
  return h.ok ? "ok" : h.timedOut ? "timeout" : h.error ? `error: ${h.error}` : h.signal ? `killed by ${h.signal}` : `exit ${h.exitCode}`;
}

/** Failed hook runs of the last hour, newest first (at most 20). */
export function recentHookFailures(hooks: readonly HookRunResult[], now = Date.now()): HookFailureView[] {
  const out: HookFailureView[] = [];
  for (let i = hooks.length - 1; i >= 0 && out.length < RECENT_FAILURES_MAX; i--) {
    const h = hooks[i]!;
    if (h.ok) continue;
    if (now - Date.parse(h.startedAt) > RECENT_FAILURES_WINDOW_MS) break;
    const lines = h.stderrTail.filter((l) => l.trim() !== "");
    out.push({ eventId: h.eventId, event: h.event, link: h.link, script: h.script, startedAt: h.startedAt, result: hookResultText(h), lastStderr: lines.at(-1) ?? null });
  }
  return out;
}

/** How a request arrived: the unix socket is authorized by its file mode, TCP by the token. */
export type Via = "unix" | "tcp";

export interface RequestInfo {
  req: IncomingMessage;
  res: ServerResponse;
  url: URL;
  via: Via;
  /** the path segment of /api/v1/interfaces/{name} */
  param?: string;
}

export interface RouterDeps {
  ctx: ApiContext;
  streams: EventStreams;
  limiter: RateLimiter;
  version: string;
  daemonUid: number;
  /** what is actually bound (a reload does not move the listeners) */
  listening: { tcp: string | null; socket: string | null; tcpError?: string | null };
  /** the request's connection became an event stream (no request deadline from now on) */
  streamStarted?: (req: IncomingMessage, via: Via) => void;
}

type Handler = (r: RequestInfo, body: unknown) => Promise<void> | void;

interface RouteDef {
  path: string | RegExp;
  get?: Handler;
  post?: Handler;
}

const JSON_HEADERS = { "content-type": "application/json; charset=utf-8", "cache-control": "no-store" };

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body) + "\n";
  res.writeHead(status, { ...JSON_HEADERS, "content-length": Buffer.byteLength(text), ...headers });
  res.end(text);
}

export function sendError(res: ServerResponse, err: HttpError): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const error: Record<string, unknown> = { code: err.code, message: err.message };
  if (err.details !== undefined) error.details = err.details;
  sendJson(res, err.status, { error }, err.headers);
}

/** Constant-time check of an `Authorization: Bearer <token>` header (hashes make the lengths equal). */
export function bearerMatches(header: string | undefined, token: string): boolean {
  if (header === undefined || !/^Bearer /i.test(header)) return false;
  // node:crypto is loaded on the first token check: a daemon without a token never pays for it
  const { createHash, timingSafeEqual } = nodeCrypto();
  const given = createHash("sha256").update(header.slice(7).trim()).digest();
  const want = createHash("sha256").update(token).digest();
  return timingSafeEqual(given, want);
}

/**
 * The request body, at most `max` bytes, else 413. An oversized body of moderate size is read and
 * discarded first, so that the client (still sending) gets the answer instead of a broken pipe;
 * beyond `drainLimit` the answer goes out at once and node closes the connection.
 */
export function readBody(req: IncomingMessage, max: number, drainLimit = Math.max(4 << 20, 16 * max)): Promise<Buffer> {
  const declared = req.headers["content-length"];
  const tooLarge = (size: string) => new HttpError(413, "body_too_large", `request body of ${size} bytes exceeds api.max_body_bytes (${max})`);
  if (declared !== undefined && Number(declared) > drainLimit) return Promise.reject(tooLarge(declared));
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (c: Buffer) => {
      size += c.length;
      if (size <= max) chunks.push(c);
      else if (size > drainLimit) {
        req.removeAllListeners("data");
        req.removeAllListeners("end");
        req.resume();
        reject(tooLarge(`more than ${drainLimit}`));
      }
    });
    req.once("end", () => (size > max ? reject(tooLarge(String(size))) : resolve(Buffer.concat(chunks))));
    req.once("error", reject);
  });
}

export function createRouter(d: RouterDeps): (req: IncomingMessage, res: ServerResponse, via: Via) => void {
  const { ctx } = d;
  const loginLimiter = new RateLimiter();
  const page = (r: RequestInfo) => {
    queryParams(r.url.searchParams, []);
    if (!ctx.config.api.dashboard) throw new HttpError(404, "not_found", "the web page is off (api.dashboard: false)");
    return servePageFile(r.req, r.res, r.url.pathname);
  };
  const routes: RouteDef[] = [
    ...Object.keys(PAGE_FILES).map((path) => ({ path, get: page })),
    { path: "/health", get: (r) => health(r) },
    { path: "/api/v1/session", get: (r) => session(r), post: (r, body) => login(r, body) },
    { path: "/metrics", get: (r) => metricsText(r) },
    {
      path: "/api/v1/status",
      get: (r) => {
        queryParams(r.url.searchParams, []);
        sendJson(r.res, 200, status());
      },
    },
    {
      path: "/api/v1/interfaces",
      get: (r) => {
        queryParams(r.url.searchParams, []);
        const policy = ctx.config.routing.policy_rules;
        sendJson(r.res, 200, {
          interfaces: interfacesView(
            ctx.model,
            (n) => interfaceSelected(ctx.config, n),
            (n) => policy.includes(n),
          ),
        });
      },
    },
    {
      path: /^\/api\/v1\/interfaces\/([^/]+)$/,
      get: (r) => {
        queryParams(r.url.searchParams, []);
        let name: string;
        try {
          name = decodeURIComponent(r.param ?? "");
        } catch {
          throw new HttpError(400, "invalid_parameter", "malformed interface name in the path");
        }
        if (!validIfname(name, true)) throw new HttpError(400, "invalid_parameter", `not an interface name: ${JSON.stringify(name)}`);
        const l = linkByName(ctx.model, name);
        if (!l) throw new HttpError(404, "not_found", `no such interface "${name}"`);
        sendJson(r.res, 200, interfaceView(ctx.model, l, interfaceSelected(ctx.config, l.name), ctx.config.routing.policy_rules.includes(l.name)));
      },
    },
    {
      path: "/api/v1/routes",
      get: (r) => {
        queryParams(r.url.searchParams, []);
        sendJson(r.res, 200, { routes: routesView(ctx.model, ctx.config.routing.protocol) });
      },
    },
    {
      path: "/api/v1/rules",
      get: (r) => {
        queryParams(r.url.searchParams, []);
        sendJson(r.res, 200, { rules: rulesView(ctx.model, ctx.config.routing.protocol) });
      },
    },
    {
      path: "/api/v1/events",
      get: (r) => {
        const sel = parseEventSelection(r.url.searchParams, { include: true });
        const events = selectEvents(ctx.history.events.toArray(), sel);
        sendJson(r.res, 200, { events: sel.includeHooks ? withHooks(events, ctx.history.hooks.toArray()) : events });
      },
    },
    { path: "/api/v1/events/stream", get: (r) => stream(r) },
    {
      path: "/api/v1/scripts",
      get: (r) => {
        queryParams(r.url.searchParams, []);
        sendJson(
          r.res,
          200,
          scriptsView(ctx.config.system.scripts_dirs, d.daemonUid, ctx.config.compat.networkd_dispatcher ? ctx.config.compat.networkd_dispatcher_dirs : undefined),
        );
      },
    },
    {
      path: "/api/v1/reload",
      post: (r) => {
        queryParams(r.url.searchParams, []);
        const result = ctx.reload();
        if (!result.ok) {
          const problems = (result.problems ?? "").split("\n").filter(Boolean);
          throw new HttpError(422, "config_rejected", `the new configuration was rejected; the running configuration stays in force:\n${result.problems ?? ""}`, {}, { problems });
        }
        ctx.log.info("config reloaded through the API", { via: r.via });
        sendJson(r.res, 200, { ok: true });
      },
    },
    {
      path: "/api/v1/trigger",
      post: (r, body) => {
        queryParams(r.url.searchParams, []);
        if (body === undefined) throw new HttpError(400, "invalid_body", 'a JSON body {"link": "<interface>", "event": "<event>"} is required');
        const t = parseTriggerBody(body);
        const result = ctx.trigger(t.link, t.event);
        if (!result.ok) throw new HttpError(result.status, result.status === 404 ? "not_found" : "invalid_body", result.error);
        ctx.log.info("event triggered through the API", { link: t.link, event: t.event, eventId: result.eventId, via: r.via });
        sendJson(r.res, 202, { ok: true, eventId: result.eventId });
      },
    },
  ];

  function health(r: RequestInfo): void {
    queryParams(r.url.searchParams, []);
    const h = ctx.health();
    const ok = h.ok && ctx.readyAt !== null;
    sendJson(r.res, ok ? 200 : 503, { status: ok ? "ok" : "degraded", ready: ctx.readyAt !== null, sources: h.sources });
  }

  async function metricsText(r: RequestInfo): Promise<void> {
    queryParams(r.url.searchParams, []);
    if (!ctx.config.metrics.enabled) throw new HttpError(404, "not_found", "metrics are disabled (metrics.enabled: false)");
    const text = await scrapeMetrics();
    r.res.writeHead(200, { "content-type": registry.contentType, "cache-control": "no-store", "content-length": Buffer.byteLength(text) });
    r.res.end(text);
  }

  function status(): Record<string, unknown> {
    const m = ctx.model;
    const events = ctx.history.events;
    const last = events.size ? events.toArray()[events.size - 1] : undefined;
    const h = ctx.health();
    return {
      version: d.version,
      pid: process.pid,
      startedAt: isoTime(ctx.startedAt),
      readyAt: ctx.readyAt === null ? null : isoTime(ctx.readyAt),
      uptimeSec: Math.round((Date.now() - ctx.startedAt) / 1000),
      backend: ctx.backendInUse ?? ctx.config.system.backend,
      health: { status: h.ok ? "ok" : "degraded", sources: h.sources },
      reload: ctx.lastReload ?? null,
      counts: { interfaces: m.links.size, addresses: m.addrs.size, routes: m.routes.size, rules: m.rules.size },
      events: { inHistory: events.size, historySize: ctx.config.events.history_size, lastId: last?.id ?? null, lastAt: last?.ts ?? null },
      hooks: { ...ctx.dispatcher.stats, scriptsDir: ctx.config.system.scripts_dir, recentFailures: recentHookFailures(ctx.history.hooks.toArray()) },
      kernel: { synced: ctx.kernel.synced, ...ctx.kernel.stats },
      api: { listen: d.listening.tcp, socket: d.listening.socket, tcpError: d.listening.tcpError ?? null, streams: d.streams.size },
      rssBytes: process.memoryUsage.rss(),
    };
  }

  function stream(r: RequestInfo): void {
    const sel = parseEventSelection(r.url.searchParams, { include: true });
    if (r.req.method === "HEAD") {
      r.res.writeHead(200, { "content-type": "text/event-stream; charset=utf-8", "cache-control": "no-store" });
      r.res.end();
      return;
    }
    const filter: { link?: string; event?: string; hooks?: boolean } = { hooks: sel.includeHooks };
    if (sel.link !== undefined) filter.link = sel.link;
    if (sel.event !== undefined) filter.event = sel.event;
    const lastId = r.req.headers["last-event-id"];
    const all = ctx.history.events.toArray();
    // a resuming client gets everything after its last event; a new one live events only, or first
    // what `since` and/or `limit` select from the history (like GET /api/v1/events)
    const pick: { link?: string; event?: string; since?: string; limit?: number } = { ...filter };
    if (sel.since !== undefined) pick.since = sel.since;
    if (sel.limit !== undefined) pick.limit = sel.limit;
    const replay =
      typeof lastId === "string" && lastId !== ""
        ? eventsAfter(all, lastId).filter((e) => matchesFilter(e, filter))
        : sel.limit === undefined && sel.since === undefined
          ? []
          : selectEvents(all, pick);
    d.streams.open(r.res, filter, replay, clientOf(r.req.socket, r.via));
    d.streamStarted?.(r.req, r.via);
  }

  /** whether this client needs to log in (the page asks before opening its stream) */
  function session(r: RequestInfo): void {
    queryParams(r.url.searchParams, []);
    const token = ctx.config.api.token;
    const listen = d.listening.tcp === null ? null : parseListen(d.listening.tcp);
    const required = r.via === "tcp" && !!listen && !isLoopbackHost(listen.host);
    const authorized = !required || (!!token && (bearerMatches(r.req.headers.authorization, token) || sessionValid(sessionFromCookies(r.req.headers.cookie), token)));
    sendJson(r.res, 200, { required, authorized });
  }

  /**
   * The page's login: {"token": "..."} → the session cookie; {"logout": true} clears it. Only from
   * the page's own origin (a browser sends Origin with every POST); a JSON body cannot be sent
   * cross-site without a CORS preflight, which this server never grants.
   */
  function login(r: RequestInfo, body: unknown): void {
    queryParams(r.url.searchParams, []);
    const origin = r.req.headers.origin;
    if (origin !== undefined && origin !== "null") {
      let host: string | undefined;
      try {
        host = new URL(origin).host;
      } catch {
        /* malformed */
      }
      if (host !== r.req.headers.host) throw new HttpError(403, "forbidden", "cross-origin login refused");
    }
    if (!body || typeof body !== "object" || Array.isArray(body)) throw new HttpError(400, "invalid_body", 'a JSON body {"token": "<api.token>"} is required');
    const b = body as Record<string, unknown>;
    if (b.logout === true && Object.keys(b).length === 1) {
      sendJson(r.res, 200, { ok: true }, { "set-cookie": CLEAR_SESSION_COOKIE });
      return;
    }
    if (typeof b.token !== "string" || Object.keys(b).length !== 1) throw new HttpError(400, "invalid_body", 'a JSON body {"token": "<api.token>"} is required');
    // one sign-in attempt per second per peer: guessing the token through the page stays slow
    const wait = loginLimiter.take(r.req.socket.remoteAddress ?? "?", LOGIN_ATTEMPTS_PER_SEC);
    if (wait > 0) throw new HttpError(429, "rate_limited", "one sign-in attempt per second", { "retry-after": String(wait) });
    const token = ctx.config.api.token;
    if (!token) throw new HttpError(404, "not_found", "api.token is not set: the page needs no login");
    if (!bearerMatches(`Bearer ${b.token}`, token)) {
      ctx.log.warn("page login with a wrong token", { peer: r.req.socket.remoteAddress });
      throw new HttpError(401, "unauthorized", "wrong token");
    }
    const secure = (r.req.socket as { encrypted?: boolean }).encrypted === true;
    sendJson(r.res, 200, { ok: true }, { "set-cookie": sessionCookie(token, secure) });
  }

  function match(pathname: string): { def: RouteDef; param?: string } | undefined {
    for (const def of routes) {
      if (typeof def.path === "string") {
        if (def.path === pathname) return { def };
      } else {
        const m = def.path.exec(pathname);
        if (m) return { def, param: m[1] };
      }
    }
    return undefined;
  }

  async function dispatch(req: IncomingMessage, res: ServerResponse, via: Via): Promise<void> {
    if (via === "tcp") {
      const wait = d.limiter.take(rateKeyOf(req.socket, via), ctx.config.api.rate_limit_per_sec);
      if (wait > 0)
        throw new HttpError(429, "rate_limited", `more than api.rate_limit_per_sec (${ctx.config.api.rate_limit_per_sec}) requests per second`, { "retry-after": String(wait) });
    }
    let url: URL;
    try {
      url = new URL(req.url ?? "/", "http://netevd.invalid");
    } catch {
      throw new HttpError(400, "bad_request", "malformed request target");
    }
    const found = match(url.pathname);
    if (!found) throw new HttpError(404, "not_found", `no such endpoint: ${url.pathname.slice(0, 200)}`);
    const { def } = found;
    const allow = [...(def.get ? ["GET", "HEAD"] : []), ...(def.post ? ["POST"] : [])].join(", ");
    const method = req.method ?? "";
    const handler = method === "GET" || method === "HEAD" ? def.get : method === "POST" ? def.post : undefined;
    if (!handler) throw new HttpError(405, "method_not_allowed", `${method} is not allowed on ${url.pathname}; allowed: ${allow}`, { allow });
    // Listening beyond loopback, reads carry DHCP data, hook output and the host's routing: they
    // need the token too (or, for the page's reads, the session cookie derived from it). /health
    // stays open for load balancers and probes; the page's static files and the login hold no data.
    const isPublic = url.pathname === "/health" || url.pathname === "/api/v1/session" || url.pathname in PAGE_FILES;
    if (via === "tcp" && !isPublic) {
      // what is bound decides, not the (reloaded) config
      const listen = d.listening.tcp === null ? null : parseListen(d.listening.tcp);
      const token = ctx.config.api.token;
      const read = method === "GET" || method === "HEAD";
      if (
        listen &&
        !isLoopbackHost(listen.host) &&
        (!token || !(bearerMatches(req.headers.authorization, token) || (read && sessionValid(sessionFromCookies(req.headers.cookie), token))))
      ) {
        throw new HttpError(401, "unauthorized", "the API listens beyond loopback: every request needs the bearer token", { "www-authenticate": "Bearer" });
      }
    }
    const info: RequestInfo = { req, res, url, via };
    if (found.param !== undefined) info.param = found.param;

    let body: unknown;
    if (method === "POST") {
      if (via === "tcp" && url.pathname !== "/api/v1/session") {
        const token = ctx.config.api.token;
        if (!token)
          throw new HttpError(401, "unauthorized", "mutating endpoints over TCP need api.token (none is configured); use the unix socket", { "www-authenticate": "Bearer" });
        if (!bearerMatches(req.headers.authorization, token)) throw new HttpError(401, "unauthorized", "missing or wrong bearer token", { "www-authenticate": "Bearer" });
      }
      const raw = await readBody(req, ctx.config.api.max_body_bytes);
      if (raw.length > 0 && !isJsonContentType(req.headers["content-type"])) {
        throw new HttpError(415, "unsupported_media_type", "request bodies must be application/json");
      }
      body = parseJsonBody(raw);
    }
    await handler(info, body);
  }

  return (req, res, via) => {
    dispatch(req, res, via).catch((err: unknown) => {
      if (err instanceof HttpError) {
        sendError(res, err);
        return;
      }
      ctx.log.error("API request failed", { method: req.method, path: (req.url ?? "").slice(0, 200), err, stack: (err as Error).stack });
      sendError(res, new HttpError(500, "internal", "internal error; see the daemon log"));
    });
  };
}
