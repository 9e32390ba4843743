#!/bin/bash
# The whole test suite: unit tests (pure logic) and lab tests (root: the real kernel, systemd-networkd,
# NetworkManager, dhclient + dnsmasq in private network namespaces that die with the test).
set -euo pipefail
cd "$(dirname "$0")/.."
# the addon, (re)built when it is missing or older than its sources (a pull that changed native/)
if [[ ! -f build/Release/netevd_native.node ]] || [[ -n $(find native binding.gyp -newer build/Release/netevd_native.node -print -quit) ]]; then
    npx --no-install node-gyp rebuild >/dev/null
fi
npx --no-install tsc -p tsconfig.json
node scripts/bundle.mjs
npx --no-install eslint src test bench
# formatting (.prettierrc.json; what it skips: .prettierignore): `npm run format` fixes it
npx --no-install prettier --check --log-level warn .
# no import cycles, and imports point down the layers (sources → events → actions → api → daemon → cli)
node scripts/check-imports.mjs
mapfile -t unit < <(find dist/test/unit -name '*.test.js' | sort)
mapfile -t lab < <(find dist/test/lab -name '*.test.js' | sort)
# each lab file runs in its own lab; two at a time fits the 2-core machines this runs on
node --test --test-reporter=spec --test-concurrency=2 "${unit[@]}" "${lab[@]}"
# a 2-minute soak (bench/soak.ts): fails when a final state was lost or RSS passes 200 MB
if [[ $EUID -eq 0 && ${NETEVD_SKIP_SOAK:-0} != 1 ]]; then
    echo "== soak (2 minutes)"
    bash test/lab/harness.sh -b networkd -- node dist/bench/soak.js --duration "${NETEVD_SOAK_SECONDS:-120}" --check 2>&1 | grep -v "^\[lab "
fi
