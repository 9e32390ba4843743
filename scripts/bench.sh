#!/bin/bash
# The benchmarks. Not tests: they print figures and assert nothing. Each run of a
# benchmark happens in its own lab (test/lab/harness.sh: private namespaces, all traffic stays
# inside, everything dies with the lab). Needs root and the packages of scripts/setup.sh (the peers:
# networkd-dispatcher, NetworkManager's nm-dispatcher). About 10 minutes with the default 3 rounds.
#
#   scripts/bench.sh                 all benchmarks, BENCH_ROUNDS (3) times each
#   scripts/bench.sh ingest idle     some of them (ingest idle dispatch carrier-hook networkd-hook nm-hook api-rss soak)
#   scripts/bench.sh soak            the soak alone (10 minutes, one round; BENCH_SOAK_SECONDS=120 for a short one);
#                                    not part of "all": run it on a quiet machine
#
# Output: human lines per run, one JSON line `{"bench": ...}` per run (also collected in
# $NETEVD_BENCH_OUT, default /tmp/netevd-bench-<time>.jsonl), then a summary: every figure as the
# median of the rounds with its spread (min–max), and a markdown table for README.md.
# networkd-dispatcher is the copy scripts/setup-lab.sh unpacks into /var/lib/netevd-lab (never
# installed), or an installed one.
# Knobs (env): BENCH_ROUNDS, BENCH_INGEST_OPS, BENCH_IDLE_STARTS, BENCH_IDLE_SECONDS, BENCH_DISPATCH_RUNS,
# BENCH_FLAPS, BENCH_FLAPS_SHELL, BENCH_NETWORKD_FLAPS, BENCH_NM_CYCLES, BENCH_NM_CARRIER_FLAPS,
# BENCH_API_REQUESTS, BENCH_API_EVENTS, BENCH_SOAK_SECONDS.
set -euo pipefail
cd "$(dirname "$0")/.."

[[ $EUID -eq 0 ]] || { echo "bench: needs root (network namespaces, mounts)" >&2; exit 2; }

# the addon, (re)built when it is missing or older than its sources (a pull that changed native/)
if [[ ! -f build/Release/netevd_native.node ]] || [[ -n $(find native binding.gyp -newer build/Release/netevd_native.node -print -quit) ]]; then
    npx --no-install node-gyp rebuild >/dev/null
fi
npx --no-install tsc -p tsconfig.json
node scripts/bundle.mjs
command -v cc >/dev/null || { echo "bench: needs a C compiler (cc) for the hook timestamp binary" >&2; exit 2; }

OUT=${NETEVD_BENCH_OUT:-/tmp/netevd-bench-$(date +%Y%m%d-%H%M%S).jsonl}
: > "$OUT"
ROUNDS=${BENCH_ROUNDS:-3}
ALL=(ingest idle dispatch carrier-hook networkd-hook nm-hook api-rss)
(( $# )) && SEL=("$@") || SEL=("${ALL[@]}")

# the peers come from the setup path (scripts/setup-lab.sh), never from here
ND_LAB=/var/lib/netevd-lab/networkd-dispatcher/usr/bin/networkd-dispatcher
if [[ -z "${NETEVD_ND_BIN:-}" ]]; then
    if [[ -x $ND_LAB ]]; then NETEVD_ND_BIN=$ND_LAB; else NETEVD_ND_BIN=$(command -v networkd-dispatcher || true); fi
fi
export NETEVD_ND_BIN
for b in "${SEL[@]}"; do
    case $b in
        networkd-hook) [[ -n "$NETEVD_ND_BIN" && -x "$NETEVD_ND_BIN" ]] ||
            { echo "bench: networkd-dispatcher not found: run scripts/setup-lab.sh first" >&2; exit 2; } ;;
        nm-hook) [[ -x /usr/lib/NetworkManager/nm-dispatcher ]] ||
            { echo "bench: /usr/lib/NetworkManager/nm-dispatcher is missing: run scripts/setup-lab.sh first" >&2; exit 2; } ;;
    esac
done

# Latency benchmarks take their reference timestamps (kernel/bus event arrival) in the bench
# process: SCHED_FIFO keeps that listener from being scheduled late on a busy machine;
# reset-on-fork (-R) means the daemon, the hooks and everything else it starts run as SCHED_OTHER.
RT=(chrt -R -f 10)

run() {  # run NAME HARNESS-ARGS... -- CMD...
    local name=$1; shift
    local log
    log=$(mktemp)
    bash test/lab/harness.sh "$@" 2>&1 | tee "$log" | grep -v "^\[lab " | grep -v '^{"bench"' || true
    if grep '^{"bench"' "$log" >> "$OUT"; then rm -f "$log"; else echo "   ($name produced no result; harness log: $log)"; fi
}

echo "netevd benchmarks on $(uname -r), $(nproc) CPUs, node $(node --version), $ROUNDS rounds; load average now: $(cut -d' ' -f1-3 /proc/loadavg)"
for b in "${SEL[@]}"; do
    rounds=$ROUNDS; [[ $b == soak ]] && rounds=1   # the soak is long: one round
    for ((round = 1; round <= rounds; round++)); do
        echo "== $b (round $round/$rounds)"
        case $b in
            ingest)        run "$b" -- node dist/bench/ingest.js ;;
            idle)          run "$b" -- node dist/bench/idle.js ;;
            dispatch)      run "$b" -- node dist/bench/dispatch.js ;;
            carrier-hook)  run "$b" -- "${RT[@]}" node dist/bench/carrier-hook.js ;;
            networkd-hook) run "$b" -b networkd -- "${RT[@]}" node dist/bench/networkd-hook.js ;;
            nm-hook)       run "$b" -b nm -- "${RT[@]}" node dist/bench/nm-hook.js ;;
            api-rss)       run "$b" -- node dist/bench/api-rss.js ;;
            soak)          run "$b" -b networkd -- node dist/bench/soak.js ;;
            *) echo "bench: unknown benchmark $b (one of: ${ALL[*]} soak)" >&2; exit 2 ;;
        esac
    done
done

echo "== summary: median of the rounds [min–max] (JSON lines in $OUT)"
node dist/bench/summary.js "$OUT"
