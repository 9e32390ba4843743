// Netlink's wire format for the encoders and the request socket: integers in host byte order, and
// every message and attribute padded to 4 bytes. (decode.ts keeps copies of both: see there why.)

/** true on little-endian hosts (netlink integers are in host order) */
export const LE = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

export const align4 = (n: number): number => (n + 3) & ~3;
