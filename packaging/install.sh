#!/bin/bash
# Install netevd from the release tarball (what the .deb does, for hosts without dpkg or for a
# quick try): run as root from the unpacked directory. Then: systemctl enable --now netevd
# An existing /etc/netevd/netevd.yaml and existing hook scripts are kept.
set -euo pipefail
cd "$(dirname "$0")"
[[ $EUID -eq 0 ]] || { echo "install.sh: run as root" >&2; exit 1; }
if ! command -v node >/dev/null || (( $(node -p 'process.versions.node.split(".")[0]') < 20 )); then
    echo "install.sh: Node.js >= 20 is required at /usr/bin/node (found: $(node --version 2>/dev/null || echo none))" >&2
    exit 1
fi
rm -rf /usr/lib/netevd
cp -a root/usr/. /usr/
install -d -m 0755 /etc/netevd
[[ -e /etc/netevd/netevd.yaml ]] || install -m 0644 root/etc/netevd/netevd.yaml /etc/netevd/netevd.yaml
for d in root/etc/netevd/*.d; do install -d -m 0755 "/etc/netevd/$(basename "$d")"; done
if command -v systemd-sysusers >/dev/null; then
    systemd-sysusers netevd.conf
elif ! getent passwd netevd >/dev/null; then
    useradd --system --user-group --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin netevd
fi
command -v systemd-tmpfiles >/dev/null && systemd-tmpfiles --create netevd.conf || true
[[ -d /run/systemd/system ]] && systemctl daemon-reload || true
echo "netevd installed: /usr/bin/netevd, /etc/netevd/. Start it with: systemctl enable --now netevd"
