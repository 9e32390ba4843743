// The read-only web page (api.dashboard): static files shipped in src/api/page/, served with a strict
// CSP, and the session cookie that lets a browser (whose EventSource cannot send an Authorization
// header) read the API beyond loopback. Files are read when requested: nothing is held at idle.
import { existsSync } from "node:fs";
import { join } from "node:path";
import { readFileBytes, statPath } from "../fs-async.js";
import { nodeCrypto } from "../lazy-builtins.js";
import { packageRoot } from "../package-root.js";
import type { IncomingMessage, ServerResponse } from "node:http";

/**
 * The page's files (plain, not compiled): page/ in the installed package (scripts/package.sh), else
 * src/api/page/ in the source tree.
 */
const root = packageRoot() ?? ".";
export const PAGE_DIR = [join(root, "page/"), join(root, "src/api/page/")].find((d) => existsSync(`${d}index.html`)) ?? join(root, "src/api/page/");

/** URL path → file in PAGE_DIR and its type. A fixed table: no request string becomes a path. */
export const PAGE_FILES: Readonly<Record<string, { file: string; type: string }>> = {
  "/": { file: "index.html", type: "text/html; charset=utf-8" },
  "/page/app.js": { file: "app.js", type: "text/javascript; charset=utf-8" },
  "/page/style.css": { file: "style.css", type: "text/css; charset=utf-8" },
};

export const PAGE_CSP =
  "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; " + "frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

export const PAGE_HEADERS: Readonly<Record<string, string>> = {
  "content-security-policy": PAGE_CSP,
  "x-content-type-options": "nosniff",
  "x-frame-options": "DENY",
  "referrer-policy": "no-referrer",
  "cross-origin-resource-policy": "same-origin",
};

/** Serve one of PAGE_FILES (with a validator, so a reload costs a 304). */
export async function servePageFile(req: IncomingMessage, res: ServerResponse, path: string): Promise<void> {
  const f = PAGE_FILES[path]!;
  const full = PAGE_DIR + f.file;
  const st = await statPath(full);
  const etag = `"${st.size.toString(16)}-${Math.floor(st.mtimeMs).toString(16)}"`;
  const headers = { ...PAGE_HEADERS, "content-type": f.type, "cache-control": "no-cache", etag };
  if (req.headers["if-none-match"] === etag) {
    res.writeHead(304, headers).end();
    return;
  }
  const body = await readFileBytes(full);
  res.writeHead(200, { ...headers, "content-length": body.length });
  res.end(req.method === "HEAD" ? undefined : body);
}

// ---- session cookie --------------------------------------------------------------------------
// The browser proves it knows api.token once (POST /api/v1/session); it then holds
// `<expiry>.<HMAC-SHA256(token, expiry)>` in an HttpOnly, SameSite=Strict cookie. Nothing is kept
// on the server; changing api.token (and reloading) invalidates every session. The cookie is
// accepted for reads (GET/HEAD) only: mutating endpoints still need the bearer header, so a
// forged cross-site request can change nothing.

export const SESSION_COOKIE = "netevd_session";
export const SESSION_TTL_SEC = 12 * 3600;

// node:crypto is loaded with the first session made or checked: a daemon without a token never needs it
function mac(token: string, exp: number): Buffer {
  return nodeCrypto().createHmac("sha256", token).update(`netevd dashboard session v1 ${exp}`).digest();
}

export function sessionValue(token: string, nowMs = Date.now()): string {
  const exp = Math.floor(nowMs / 1000) + SESSION_TTL_SEC;
  return `${exp}.${mac(token, exp).toString("base64url")}`;
}

export function sessionCookie(token: string, secure: boolean, nowMs = Date.now()): string {
  return `${SESSION_COOKIE}=${sessionValue(token, nowMs)}; Path=/; Max-Age=${SESSION_TTL_SEC}; HttpOnly; SameSite=Strict${secure ? "; Secure" : ""}`;
}

export const CLEAR_SESSION_COOKIE = `${SESSION_COOKIE}=; Path=/; Max-Age=0; HttpOnly; SameSite=Strict`;

/** The session cookie's value from a Cookie header, if any. */
export function sessionFromCookies(header: string | undefined): string | undefined {
  if (!header || header.length > 8192) return undefined;
  for (const part of header.split(";")) {
    const eq = part.indexOf("=");
    if (eq > 0 && part.slice(0, eq).trim() === SESSION_COOKIE) return part.slice(eq + 1).trim();
  }
  return undefined;
}

/** Whether `value` is an unexpired session for `token` (constant-time MAC comparison). */
export function sessionValid(value: string | undefined, token: string, nowMs = Date.now()): boolean {
  if (!value) return false;
  const m = /^(\d{1,12})\.([A-Za-z0-9_-]{43})$/.exec(value);
  if (!m) return false;
  const exp = Number(m[1]);
  if (exp * 1000 <= nowMs || exp * 1000 > nowMs + (SESSION_TTL_SEC + 60) * 1000) return false;
  const given = Buffer.from(m[2]!, "base64url");
  // one encoding per MAC: the 43rd character's two spare bits must be zero
  if (given.toString("base64url") !== m[2]) return false;
  const want = mac(token, exp);
  return given.length === want.length && nodeCrypto().timingSafeEqual(given, want);
}
