// What the log says about kernel facts: each at debug (they are the most numerous records; the
// events they cause are info), only for watched links when monitoring selects some; a failed
// duplicate address detection as a warning, once, when the address becomes unusable.
import type { Config } from "../config/index.js";
import { interfaceSelected } from "../config/index.js";
import type { Logger } from "../log.js";
import { dadFailed } from "../net/address.js";
import { factFields } from "../state/describe.js";
import { factLink, type Fact } from "../state/model.js";
import { DAD_FAILED_REASON } from "./derive.js";

/** Each fact at debug, of watched links only when monitoring selects some (the log is not a side channel for excluded links). */
export function logKernelFacts(facts: Fact[], config: Config, log: Logger): void {
  if (!log.enabled("debug")) return;
  const { interfaces, exclude } = config.monitoring;
  for (const f of facts) {
    const link = factLink(f);
    if (link !== undefined && (interfaces.length || exclude.length) && !interfaceSelected(config, link)) continue;
    log.debug("fact", { source: "kernel", ...factFields(f) });
  }
}

/** After the facts' events: an address whose duplicate address detection just failed. */
export function warnDadFailures(facts: Fact[], log: Logger): void {
  for (const f of facts) {
    if (f.fact === "address-changed" && dadFailed(f.addr) && !dadFailed(f.previous)) {
      log.warn("IPv6 duplicate address detection failed; the address is unusable", {
        link: f.link,
        address: `${f.addr.address}/${f.addr.prefixlen}`,
        reason: DAD_FAILED_REASON,
      });
    }
  }
}
