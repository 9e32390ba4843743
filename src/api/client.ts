// The CLI's side of the API: requests to the running daemon over its unix socket (or an --endpoint
// URL with a bearer token), and an SSE reader for `netevd events --follow`.
import { request, type IncomingMessage } from "node:http";

export interface Endpoint {
  /** unix socket path; used when `url` is not set */
  socketPath?: string;
  url?: URL;
  token?: string;
}

/** The daemon could not be reached at all (exit 3). */
export class DaemonUnreachable extends Error {}

/** The daemon answered with an error. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
  }
}

export function describeEndpoint(ep: Endpoint): string {
  return ep.url ? ep.url.origin : `unix socket ${ep.socketPath}`;
}

function unreachable(ep: Endpoint, err: NodeJS.ErrnoException): DaemonUnreachable {
  const where = describeEndpoint(ep);
  switch (err.code) {
    case "ENOENT":
    case "ECONNREFUSED":
      return new DaemonUnreachable(`the netevd daemon is not running (nothing is listening on ${where})`);
    case "EACCES":
      return new DaemonUnreachable(`permission denied on ${where}: run as root or as a member of the netevd group`);
    default:
      return new DaemonUnreachable(`cannot reach the netevd daemon on ${where}: ${err.message}`);
  }
}

function open(ep: Endpoint, method: string, path: string, headers: Record<string, string>, body?: string): Promise<IncomingMessage> {
  const h: Record<string, string> = { ...headers };
  if (ep.token) h.authorization = `Bearer ${ep.token}`;
  if (body !== undefined) {
    h["content-type"] = "application/json";
    h["content-length"] = String(Buffer.byteLength(body));
  }
  const base = ep.url
    ? { host: ep.url.hostname.replace(/^\[|\]$/g, ""), port: ep.url.port || 80, path: `${ep.url.pathname.replace(/\/$/, "")}${path}` }
    : { socketPath: ep.socketPath, path };
  return new Promise((resolve, reject) => {
    const req = request({ ...base, method, headers: h, agent: false }, resolve);
    req.on("error", (err: NodeJS.ErrnoException) => reject(unreachable(ep, err)));
    req.end(body);
  });
}

async function readAll(res: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of res) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}

/** One request; resolves with the parsed JSON answer, rejects with ApiError for error statuses. */
export async function callApi<T = unknown>(ep: Endpoint, method: "GET" | "POST", path: string, body?: unknown): Promise<{ status: number; body: T }> {
  const res = await open(ep, method, path, { accept: "application/json" }, body === undefined ? undefined : JSON.stringify(body));
  const text = await readAll(res);
  let parsed: unknown;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    throw new ApiError(res.statusCode ?? 0, "bad_response", `the daemon sent a non-JSON answer (HTTP ${res.statusCode})`);
  }
  const status = res.statusCode ?? 0;
  // /health answers 503 with a normal body when degraded
  if (status >= 400 && !(status === 503 && path === "/health")) {
    const e = (parsed as { error?: { code?: string; message?: string; details?: unknown } } | undefined)?.error;
    throw new ApiError(status, e?.code ?? "error", e?.message ?? `HTTP ${status}`, e?.details);
  }
  return { status, body: parsed as T };
}

export interface SseMessage {
  id?: string;
  event?: string;
  data: string;
}

/**
 * Incremental Server-Sent Events parser: feed it text as it arrives, it calls `onMessage` per
 * complete message (comments and retry lines are dropped).
 */
export class SseParser {
  private buf = "";
  private data: string[] = [];
  private id: string | undefined;
  private event: string | undefined;

  constructor(private readonly onMessage: (m: SseMessage) => void) {}

  /** the last chunk ended in CR: a LF at the start of the next one belongs to it */
  private afterCR = false;

  push(chunk: string): void {
    if (this.afterCR && chunk.startsWith("\n")) chunk = chunk.slice(1);
    this.afterCR = chunk.endsWith("\r");
    this.buf += chunk;
    let nl: number;
    while ((nl = this.buf.search(/\r\n|\n|\r/)) >= 0) {
      const line = this.buf.slice(0, nl);
      this.buf = this.buf.slice(nl + (this.buf.startsWith("\r\n", nl) ? 2 : 1));
      this.line(line);
    }
  }

  private line(line: string): void {
    if (line === "") {
      if (this.data.length) {
        const m: SseMessage = { data: this.data.join("\n") };
        if (this.id !== undefined) m.id = this.id;
        if (this.event !== undefined) m.event = this.event;
        this.onMessage(m);
      }
      this.data = [];
      this.event = undefined;
      return;
    }
    if (line.startsWith(":")) return;
    const colon = line.indexOf(":");
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? "" : line.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    if (field === "data") this.data.push(value);
    else if (field === "id") this.id = value;
    else if (field === "event") this.event = value;
  }
}

/**
 * Follow the event stream until the connection ends (resolves) or fails (rejects). `path` carries
 * the filters; `lastEventId` resumes after an event.
 */
export async function followStream(ep: Endpoint, path: string, onMessage: (m: SseMessage) => void, lastEventId?: string, onOpen?: () => void): Promise<void> {
  const headers: Record<string, string> = { accept: "text/event-stream" };
  if (lastEventId) headers["last-event-id"] = lastEventId;
  const res = await open(ep, "GET", path, headers);
  const status = res.statusCode ?? 0;
  if (status !== 200) {
    const text = await readAll(res);
    let e: { code?: string; message?: string } | undefined;
    try {
      e = (JSON.parse(text) as { error?: { code?: string; message?: string } }).error;
    } catch {
      /* not JSON */
    }
    throw new ApiError(status, e?.code ?? "error", e?.message ?? `HTTP ${status}`);
  }
  onOpen?.();
  res.setEncoding("utf8");
  const parser = new SseParser(onMessage);
  try {
    for await (const chunk of res) parser.push(chunk as string);
  } catch (err) {
    // the daemon went away mid-stream (restart, SIGKILL): the connection ends, not the client
    if ((err as NodeJS.ErrnoException).code !== "ECONNRESET" && (err as Error).message !== "aborted") throw err;
  }
}
