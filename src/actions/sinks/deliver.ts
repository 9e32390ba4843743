// One sink: events that pass its filter go into its spool, and are POSTed in spool order, one
// request at a time (so a link's events arrive in order), until the receiver answers 2xx. A failure
// is retried with exponential backoff and jitter. Each sink has its own spool, timers and HTTP
// agent: a slow or dead receiver never delays another sink, a hook, or the event loop.
// Idle means no timers: a retry timer exists only while something is queued and failing.
import { request as httpRequest, Agent as HttpAgent, type IncomingMessage } from "node:http";
import type { SinkConfig } from "../../config/types.js";
import type { NetevdEvent } from "../../events/types.js";
import { nodeHttps } from "../../lazy-builtins.js";
import { logRejection, type Logger } from "../../log.js";
import { batchBody, CE_BATCH_CONTENT_TYPE, CE_CONTENT_TYPE, compileFilter, encodeCloudEvent, signature, SIGNATURE_HEADER, toCloudEvent } from "./cloudevent.js";
import type { Spool } from "./spool.js";

export interface PostResult {
  status: number;
  body: string;
}

/** The HTTP seam: POST one body, resolve with the status (and a bounded piece of the answer). */
export type Transport = (body: Buffer, headers: Record<string, string>) => Promise<PostResult>;

/** A receiver's answer is read up to this many bytes (for the failure reason); the rest is discarded. */
const MAX_ANSWER_BYTES = 512;
/** past this, an answer is not drained for keep-alive: the connection is closed instead */
const MAX_DRAIN_BYTES = 64 * 1024;

/**
 * node:http(s) transport for a sink, with a keep-alive agent of one socket (requests are sequential).
 * node:https (with node:tls, 1.4 MB of RSS) is loaded for the first https sink only; throws when
 * this node cannot load it.
 */
export function httpTransport(cfg: SinkConfig, ca: Buffer | undefined): { post: Transport; close: () => void } {
  const url = new URL(cfg.url);
  const https = url.protocol === "https:" ? loadHttps() : undefined;
  const agent = https
    ? new https.Agent({ keepAlive: true, maxSockets: 1, rejectUnauthorized: cfg.tls_verify, ...(ca ? { ca } : {}) })
    : new HttpAgent({ keepAlive: true, maxSockets: 1 });
  const post: Transport = (body, headers) =>
    new Promise((resolve, reject) => {
      // one deadline for the whole exchange: a receiver trickling bytes cannot hold the sink forever
      const deadline = setTimeout(() => req.destroy(Object.assign(new Error(`no complete answer within ${cfg.timeout_sec} s`), { code: "ETIMEDOUT" })), cfg.timeout_sec * 1000);
      const done =
        <T>(fn: (v: T) => void) =>
        (v: T) => {
          clearTimeout(deadline);
          fn(v);
        };
      const ok = done(resolve),
        fail = done(reject);
      const req = (https ? https.request : httpRequest)(
        url,
        {
          method: "POST",
          agent,
          headers: { ...headers, "content-length": String(body.length), "user-agent": "netevd" },
        },
        (res: IncomingMessage) => {
          const chunks: Buffer[] = [];
          let n = 0;
          res.on("data", (c: Buffer) => {
            if (n < MAX_ANSWER_BYTES) chunks.push(c.subarray(0, MAX_ANSWER_BYTES - n));
            n += c.length;
            // the status is all that counts: a large answer is not read to its end (the socket is dropped)
            if (n > MAX_DRAIN_BYTES) {
              ok({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString("utf8") });
              req.destroy();
            }
          });
          res.on("end", () => ok({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString("utf8") }));
          res.on("error", fail);
        },
      );
      req.on("error", fail);
      req.end(body);
    });
  return { post, close: () => agent.destroy() };
}

function loadHttps(): typeof import("node:https") {
  try {
    return nodeHttps();
  } catch (err) {
    throw new Error(`an https sink needs node:https, which this node cannot load: ${(err as Error).message}`, { cause: err });
  }
}

/** A failure as one line for logs, /health and `status`: what failed, in the receiver's or OpenSSL's words. */
export function failureReason(err: unknown): string {
  if (err && typeof err === "object" && "status" in err) {
    const r = err as PostResult;
    const text = r.body
      .replace(/[^\x20-\x7e]+/g, " ")
      .trim()
      .slice(0, 200);
    return `receiver answered HTTP ${r.status}${r.status === 401 || r.status === 403 ? " (rejected: wrong secret or not authorised?)" : ""}${text ? `: ${text}` : ""}`;
  }
  const e = err as NodeJS.ErrnoException;
  const code = e?.code ?? "";
  if (/CERT|SSL|TLS|SIGNATURE|ISSUER|HOSTNAME|ALTNAME/.test(code)) return `TLS certificate rejected: ${e.message} (${code})`;
  return `${e?.message ?? String(err)}${code && !e.message?.includes(code) ? ` (${code})` : ""}`;
}

export interface SinkStats {
  name: string;
  delivered: number;
  failedAttempts: number;
  queued: number;
  queuedBytes: number;
  spoolFileBytes: number;
  dropped: number;
  oldestAgeSec: number;
}

export interface SinkDeps {
  spool: Spool;
  post: Transport;
  /** HMAC key; null = unsigned */
  secret: Buffer | null;
  hostname: string;
  log: Logger;
  random?: () => number;
  now?: () => number;
  /** when set, the sink cannot deliver (bad secret file, unreadable CA): events queue, health says why */
  misconfigured?: string;
}

export class SinkWorker {
  private readonly filter: (e: NetevdEvent) => boolean;
  private inflight = false;
  private retryTimer: NodeJS.Timeout | null = null;
  private attempt = 0;
  private closed = false;
  failingSince: number | null = null;
  lastError: string | null = null;
  delivered = 0;
  failedAttempts = 0;

  constructor(
    readonly cfg: SinkConfig,
    private readonly d: SinkDeps,
  ) {
    this.filter = compileFilter(cfg);
  }

  private get now(): number {
    return (this.d.now ?? Date.now)();
  }

  /** An event: into the spool if the sink takes it, then delivery starts (unless already running or waiting to retry). */
  submit(e: NetevdEvent): void {
    if (this.closed || !this.filter(e)) return;
    this.d.spool.append(encodeCloudEvent(toCloudEvent(e, this.d.hostname)), Date.parse(e.ts));
    this.kick();
  }

  /** Start delivering what is queued (after start-up: what the last run left). */
  kick(): void {
    if (this.closed || this.inflight || this.retryTimer || this.d.misconfigured || this.d.spool.depth === 0) return;
    void this.pump().catch(logRejection(this.d.log, "sink delivery failed", { sink: this.cfg.name }));
  }

  private async pump(): Promise<void> {
    this.inflight = true;
    try {
      while (!this.closed) {
        const batch = this.d.spool.peek(this.cfg.batch_max);
        if (batch.length === 0) break;
        const single = this.cfg.batch_max === 1;
        const body = Buffer.from(single ? (batch[0]?.body as string) : batchBody(batch.map((r) => r.body)));
        const headers: Record<string, string> = { "content-type": `${single ? CE_CONTENT_TYPE : CE_BATCH_CONTENT_TYPE}; charset=utf-8` };
        if (this.d.secret) headers[SIGNATURE_HEADER] = signature(this.d.secret, body);
        let failure: string | null = null;
        try {
          const r = await this.d.post(body, headers);
          if (r.status < 200 || r.status > 299) failure = failureReason(r);
        } catch (err) {
          failure = failureReason(err);
        }
        if (failure !== null) {
          if (this.closed) break;
          this.failed(failure);
          return;
        }
        this.d.spool.ack((batch[batch.length - 1] as { seq: number }).seq);
        this.delivered += batch.length;
        if (this.failingSince !== null) this.d.log.info("sink delivering again", { sink: this.cfg.name, failedForSec: Math.round((this.now - this.failingSince) / 1000) });
        this.failingSince = null;
        this.lastError = null;
        this.attempt = 0;
      }
    } finally {
      this.inflight = false;
    }
  }

  private failed(reason: string): void {
    this.failedAttempts++;
    if (this.failingSince === null || reason !== this.lastError) {
      this.d.log.warn("sink delivery failed; retrying", { sink: this.cfg.name, reason, queued: this.d.spool.depth });
    }
    this.failingSince ??= this.now;
    this.lastError = reason;
    // jitter, between half and all of the exponential step: retries of many hosts spread out
    const step = Math.min(this.cfg.retry_max_sec * 1000, this.cfg.retry_initial_ms * 2 ** Math.min(this.attempt++, 30));
    const delay = step * (0.5 + 0.5 * (this.d.random ?? Math.random)());
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      this.kick();
    }, delay);
  }

  /** For /health and `status`: not ok once failing (or unable to deliver) for unhealthy_after_sec. */
  health(): { state: string; ok: boolean; detail?: string } {
    const q = this.d.spool.depth;
    if (this.d.misconfigured) return { state: "misconfigured", ok: false, detail: `${this.d.misconfigured}; ${q} event(s) queued` };
    if (this.failingSince === null) return { state: q ? "delivering" : "idle", ok: true, ...(q ? { detail: `${q} event(s) queued` } : {}) };
    const forSec = (this.now - this.failingSince) / 1000;
    const ok = forSec < this.cfg.unhealthy_after_sec;
    return { state: ok ? "retrying" : "failing", ok, detail: `for ${Math.round(forSec)} s: ${this.lastError}; ${q} event(s) queued` };
  }

  stats(): SinkStats {
    const s = this.d.spool;
    const oldest = s.oldestAt;
    return {
      name: this.cfg.name,
      delivered: this.delivered,
      failedAttempts: this.failedAttempts,
      queued: s.depth,
      queuedBytes: s.bytes,
      spoolFileBytes: s.fileBytes,
      dropped: s.dropped,
      oldestAgeSec: oldest === null ? 0 : Math.max(0, (this.now - oldest) / 1000),
    };
  }

  /** Stop retrying; what is queued stays in the spool for the next run. */
  async close(): Promise<void> {
    this.closed = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = null;
    await this.d.spool.close();
  }
}
