// The optional metrics-only listener (metrics.listen): a scrape port apart from the API, serving
// GET /metrics and nothing else, without a token (it exposes counters, not the host's state). Like
// the API's listeners it is bound at start; a reload does not move it. No timers at idle.
import { SERVER_OPTIONS, withDateHeader } from "./http.js";
import { createServer, type Server } from "node:http";
import type { Config } from "../config/types.js";
import { parseListen } from "../config/leaves.js";
import type { Logger } from "../log.js";
import { registry, scrapeMetrics } from "../metrics.js";

export interface MetricsListener {
  readonly listen: string;
  close(): Promise<void>;
}

const MAX_CONNECTIONS = 16;

/**
 * Bind metrics.listen. A port that cannot be bound is logged, not fatal (like a taken api.listen):
 * the daemon runs, and /metrics stays on the API.
 */
export async function startMetricsListener(config: Config, log: Logger): Promise<MetricsListener | null> {
  if (!config.metrics.enabled || !config.metrics.listen) return null;
  const where = parseListen(config.metrics.listen);
  if (!where) return null;
  const server: Server = createServer(
    { ...SERVER_OPTIONS, maxHeaderSize: 8192 },
    withDateHeader((req, res) => {
      const path = (req.url ?? "/").split("?")[0];
      if (path !== "/metrics") {
        res.writeHead(404, { "content-type": "text/plain; charset=utf-8" }).end("only /metrics here\n");
        return;
      }
      if (req.method !== "GET" && req.method !== "HEAD") {
        res.writeHead(405, { allow: "GET, HEAD", "content-type": "text/plain; charset=utf-8" }).end("GET /metrics\n");
        return;
      }
      scrapeMetrics().then(
        (text) => {
          res.writeHead(200, { "content-type": registry.contentType, "cache-control": "no-store", "content-length": Buffer.byteLength(text) });
          res.end(req.method === "HEAD" ? undefined : text);
        },
        (err: Error) => {
          log.error("metrics collection failed", { err: err.message });
          res.writeHead(500).end();
        },
      );
    }),
  );
  server.setTimeout(30_000);
  server.maxConnections = MAX_CONNECTIONS;
  server.on("error", (err: NodeJS.ErrnoException) => log.error("metrics listener error", { err: err.message, code: err.code }));
  try {
    await new Promise<void>((res, rej) => {
      server.once("error", rej);
      server.listen(where, () => {
        server.off("error", rej);
        res();
      });
    });
  } catch (err) {
    log.error("cannot listen on metrics.listen; /metrics stays on the API only", { listen: config.metrics.listen, err: (err as Error).message });
    return null;
  }
  log.info("metrics listening", { listen: config.metrics.listen });
  return {
    listen: config.metrics.listen,
    close: () =>
      new Promise<void>((res) => {
        server.close(() => res());
        server.closeAllConnections();
      }),
  };
}
