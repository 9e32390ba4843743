#!/bin/bash
# Setup to DEVELOP and TEST (as root, Debian 12): everything scripts/setup.sh does, plus what the lab
# tests run against: the real network managers, dnsmasq, polkitd, a private systemd-resolved, and
# for the systemd tests systemd-container (systemd-nspawn) and debootstrap with a cached Debian 13
# root (scripts/lab-rootfs.sh, started in the background first: it takes minutes once).
# Packages are installed with services NOT started (policy-rc.d): NetworkManager must not take over
# this machine's interfaces; the tests start each manager inside their own network namespaces.
# Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."
[[ $EUID -eq 0 ]] || { echo "setup-lab.sh: run as root (it installs packages)" >&2; exit 1; }

export DEBIAN_FRONTEND=noninteractive
missing_of() {
    local p out=()
    for p in "$@"; do dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || out+=("$p"); done
    echo "${out[@]}"
}
updated=0
apt_install() {
    (( $# )) || return 0
    echo "setup-lab.sh: installing $*"
    (( updated )) || { apt-get update -qq; updated=1; }
    local own_policy=0
    if [[ ! -e /usr/sbin/policy-rc.d ]]; then
        printf '#!/bin/sh\n# setup-lab.sh: do not start services while installing lab packages\nexit 101\n' > /usr/sbin/policy-rc.d
        chmod 0755 /usr/sbin/policy-rc.d; own_policy=1
    fi
    apt-get install -y -qq --no-install-recommends "$@" >/dev/null || { (( own_policy )) && rm -f /usr/sbin/policy-rc.d; return 1; }
    (( own_policy )) && rm -f /usr/sbin/policy-rc.d
    return 0
}

# first the container tools, so the Debian 13 root builds while the rest installs
# shellcheck disable=SC2046
apt_install $(missing_of debootstrap systemd-container)
mkdir -p /var/cache/netevd-lab
nohup scripts/lab-rootfs.sh > /var/cache/netevd-lab/rootfs-build.log 2>&1 &

scripts/setup.sh

# iproute2/util-linux: ip, unshare, nsenter, setpriv; dbus: the lab's private system bus;
# openssl: the sinks test's TLS certificates; dnsmasq-base (NOT dnsmasq, which would start a host DNS server): the lab's DHCP/DNS server;
# isc-dhcp-client, network-manager, systemd (networkd, hostnamed), polkitd: the real backends under test.
# shellcheck disable=SC2046
apt_install $(missing_of iproute2 util-linux openssl dbus dnsmasq-base isc-dhcp-client network-manager polkitd systemd)

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

# The web page's test drives Debian's headless chromium over the DevTools pipe (test/lab/page.test.ts:
# no browser download). promtool checks /metrics and the shipped alerting rules: unpacked from the
# prometheus package into a private directory, never installed (that would start a server).
# shellcheck disable=SC2046
apt_install $(missing_of chromium)
PROMTOOL_ROOT=/var/lib/netevd-lab/prometheus
if [[ ! -x $PROMTOOL_ROOT/usr/bin/promtool ]]; then
    tmp=$(mktemp -d)
    ( cd "$tmp" && apt-get download -qq prometheus >/dev/null 2>&1 ) || {
        apt-get update -qq; ( cd "$tmp" && apt-get download -qq prometheus >/dev/null ); }
    mkdir -p "$PROMTOOL_ROOT"
    dpkg-deb -x "$tmp"/prometheus_*.deb "$PROMTOOL_ROOT"
    rm -rf "$tmp"
fi

echo "setup-lab.sh: ready (the Debian 13 container root builds in the background: /var/cache/netevd-lab/rootfs-build.log)"
