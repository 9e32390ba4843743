#!/bin/bash
# Setup to RUN the daemon from a clone on Debian 12/13 (as root): checks Node.js, installs only what
# building netevd needs when missing (a C compiler, make and python3 for its small native addon),
# creates the unprivileged `netevd` user and runs `npm ci` (addon, TypeScript, the bundle). Nothing else: the
# network managers, dnsmasq, polkitd and the container tools of the test lab are installed by
# scripts/setup-lab.sh, never by this. Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."
[[ $EUID -eq 0 ]] || { echo "setup.sh: run as root (it creates the netevd user)" >&2; exit 1; }

need_node_major=20
if ! command -v node >/dev/null || (( $(node -p 'process.versions.node.split(".")[0]') < need_node_major )); then
    echo "setup.sh: Node.js >= $need_node_major is required (found: $(node --version 2>/dev/null || echo none))" >&2
    exit 1
fi

# util-linux: setpriv (the daemon drops to `netevd` with it); passwd: useradd; g++/make/python3: node-gyp
pkgs=(util-linux passwd g++ make python3)
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

if ! getent passwd netevd >/dev/null; then
    useradd --system --user-group --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin netevd
    echo "setup.sh: created system user netevd"
fi

npm ci --no-audit --no-fund --loglevel=error
