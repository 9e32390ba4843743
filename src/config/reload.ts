// What a reload may change: the keys bound at start (hook privileges, listeners) stay as they are
// until a restart, so a reload that changes them is refused rather than leaving the config to lie
// about what runs and what is served.
import type { Config } from "./index.js";

/**
 * Why `next` cannot replace the running config without a restart, or undefined when it can.
 * One message per refused change, newline-separated (the API and the CLI show them as a list).
 */
export function reloadRefusal(running: Config, next: Config): string | undefined {
  const sameList = (a: readonly string[], b: readonly string[]) => a.join(":") === b.join(":");
  // the privileged runner and the dirs it trusts are fixed at start
  if (
    next.hooks.user !== running.hooks.user ||
    (next.hooks.user === "root" &&
      (!sameList(next.system.scripts_dirs, running.system.scripts_dirs) ||
        next.compat.networkd_dispatcher !== running.compat.networkd_dispatcher ||
        !sameList(next.compat.networkd_dispatcher_dirs, running.compat.networkd_dispatcher_dirs)))
  ) {
    return "hooks.user (and, for root hooks, system.scripts_dirs and compat.networkd_dispatcher*) take effect only at a restart";
  }
  const moved = (["enabled", "listen", "socket"] as const).filter((k) => next.api[k] !== running.api[k]);
  if (moved.length) {
    // the listeners stay where they are bound; accepting the keys would make the config lie
    // about what is served (and the auth decision follows what is bound, not the config)
    return moved
      .map(
        (k) =>
          `api.${k}: changed from ${JSON.stringify(running.api[k])} to ${JSON.stringify(next.api[k])}; ` +
          "the API listeners are not moved by a reload: restart netevd to apply this",
      )
      .join("\n");
  }
  if (next.metrics.listen !== running.metrics.listen) {
    return (
      `metrics.listen: changed from ${JSON.stringify(running.metrics.listen)} to ${JSON.stringify(next.metrics.listen)}; ` +
      "the metrics listener is not moved by a reload: restart netevd to apply this"
    );
  }
  return undefined;
}
