#!/bin/bash
# netevd lab harness -- run a command inside an isolated network lab:
#   * private pid/mount/uts/ipc namespaces (everything dies with the lab, even on SIGKILL)
#   * private /run (tmpfs), /etc and /var/lib (overlayfs, writes go to the lab dir), hostname
#   * private "system" D-Bus at the standard path /run/dbus/system_bus_socket
#   * two named netns: nv-srv-<id> (bridge br0 10.77.0.1/24 + dnsmasq DHCP/DNS) and
#     nv-cli-<id> (veth "lab0", peer "p-lab0" enslaved to br0 in nv-srv-<id>)
#   * optional real network manager in nv-cli-<id>: systemd-networkd | NetworkManager | dhclient
#   * optional systemd-resolved; systemd-hostnamed is always bus-activatable
# The command runs in nv-cli-<id> with the lab's mounts, so it sees /run/systemd/netif,
# /var/lib/dhcp, /run/dbus/system_bus_socket etc. at their normal paths.
#
# Usage: harness.sh [-b none|networkd|nm|dhclient] [-r] [-p] [-k] [-w SECS] [--] CMD [ARGS...]
#   -b  backend to start in the client netns (default: none)
#   -r  also start systemd-resolved (binary from $NETEVD_LAB_RESOLVED_ROOT, else /lib/systemd)
#   -p  also start polkitd on the lab bus; *.rules from $NETEVD_LAB_POLKIT_RULES_DIR are installed
#       (needed as soon as a NON-root caller uses resolve1/hostname1 methods)
#   -k  keep the lab directory (logs, overlay upper dirs) after exit
#   -w  seconds to wait for the backend to bring lab0 up (default 30; 0 = don't wait)
# Other env: NETEVD_LAB_BASE (lab dirs), NETEVD_LAB_LEASE_TIME (dnsmasq, default 2m = its minimum),
#   NETEVD_LAB_DHCLIENT_LEASES (dhclient -lf, default /var/lib/dhcp/dhclient.lab0.leases),
#   NETEVD_LAB_NM_DHCP=internal|dhclient, NETEVD_LAB_NM_LOG_LEVEL, SYSTEMD_LOG_LEVEL
# Env seen by CMD: NETEVD_LAB_DIR NETEVD_LAB_NS_CLI NETEVD_LAB_NS_SRV NETEVD_LAB_IF NETEVD_LAB_IF_PEER NETEVD_LAB_BACKEND
#                  DBUS_SYSTEM_BUS_ADDRESS
#   carrier off/on:  ip -n "$NETEVD_LAB_NS_SRV" link set "$NETEVD_LAB_IF_PEER" down|up
# Exit status: CMD's status; 125 = lab setup failed.
set -euo pipefail

NETEVD_LAB_BASE=${NETEVD_LAB_BASE:-/tmp/netevd-lab}
SELF=$(readlink -f "$0")

log() { printf '[lab %s] %s\n' "$(date +%T.%3N)" "$*" >&2; }
die() { log "ERROR: $*"; exit 125; }

# ---------------------------------------------------------------- outer part (host namespaces)
if [[ "${1:-}" != "--inner" ]]; then
    [[ $EUID -eq 0 ]] || die "must run as root"
    for t in unshare nsenter setpriv ip dbus-daemon busctl dnsmasq mount; do
        command -v "$t" >/dev/null || die "missing tool: $t"
    done
    mkdir -p "$NETEVD_LAB_BASE"
    LAB=$(mktemp -d "$NETEVD_LAB_BASE/lab.XXXXXX")
    export NETEVD_LAB_DIR=$LAB
    KEEP=0; for a in "$@"; do [[ "$a" == "--" ]] && break; [[ "$a" == "-k" ]] && KEEP=1; done
    child=
    on_signal() {   # forward to the lab's PID 1 (unshare's child); it tears down and exits
        local init
        init=$(pgrep -P "$child" | head -n1)
        [[ -n "$init" ]] && kill -TERM "$init" 2>/dev/null || true
    }
    cleanup_outer() {
        if [[ $KEEP == 1 ]]; then log "lab dir kept: $LAB"; else rm -rf --one-file-system "$LAB"; fi
    }
    trap cleanup_outer EXIT
    trap on_signal INT TERM
    # setpriv --pdeathsig: if this shell dies (even SIGKILL), unshare gets SIGKILL;
    # --kill-child: if unshare dies, the lab's PID 1 gets SIGKILL -> the kernel kills the whole
    # pid ns, the private mount ns disappears, the netns (bind-mounted only inside it) are freed.
    setpriv --pdeathsig KILL -- \
        unshare --mount --uts --ipc --pid --fork --kill-child --mount-proc --propagation private \
        -- "$SELF" --inner "$@" &
    child=$!
    rc=0
    wait "$child" || rc=$?
    while kill -0 "$child" 2>/dev/null; do wait "$child" || rc=$?; done   # wait was interrupted by a trap
    exit "$rc"
fi

# ---------------------------------------------------------------- inner part (PID 1 of the lab)
shift  # --inner
BACKEND=none RESOLVED=0 POLKIT=0 WAIT=30
while getopts "b:rpkw:" o; do
    case $o in
        b) BACKEND=$OPTARG ;; r) RESOLVED=1 ;; p) POLKIT=1 ;; k) ;; w) WAIT=$OPTARG ;;
        *) die "bad option" ;;
    esac
done
shift $((OPTIND - 1))
[[ "${1:-}" == "--" ]] && shift
(( $# > 0 )) || die "no command given"
case $BACKEND in
    none) ;;
    networkd) [[ -x /lib/systemd/systemd-networkd ]] || die "systemd-networkd missing" ;;
    nm) command -v NetworkManager >/dev/null || die "NetworkManager missing (apt-get install network-manager)" ;;
    dhclient) command -v dhclient >/dev/null || die "dhclient missing (apt-get install isc-dhcp-client)" ;;
    *) die "unknown backend $BACKEND" ;;
esac
(( POLKIT == 0 )) || [[ -x /usr/lib/polkit-1/polkitd ]] || die "polkitd missing (apt-get install polkitd)"

LAB=$NETEVD_LAB_DIR
ID=${LAB##*.}; ID=${ID,,}
NS_SRV=nv-srv-$ID NS_CLI=nv-cli-$ID IF=lab0 IF_PEER=p-lab0
LOGS=$LAB/logs; mkdir -p "$LOGS"
PIDS=()          # every daemon we start, killed by PID at teardown
NETNS=()

teardown() {
    local rc=$? p i
    set +e
    trap - EXIT INT TERM
    for ((i=${#PIDS[@]}-1; i>=0; i--)); do kill -TERM "${PIDS[i]}" 2>/dev/null; done
    for i in $(seq 1 30); do       # up to 3 s for a graceful exit
        local alive=0
        for p in "${PIDS[@]}"; do kill -0 "$p" 2>/dev/null && alive=1; done
        ((alive)) || break; sleep 0.1
    done
    for p in "${PIDS[@]}"; do kill -KILL "$p" 2>/dev/null; done
    wait 2>/dev/null
    for n in "${NETNS[@]}"; do ip netns del "$n" 2>/dev/null; done
    if (( rc != 0 )); then
        for f in "$LOGS"/*.log; do [[ -s $f ]] && { echo "---- tail $f" >&2; tail -n 25 "$f" >&2; }; done
    fi
    # anything we forgot is SIGKILLed by the kernel when this PID 1 exits
    exit "$rc"
}
trap teardown EXIT
trap 'exit 143' TERM
trap 'exit 130' INT

in_cli() { nsenter --net="/run/netns/$NS_CLI" -- "$@"; }
in_srv() { nsenter --net="/run/netns/$NS_SRV" -- "$@"; }
bg_cli() {   # plain "cmd &" so that $! is the daemon itself (nsenter execs it)
    local out=$1; shift
    nsenter --net="/run/netns/$NS_CLI" -- "$@" >"$out" 2>&1 & PIDS+=($!)
}
name_on_bus() { busctl --system call org.freedesktop.DBus /org/freedesktop/DBus org.freedesktop.DBus \
                  NameHasOwner s "$1" 2>/dev/null | grep -q true; }
wait_for() {  # wait_for SECS DESCRIPTION CMD...
    local t=$1 what=$2 i; shift 2
    for ((i = 0; i < t * 20; i++)); do "$@" >/dev/null 2>&1 && return 0; sleep 0.05; done
    die "timeout ($t s) waiting for: $what"
}

# ---- private filesystem view -------------------------------------------------------------
mkdir -p "$LAB"/ovl/{etc,var-lib}/{up,work}
mount -t overlay nv-etc -o "lowerdir=/etc,upperdir=$LAB/ovl/etc/up,workdir=$LAB/ovl/etc/work" /etc
mount -t overlay nv-varlib -o "lowerdir=/var/lib,upperdir=$LAB/ovl/var-lib/up,workdir=$LAB/ovl/var-lib/work" /var/lib
mount -t tmpfs -o mode=0755 nv-run /run
mkdir -p /run/dbus /run/lock /run/systemd /run/netevd-lab/dbus-services \
         /var/lib/dhcp /var/lib/dhclient /var/lib/NetworkManager
mount -t tmpfs -o mode=0755 nv-dhcp /var/lib/dhcp            # Debian lease dir, no stale host leases
mount -t tmpfs -o mode=0755 nv-dhclient /var/lib/dhclient    # RHEL lease dir (what netevd watches)
mount -t tmpfs -o mode=0700 nv-nmstate /var/lib/NetworkManager
install -d -o systemd-network -g systemd-network -m 0755 /run/systemd/netif
printf 'nameserver 10.77.0.1\nsearch lab.test\n' > /etc/resolv.conf   # private (overlay) copy
rm -f /etc/hostname                    # no static hostname -> hostnamed SetHostname takes effect
hostname netevd-lab
# the daemon's unprivileged user, in the overlay /etc only
getent passwd netevd >/dev/null || useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin netevd

# ---- netns + links -------------------------------------------------------------------------
ip netns add "$NS_SRV"; NETNS+=("$NS_SRV")
ip netns add "$NS_CLI"; NETNS+=("$NS_CLI")
ip -n "$NS_SRV" link set lo up
ip -n "$NS_CLI" link set lo up
ip -n "$NS_SRV" link add br0 type bridge
ip -n "$NS_SRV" addr add 10.77.0.1/24 dev br0
ip -n "$NS_SRV" link set br0 up
ip -n "$NS_CLI" link add "$IF" address 02:4e:56:00:00:02 type veth peer name "$IF_PEER" netns "$NS_SRV"
ip -n "$NS_SRV" link set "$IF_PEER" master br0 up
# sysfs of the client netns, read-only: sd-network/NetworkManager then assume "no udev" and
# treat links as initialized (udev_available() == !read-only /sys)
in_cli mount -t sysfs -o ro,nosuid,nodev,noexec nv-sys /sys

# ---- DHCP/DNS server -----------------------------------------------------------------------
cat > "$LAB/dnsmasq.conf" <<EOF
interface=br0
bind-interfaces
no-resolv
no-hosts
domain=lab.test
local=/lab.test/
address=/router.lab.test/10.77.0.1
dhcp-authoritative
no-ping
dhcp-range=10.77.0.100,10.77.0.199,255.255.255.0,${NETEVD_LAB_LEASE_TIME:-2m}
dhcp-option=option:router,10.77.0.1
dhcp-option=option:dns-server,10.77.0.1
dhcp-option=option:domain-name,lab.test
dhcp-option=option:domain-search,lab.test
dhcp-host=02:4e:56:00:00:02,10.77.0.50,labclient
dhcp-leasefile=$LAB/dnsmasq.leases
log-dhcp
EOF
nsenter --net="/run/netns/$NS_SRV" -- dnsmasq --keep-in-foreground --conf-file="$LAB/dnsmasq.conf" --log-facility=- \
    --user=root --group=root >"$LOGS/dnsmasq.log" 2>&1 & PIDS+=($!)

# ---- private system bus --------------------------------------------------------------------
cat > /run/netevd-lab/bus.conf <<'EOF'
<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
  <auth>EXTERNAL</auth>
  <listen>unix:path=/run/dbus/system_bus_socket</listen>
  <servicedir>/run/netevd-lab/dbus-services</servicedir>
  <policy context="default">
    <allow user="*"/>
    <deny own="*"/>
    <deny send_type="method_call"/>
    <allow send_type="signal"/>
    <allow send_requested_reply="true" send_type="method_return"/>
    <allow send_requested_reply="true" send_type="error"/>
    <allow receive_type="method_call"/>
    <allow receive_type="method_return"/>
    <allow receive_type="error"/>
    <allow receive_type="signal"/>
    <allow send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus"/>
    <allow send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus.Introspectable"/>
    <allow send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus.Properties"/>
    <deny send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus" send_member="UpdateActivationEnvironment"/>
  </policy>
  <policy user="root">
    <allow send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus.Monitoring"/>
  </policy>
  <includedir>/usr/share/dbus-1/system.d</includedir>
  <includedir>/etc/dbus-1/system.d</includedir>
</busconfig>
EOF
cat > /run/netevd-lab/dbus-services/org.freedesktop.hostname1.service <<'EOF'
[D-BUS Service]
Name=org.freedesktop.hostname1
Exec=/lib/systemd/systemd-hostnamed
User=root
EOF

RES_BIN=
if (( RESOLVED )); then
    R=${NETEVD_LAB_RESOLVED_ROOT:-}
    RES_BIN=$R/lib/systemd/systemd-resolved
    [[ -x $RES_BIN ]] || die "systemd-resolved not found at $RES_BIN (set NETEVD_LAB_RESOLVED_ROOT)"
    mkdir -p /etc/dbus-1/system.d
    cp "$R/usr/share/dbus-1/system.d/org.freedesktop.resolve1.conf" /etc/dbus-1/system.d/
    # the daemon drops privileges to systemd-resolve: create it in the overlay /etc only
    getent passwd systemd-resolve >/dev/null || systemd-sysusers "$R/usr/lib/sysusers.d/systemd-resolve.conf" >/dev/null
fi

bg_cli "$LOGS/dbus.log" dbus-daemon --config-file=/run/netevd-lab/bus.conf --nofork --nopidfile
export DBUS_SYSTEM_BUS_ADDRESS=unix:path=/run/dbus/system_bus_socket
wait_for 10 "system bus" busctl --system call org.freedesktop.DBus /org/freedesktop/DBus org.freedesktop.DBus GetId

export SYSTEMD_LOG_LEVEL=${SYSTEMD_LOG_LEVEL:-info} SYSTEMD_LOG_TARGET=console SYSTEMD_LOG_COLOR=0
if (( RESOLVED )); then
    RES_LIB=${NETEVD_LAB_RESOLVED_ROOT:-}/usr/lib/x86_64-linux-gnu/systemd
    [[ -e $RES_LIB/libsystemd-shared-252.so ]] && export_ld="LD_LIBRARY_PATH=$RES_LIB" || export_ld=
    bg_cli "$LOGS/resolved.log" env $export_ld "$RES_BIN"
    wait_for 10 "org.freedesktop.resolve1" name_on_bus org.freedesktop.resolve1
fi

if (( POLKIT )); then
    if (( RESOLVED )) && [[ -d ${NETEVD_LAB_RESOLVED_ROOT:-}/usr/share/polkit-1/actions ]]; then
        # resolve1 actions must be registered, else polkit denies; /usr stays read-only
        mount -t overlay nv-pkactions -o "lowerdir=$NETEVD_LAB_RESOLVED_ROOT/usr/share/polkit-1/actions:/usr/share/polkit-1/actions" \
            /usr/share/polkit-1/actions
    fi
    mkdir -p /etc/polkit-1/rules.d
    if [[ -n ${NETEVD_LAB_POLKIT_RULES_DIR:-} ]]; then cp "$NETEVD_LAB_POLKIT_RULES_DIR"/*.rules /etc/polkit-1/rules.d/; fi
    bg_cli "$LOGS/polkitd.log" /usr/lib/polkit-1/polkitd --no-debug
    wait_for 10 "org.freedesktop.PolicyKit1" name_on_bus org.freedesktop.PolicyKit1
fi

# ---- backend ------------------------------------------------------------------------------
lab_has_ip() { in_cli ip -4 -o addr show dev "$IF" | grep -q 'inet 10\.77\.0\.'; }
case $BACKEND in
networkd)
    mkdir -p /etc/systemd/network
    cat > /etc/systemd/network/50-lab.network <<EOF
[Match]
Name=$IF

[Network]
DHCP=ipv4
IPv6AcceptRA=no
LinkLocalAddressing=no
EOF
    bg_cli "$LOGS/networkd.log" /lib/systemd/systemd-networkd
    wait_for 10 "org.freedesktop.network1" name_on_bus org.freedesktop.network1
    ;;
nm)
    cat > /etc/NetworkManager/NetworkManager.conf <<EOF
[main]
plugins=keyfile
auth-polkit=false
dhcp=${NETEVD_LAB_NM_DHCP:-internal}
dns=default
rc-manager=file
hostname-mode=none
no-auto-default=*

[logging]
level=${NETEVD_LAB_NM_LOG_LEVEL:-INFO}

[device-netevd-lab]
match-device=interface-name:$IF
managed=1
EOF
    install -m 0600 /dev/stdin /etc/NetworkManager/system-connections/lab.nmconnection <<EOF
[connection]
id=lab
uuid=0f0f0f0f-4e56-4000-8000-000000000001
type=ethernet
interface-name=$IF
autoconnect=true

[ipv4]
method=auto

[ipv6]
method=disabled
EOF
    bg_cli "$LOGS/nm.log" NetworkManager --debug
    wait_for 15 "org.freedesktop.NetworkManager" name_on_bus org.freedesktop.NetworkManager
    ;;
dhclient)
    # default dhclient-script: it edits /etc/resolv.conf (overlay) and sets the address
    in_cli ip link set "$IF" up
    LEASES=${NETEVD_LAB_DHCLIENT_LEASES:-/var/lib/dhcp/dhclient.$IF.leases}
    mkdir -p "$(dirname "$LEASES")"
    bg_cli "$LOGS/dhclient.log" dhclient -4 -d -v -lf "$LEASES" -pf "/run/dhclient.$IF.pid" "$IF"
    ;;
esac
if [[ $BACKEND != none ]] && (( WAIT > 0 )); then
    wait_for "$WAIT" "$IF got a 10.77.0.x address via $BACKEND" lab_has_ip
fi

export NETEVD_LAB_DIR=$LAB NETEVD_LAB_NS_CLI=$NS_CLI NETEVD_LAB_NS_SRV=$NS_SRV NETEVD_LAB_IF=$IF NETEVD_LAB_IF_PEER=$IF_PEER NETEVD_LAB_BACKEND=$BACKEND
CMDSTR="$*"
log "lab ready: backend=$BACKEND netns=$NS_CLI/$NS_SRV; running: ${CMDSTR:0:100}"
# run in background + wait, so that a TERM/INT to this PID 1 is handled immediately
exec 3<&0
nsenter --net="/run/netns/$NS_CLI" -- "$@" <&3 & PIDS+=($!)
CMD_PID=$!
rc=0
wait "$CMD_PID" || rc=$?
log "command exited with $rc"
exit "$rc"
