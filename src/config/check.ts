// Checks of a whole, schema-valid config that decide whether the daemon may run with it. One function
// (runProblems) used by `netevd run`, `netevd validate` and every reload, so that validate says ok
// exactly when run would start.
import { isIPv4, isIPv6 } from "node:net";
import { parseListen } from "./leaves.js";
import type { Config, ConfigProblem } from "./types.js";

/** Whether a listen host only accepts local connections. */
export function isLoopbackHost(host: string): boolean {
  if (host === "localhost") return true;
  if (isIPv4(host)) return host.startsWith("127.");
  if (isIPv6(host)) {
    const h = host.toLowerCase();
    if (h === "::1" || h === "0:0:0:0:0:0:0:1") return true;
    const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(h);
    return mapped !== null && mapped[1]!.startsWith("127.");
  }
  return false; // any other host name may resolve to anything
}

/**
 * Why the API must not start with this config, or undefined: a non-loopback TCP listener without a
 * token would let anyone on the network call the API.
 */
export function checkApiConfig(config: Config): string | undefined {
  const api = config.api;
  if (!api.enabled || api.listen === "") return undefined;
  let listen;
  try {
    listen = parseListen(api.listen);
  } catch (err) {
    return `api.listen: ${(err as Error).message}`;
  }
  if (listen && !isLoopbackHost(listen.host) && !api.token) {
    return `api.listen is ${JSON.stringify(api.listen)}, which is not a loopback address, and api.token is not set: ` +
      `refusing to serve the API to the network without a token. Set api.token, or listen on 127.0.0.1 / [::1], ` +
      `or set api.listen to "" and use the unix socket`;
  }
  return undefined;
}

/** Every reason the daemon would refuse to run with this (schema-valid) config. */
export function runProblems(config: Config): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  const api = checkApiConfig(config);
  if (api) problems.push({ path: "api.listen", message: api });
  return problems;
}
