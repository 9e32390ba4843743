// The API's HTTP plumbing that is not about any one endpoint: the error a request is refused with,
// query parameters, JSON bodies and content types, the per-client rate limiter. Pure (no sockets),
// so all of it is unit-tested; routes.ts applies it.

import type { RequestListener } from "node:http";
import { httpDate, monotonicMs } from "../time.js";

/** A request the API refuses, with its HTTP status and a stable error code. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly headers: Record<string, string> = {},
    readonly details?: unknown,
  ) {
    super(message);
  }
}

export const badParam = (message: string): HttpError => new HttpError(400, "invalid_parameter", message);

/** Query parameters, each at most once, only the names a route accepts. */
export function queryParams(search: URLSearchParams, allowed: readonly string[]): Map<string, string> {
  const out = new Map<string, string>();
  for (const [k, v] of search) {
    if (!allowed.includes(k)) {
      throw badParam(allowed.length ? `unknown parameter "${k}" (accepted: ${allowed.join(", ")})` : `unknown parameter "${k}" (this endpoint takes none)`);
    }
    if (out.has(k)) throw badParam(`parameter "${k}" given more than once`);
    out.set(k, v);
  }
  return out;
}

/** Parse a JSON request body; an empty body is `undefined`. */
export function parseJsonBody(raw: Buffer): unknown {
  if (raw.length === 0) return undefined;
  try {
    return JSON.parse(raw.toString("utf8")) as unknown;
  } catch (err) {
    throw new HttpError(400, "invalid_json", `malformed JSON body: ${(err as Error).message}`);
  }
}

/** Whether a Content-Type header names JSON. */
export function isJsonContentType(ct: string | undefined): boolean {
  if (ct === undefined) return false;
  const type = ct.split(";")[0]!.trim().toLowerCase();
  return type === "application/json" || (type.startsWith("application/") && type.endsWith("+json"));
}

/**
 * Token buckets per client address: `rate` requests per second, bursts up to `rate`. Refilled on
 * use (no timers); idle full buckets are dropped when the table grows, so it stays small.
 */
export class RateLimiter {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();

  constructor(private readonly now: () => number = () => monotonicMs()) {}

  /** Take one token for `client`; returns 0 when allowed, else the seconds until the next token. */
  take(client: string, rate: number): number {
    const t = this.now();
    let b = this.buckets.get(client);
    if (!b) {
      if (this.buckets.size >= 1024) this.prune(t, rate);
      b = { tokens: rate, at: t };
      this.buckets.set(client, b);
    }
    b.tokens = Math.min(rate, b.tokens + ((t - b.at) / 1000) * rate);
    b.at = t;
    if (b.tokens >= 1) {
      b.tokens -= 1;
      return 0;
    }
    return Math.max(1, Math.ceil((1 - b.tokens) / rate));
  }

  get size(): number {
    return this.buckets.size;
  }

  private prune(t: number, rate: number): void {
    for (const [k, b] of this.buckets) if (b.tokens + ((t - b.at) / 1000) * rate >= rate) this.buckets.delete(k);
    if (this.buckets.size >= 4096) this.buckets.clear();
  }
}

/**
 * http.createServer options for every listener: node's own header/request deadlines off (guard.ts
 * keeps per-connection deadlines, with timers only while connections exist) and node's connection
 * check pushed to setInterval's maximum (24.8 days): node 20 starts that 30 s interval whatever the
 * timeouts are, and it woke an idle daemon every 30 s.
 */
export const SERVER_OPTIONS = { requestTimeout: 0, headersTimeout: 0, connectionsCheckingInterval: 2 ** 31 - 1, keepAliveTimeout: 5000 } as const;

/** Responses carry a Date header formatted here (node's own uses toUTCString: see src/time.ts). */
export function withDateHeader(handle: RequestListener): RequestListener {
  return (req, res) => {
    res.sendDate = false;
    res.setHeader("date", httpDate());
    return handle(req, res);
  };
}
