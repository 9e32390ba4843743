// Address facts shared by the event snapshot, the hook environment and the routing planner. Pure.

/** Is this address link-local (169.254.0.0/16, fe80::/10)? `address` is valid, without prefix. */
export function isLinkLocal(family: 4 | 6, address: string): boolean {
  if (family === 4) return address.startsWith("169.254.");
  const first = address.split(":", 1)[0] ?? "";
  if (first === "") return false; // "::..." starts with zero bits
  return (parseInt(first, 16) & 0xffc0) === 0xfe80;
}
