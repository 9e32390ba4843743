#!/bin/bash
# The benchmarks (spec section 8). Not tests: they print figures and assert nothing. Each one runs
# in its own lab (test/lab/harness.sh: private namespaces, all traffic stays inside, everything dies
# with the lab). Needs root. About 3-4 minutes in total.
#
#   scripts/bench.sh                 all benchmarks
#   scripts/bench.sh ingest idle     some of them (ingest idle dispatch carrier-hook networkd-hook api-rss soak)
#   scripts/bench.sh soak            the soak alone (10 minutes; BENCH_SOAK_SECONDS=120 for a short one);
#                                    not part of "all": run it on a quiet machine
#
# Output: human lines per benchmark, one JSON line `{"bench": ...}` each (also collected in
# $NETEVD_BENCH_OUT, default /tmp/netevd-bench-<time>.jsonl), and a summary at the end.
# Knobs (env): BENCH_INGEST_OPS, BENCH_IDLE_STARTS, BENCH_IDLE_SECONDS, BENCH_DISPATCH_RUNS,
# BENCH_FLAPS, BENCH_FLAPS_SHELL, BENCH_NETWORKD_FLAPS, BENCH_SOAK_SECONDS.
set -euo pipefail
cd "$(dirname "$0")/.."

[[ $EUID -eq 0 ]] || { echo "bench: needs root (network namespaces, mounts)" >&2; exit 2; }

[[ -f build/Release/netevd_native.node ]] || npx --no-install node-gyp rebuild >/dev/null
npx --no-install tsc -p tsconfig.json
# the real peer for the side-by-side benchmark (Debian package; a Python daemon, no service is started here)
if ! command -v networkd-dispatcher >/dev/null; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends networkd-dispatcher >/dev/null
fi
command -v cc >/dev/null || { echo "bench: needs a C compiler (cc) for the hook timestamp binary" >&2; exit 2; }

OUT=${NETEVD_BENCH_OUT:-/tmp/netevd-bench-$(date +%Y%m%d-%H%M%S).jsonl}
: > "$OUT"
ALL=(ingest idle dispatch carrier-hook networkd-hook api-rss)
(( $# )) && SEL=("$@") || SEL=("${ALL[@]}")

# Latency benchmarks take their reference timestamps (kernel/bus event arrival) in the bench
# process: SCHED_FIFO keeps that listener from being scheduled late on a busy machine;
# reset-on-fork (-R) means the daemon, the hooks and everything else it starts run as SCHED_OTHER.
RT=(chrt -R -f 10)

run() {  # run NAME HARNESS-ARGS... -- CMD...
    local name=$1; shift
    echo "== $name"
    local log
    log=$(mktemp)
    bash test/lab/harness.sh "$@" 2>&1 | tee "$log" | grep -v "^\[lab " || true
    if grep '^{"bench"' "$log" >> "$OUT"; then rm -f "$log"; else echo "   ($name produced no result; harness log: $log)"; fi
}

echo "netevd benchmarks on $(uname -r), $(nproc) CPUs, node $(node --version); load average now: $(cut -d' ' -f1-3 /proc/loadavg)"
for b in "${SEL[@]}"; do
    case $b in
        ingest)        run "$b" -- node dist/bench/ingest.js ;;
        idle)          run "$b" -- node dist/bench/idle.js ;;
        dispatch)      run "$b" -- node dist/bench/dispatch.js ;;
        carrier-hook)  run "$b" -- "${RT[@]}" node dist/bench/carrier-hook.js ;;
        networkd-hook) run "$b" -b networkd -- "${RT[@]}" node dist/bench/networkd-hook.js ;;
        api-rss)       run "$b" -- node dist/bench/api-rss.js ;;
        soak)          run "$b" -b networkd -- node dist/bench/soak.js ;;
        *) echo "bench: unknown benchmark $b (one of: ${ALL[*]} soak)" >&2; exit 2 ;;
    esac
done

echo "== summary (JSON lines in $OUT)"
node --input-type=module - "$OUT" <<'EOF'
import { readFileSync } from "node:fs";
const lines = readFileSync(process.argv[2], "utf8").split("\n").filter(Boolean).map((l) => JSON.parse(l));
const out = (s) => process.stdout.write(`  ${s}\n`);
for (const r of lines) {
  const load = `(load ${r.loadavg?.[0]})`;
  switch (r.bench) {
    case "ingest":
      out(`ingest: ${r.msgsPerCpuSecond} msgs/CPU-s through KernelSource (adds ${r.adds.msgsPerCpuSecond}, deletes ${r.deletes.msgsPerCpuSecond}; target >= 50000), ` +
        `${r.overflows} overflows, ${r.resyncs} resyncs, model equals dump: ${r.modelEqualsDump}; in-process decode+apply ${r.inProcess.decodeApplyMsgsPerSec} msgs/s ${load}`);
      break;
    case "idle":
      out(`idle: RSS ${r.rssMb5s} MB at 5 s, ${r.rssMb30s} MB at 30 s (target <= 45, API answers: ${r.api.tcp9090Answers}); ` +
        `wake-ups 5-30 s: ${r.idleWakeups.voluntaryCtxSwitches} ctx switches (target ~0); startup ${r.startup.startupMs.p50} ms in-daemon, ` +
        `${r.startup.spawnToReadyWallMs.p50} ms spawn->ready (target <= 300) ${load}`);
      break;
    case "dispatch":
      out(`dispatch: submit->spawn p50 ${r.submitToSpawnMs.p50} ms, spawn->exec p50 ${r.spawnToExecMs.p50} ms ${load}`);
      break;
    case "carrier-hook": {
      const b = r.results.binary.noCarrier;
      out(`carrier loss -> hook exec: p50 ${b.p50} ms, p99 ${b.p99} ms (targets 3 / 10); sh+date p50 ${r.results["sh+date"].noCarrier.p50} ms ${load}`);
      break;
    }
    case "networkd-hook":
      out(`networkd signal -> hook: netevd p50 ${r.netevdEmitJson.sigToHook.p50} ms (emit_json on), ${r.netevdNoJson.sigToHook.p50} ms (off) (target 4); ` +
        `networkd-dispatcher p50 ${r.networkdDispatcher.sigToHook.p50} ms; ratio ${r.ratioP50.emitJson}x / ${r.ratioP50.noJson}x ${load}`);
      break;
    case "soak":
      out(`soak (${r.seconds} s): RSS by window ${r.rssMbByWindow.join(" ")} MB (flat: ${r.rssFlat}); /health p50 ${r.healthMs.p50} ms, p99 ${r.healthMs.p99} ms; ` +
        `lost final states ${r.lostFinalStates}; carrier hook runs ${r.hookRuns} vs expected ${r.hookRunsExpected} (coalesced, all dirs: ${r.coalescedAllDirs}); ${r.backendRestarts} backend restarts ${load}`);
      break;
    case "api-rss":
      out(`api: RSS idle ${r.idle.rssMb} MB, after ${r.requests} requests ${r.afterRequests.rssMb} MB (${r.reqPerSec} req/s, ${r.serverErrors} 5xx), ` +
        `after ${r.events} events ${r.afterEvents.rssMb} MB, settled ${r.settled.rssMb} MB (target idle <= 45) ${load}`);
      break;
  }
}
EOF
