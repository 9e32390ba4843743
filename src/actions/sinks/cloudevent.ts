// CloudEvents 1.0 (structured JSON mode) for the event contract, the HMAC-SHA256 signature, and
// which events a sink takes. Pure: no I/O, no clock (the event carries its time).
import { compileGlob, type GlobMatcher } from "../../config/glob.js";
import type { NetevdEvent } from "../../events/types.js";
import { nodeCrypto } from "../../lazy-builtins.js";

export const CE_CONTENT_TYPE = "application/cloudevents+json";
export const CE_BATCH_CONTENT_TYPE = "application/cloudevents-batch+json";
/** The signature header: "sha256=<hex HMAC-SHA256 of the exact body bytes>" */
export const SIGNATURE_HEADER = "x-netevd-signature";

export interface CloudEvent {
  specversion: "1.0";
  id: string;
  source: string;
  type: string;
  subject?: string;
  time: string;
  datacontenttype: "application/json";
  dataschema?: string;
  data: NetevdEvent;
}

/**
 * The CloudEvent of a contract event. `id` is the event id (unique across restarts: its prefix is
 * per run), so a receiver deduplicates on (source, id) as the CloudEvents spec says.
 */
export function toCloudEvent(e: NetevdEvent, hostname: string): CloudEvent {
  const ce: CloudEvent = {
    specversion: "1.0",
    id: e.id,
    source: `netevd://${hostname}`,
    type: `io.netevd.${e.event}`,
    time: e.ts,
    datacontenttype: "application/json",
    data: e,
  };
  // subject is optional in the spec and must be a non-empty string when present
  if (e.link) ce.subject = e.link;
  return ce;
}

/** One line of the spool and one structured-mode body: compact JSON, no newline inside. */
export function encodeCloudEvent(ce: CloudEvent): string {
  return JSON.stringify(ce);
}

/** A batched-mode body from already-encoded events (each a JSON object). */
export function batchBody(encoded: readonly string[]): string {
  return `[${encoded.join(",")}]`;
}

/** The HMAC-SHA256 signature header's value (node:crypto is loaded with the first signed delivery). */
export function signature(secret: Buffer, body: Buffer | string): string {
  return `sha256=${nodeCrypto().createHmac("sha256", secret).update(body).digest("hex")}`;
}

/** What a sink takes: event names by glob, links by glob (link-less events pass a link filter only when it is empty). */
export interface SinkFilter {
  events: readonly string[];
  links: readonly string[];
}

export function compileFilter(f: SinkFilter): (e: Pick<NetevdEvent, "event" | "link">) => boolean {
  const ev: GlobMatcher[] = f.events.map(compileGlob);
  const ln: GlobMatcher[] = f.links.map(compileGlob);
  return (e) => (ev.length === 0 || ev.some((m) => m(e.event))) && (ln.length === 0 || (e.link !== null && ln.some((m) => m(e.link as string))));
}

/** A hostname usable in a URI authority (RFC 3986 reg-name characters only); anything else becomes "localhost". */
export function sourceHost(hostname: string): string {
  const h = hostname.toLowerCase();
  return /^[a-z0-9]([a-z0-9.-]{0,251}[a-z0-9])?$/.test(h) ? h : "localhost";
}
