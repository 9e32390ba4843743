#!/bin/bash
# The lab's Debian 13 (trixie) container root for the systemd tests (test/lab/systemd-nspawn.test.ts):
# debootstrap from the apt mirror the host uses (deb.debian.org), built once and cached in
# $NETEVD_LAB_ROOTFS (default /var/cache/netevd-lab/trixie). Tests boot it with --volatile=overlay,
# so the cache is never written to. Idempotent; concurrent callers wait for one build (flock).
# Prints the root's path. scripts/setup-lab.sh starts it in the background (it takes minutes once).
set -euo pipefail
ROOT=${NETEVD_LAB_ROOTFS:-/var/cache/netevd-lab/trixie}
MIRROR=${NETEVD_LAB_MIRROR:-http://deb.debian.org/debian}
# systemd-sysv: /sbin/init for `systemd-nspawn -b`; nodejs: netevd's dependency (Debian 13: 20.19)
INCLUDE=systemd,systemd-sysv,dbus,iproute2,nodejs
mkdir -p "$(dirname "$ROOT")"
exec 9>"$ROOT.lock"
flock 9
if [[ ! -x $ROOT/usr/lib/systemd/systemd || ! -x $ROOT/usr/bin/node ]]; then
    command -v debootstrap >/dev/null || { echo "lab-rootfs.sh: debootstrap is missing (scripts/setup-lab.sh installs it)" >&2; exit 1; }
    rm -rf "$ROOT.partial"
    echo "lab-rootfs.sh: debootstrap trixie into $ROOT (once; a few minutes)" >&2
    debootstrap --variant=minbase --include="$INCLUDE" trixie "$ROOT.partial" "$MIRROR" > "$ROOT.log" 2>&1 || {
        echo "lab-rootfs.sh: debootstrap failed, see $ROOT.log" >&2; tail -5 "$ROOT.log" >&2; exit 1; }
    rm -rf "$ROOT"
    mv "$ROOT.partial" "$ROOT"
fi
echo "$ROOT"
