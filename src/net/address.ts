// Address facts shared by the event snapshot, the hook environment and the routing planner. Pure.
import { IFA_F_DADFAILED, IFA_F_OPTIMISTIC } from "../netlink/constants.js";

/** Is this address link-local (169.254.0.0/16, fe80::/10)? `address` is valid, without prefix. */
export function isLinkLocal(family: 4 | 6, address: string): boolean {
  if (family === 4) return address.startsWith("169.254.");
  const first = address.split(":", 1)[0] ?? "";
  if (first === "") return false; // "::..." starts with zero bits
  return (parseInt(first, 16) & 0xffc0) === 0xfe80;
}

/** Duplicate address detection failed: another host on the link holds the address. */
export function dadFailed(a: { flags: number }): boolean {
  return (a.flags & IFA_F_DADFAILED) !== 0;
}

/**
 * Can an application use (bind to) the address now? Not while IPv6 duplicate address detection
 * runs (tentative; optimistic DAD excepted), never after it failed.
 */
export function addressUsable(a: { flags: number; tentative: boolean }): boolean {
  return !dadFailed(a) && (!a.tentative || (a.flags & IFA_F_OPTIMISTIC) !== 0);
}
