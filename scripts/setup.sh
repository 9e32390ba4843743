#!/bin/bash
# One-time setup on Debian 12 (run as root): system packages the daemon and its lab tests use,
# the unprivileged `netevd` user, and the project's own build (npm ci: native addon + TypeScript).
# Idempotent: a second run only re-checks and rebuilds.
set -euo pipefail
cd "$(dirname "$0")/.."
[[ $EUID -eq 0 ]] || { echo "setup.sh: run as root (it installs packages and creates the netevd user)" >&2; exit 1; }

need_node_major=20
if ! command -v node >/dev/null || (( $(node -p 'process.versions.node.split(".")[0]') < need_node_major )); then
    echo "setup.sh: Node.js >= $need_node_major is required (found: $(node --version 2>/dev/null || echo none))" >&2
    exit 1
fi

# iproute2/util-linux: ip, unshare, nsenter, setpriv; dbus: the lab's private system bus;
# dnsmasq-base (NOT dnsmasq, which would start a host DNS server): the lab's DHCP/DNS server;
# isc-dhcp-client, network-manager, systemd (networkd, hostnamed), polkitd: the real backends under test;
# networkd-dispatcher: the peer the benchmarks measure netevd against (a Python daemon; its service
# is not started, the bench runs it inside its lab only). NetworkManager ships its own dispatcher.
pkgs=(iproute2 util-linux dbus dnsmasq-base isc-dhcp-client network-manager polkitd systemd passwd g++ make python3 networkd-dispatcher)
missing=()
for p in "${pkgs[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if (( ${#missing[@]} )); then
    echo "setup.sh: installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# systemd-resolved for the lab only: installing the package would repoint the host's /etc/resolv.conf,
# so unpack it into a private directory instead (test/lab/harness.sh -r uses it).
RESOLVED_ROOT=/var/lib/netevd-lab/resolved
if [[ ! -x $RESOLVED_ROOT/lib/systemd/systemd-resolved ]]; then
    tmp=$(mktemp -d)
    ( cd "$tmp" && apt-get download -qq systemd-resolved libsystemd-shared >/dev/null 2>&1 ) || {
        apt-get update -qq; ( cd "$tmp" && apt-get download -qq systemd-resolved libsystemd-shared >/dev/null ); }
    mkdir -p "$RESOLVED_ROOT"
    for deb in "$tmp"/*.deb; do dpkg-deb -x "$deb" "$RESOLVED_ROOT"; done
    rm -rf "$tmp"
fi

# networkd-dispatcher and chrony's dispatcher hook, for the lab's compat.networkd_dispatcher test only:
# unpacked into a private directory, never installed (an installed networkd-dispatcher would start on
# a systemd host and run /etc/networkd-dispatcher's scripts). Its Python modules are plain libraries.
ND_ROOT=/var/lib/netevd-lab/networkd-dispatcher
CHRONY_ROOT=/var/lib/netevd-lab/chrony
nd_deps=(python3-dbus python3-gi gir1.2-glib-2.0)
nd_missing=()
for p in "${nd_deps[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || nd_missing+=("$p")
done
if (( ${#nd_missing[@]} )); then
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -qq --no-install-recommends "${nd_missing[@]}" >/dev/null 2>&1 || {
        apt-get update -qq; apt-get install -y -qq --no-install-recommends "${nd_missing[@]}" >/dev/null; }
fi
for pkg in networkd-dispatcher chrony; do
    root=$ND_ROOT; [[ $pkg == chrony ]] && root=$CHRONY_ROOT
    [[ -d $root/usr ]] && continue
    tmp=$(mktemp -d)
    ( cd "$tmp" && apt-get download -qq "$pkg" >/dev/null 2>&1 ) || {
        apt-get update -qq; ( cd "$tmp" && apt-get download -qq "$pkg" >/dev/null ); }
    mkdir -p "$root"
    for deb in "$tmp"/*.deb; do dpkg-deb -x "$deb" "$root"; done
    rm -rf "$tmp"
done

if ! getent passwd netevd >/dev/null; then
    useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin netevd
    echo "setup.sh: created system user netevd"
fi

npm ci --no-audit --no-fund --loglevel=error
