// Plain-data records decoded from rtnetlink. The network model (src/state) is built from these,
// so they carry no methods and no references to sockets or buffers.

export type Family = 4 | 6;

/** IF_OPER_* from <linux/if.h>, by name. */
export type OperState = "unknown" | "notpresent" | "down" | "lowerlayerdown" | "testing" | "dormant" | "up";

export interface LinkRecord {
  index: number;
  name: string;
  /** ifinfomsg.ifi_flags (IFF_UP, IFF_RUNNING, IFF_LOWER_UP, ...) */
  flags: number;
  /** IFF_LOWER_UP: the carrier as the kernel reports it */
  carrier: boolean;
  /** IFF_UP: administratively up */
  up: boolean;
  mtu: number;
  operstate: OperState;
  /** "aa:bb:cc:dd:ee:ff", absent for links without a hardware address (lo has 00:..:00) */
  mac?: string;
  /** IFLA_LINKINFO/IFLA_INFO_KIND, e.g. "veth", "bridge" */
  kind?: string;
  /** IFLA_MASTER */
  master?: number;
  /** ARPHRD_* (ifi_type) */
  type: number;
}

export interface AddressRecord {
  family: Family;
  index: number;
  /** The interface's own address: IFA_LOCAL for IPv4 (IFA_ADDRESS is the peer there), IFA_ADDRESS for IPv6. Canonical text form. */
  address: string;
  prefixlen: number;
  /** IFA_ADDRESS when it differs from the local address (point-to-point peer) */
  peer?: string;
  scope: number;
  /** IFA_FLAGS (u32) when present, else ifa_flags */
  flags: number;
  label?: string;
  /** IFA_F_TENTATIVE */
  tentative: boolean;
}

export interface RouteRecord {
  family: Family;
  /** RTA_TABLE when present, else rtm_table */
  table: number;
  /** RTA_DST, absent for a default route */
  dst?: string;
  dstLen: number;
  src?: string;
  srcLen: number;
  tos: number;
  gateway?: string;
  oif?: number;
  /** RTA_PRIORITY (metric) */
  priority?: number;
  prefsrc?: string;
  protocol: number;
  scope: number;
  /** RTN_* (1 unicast, 2 local, 3 broadcast, ...) */
  type: number;
  flags: number;
}

export interface RuleRecord {
  family: Family;
  /** FRA_PRIORITY; the kernel always reports it in dumps */
  priority?: number;
  /** FRA_TABLE when present, else the header's table */
  table: number;
  src?: string;
  srcLen: number;
  dst?: string;
  dstLen: number;
  tos: number;
  /** FR_ACT_* (1 = to_tbl) */
  action: number;
  protocol: number;
  iifname?: string;
  oifname?: string;
  fwmark?: number;
  fwmask?: number;
  flags: number;
}

/** One decoded rtnetlink notification or dump entry. */
export type RtMessage =
  | { kind: "link"; op: "new" | "del"; link: LinkRecord }
  | { kind: "addr"; op: "new" | "del"; addr: AddressRecord }
  | { kind: "route"; op: "new" | "del"; route: RouteRecord }
  | { kind: "rule"; op: "new" | "del"; rule: RuleRecord };

export type ObjectKind = RtMessage["kind"];
