// Node builtins that cost RSS once loaded (their code and heap stay for the life of the process),
// loaded on the first use of the feature that needs them, not at start-up. Measured on top of a
// node with net and http loaded: node:crypto +1.0 MB (OpenSSL's state), node:https (with node:tls)
// +1.4 MB, node:v8 +0.3 MB. An idle daemon without a token, a sink or a /metrics scrape needs none of
// them. createRequire: synchronous, so callers stay synchronous (an `import()` would be a promise).
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);

let crypto: typeof import("node:crypto") | undefined;
let https: typeof import("node:https") | undefined;
let v8: typeof import("node:v8") | undefined;

/** node:crypto, loaded on first call (HMACs and hashes of the API, the lease parser, sinks). */
export function nodeCrypto(): typeof import("node:crypto") {
  return (crypto ??= require("node:crypto") as typeof import("node:crypto"));
}

/** node:https, loaded on first call (an https sink). Throws when this node cannot load it (built without OpenSSL). */
export function nodeHttps(): typeof import("node:https") {
  return (https ??= require("node:https") as typeof import("node:https"));
}

/** node:v8, loaded on first call (the heap-space figures of a /metrics scrape). */
export function nodeV8(): typeof import("node:v8") {
  return (v8 ??= require("node:v8") as typeof import("node:v8"));
}
