#!/usr/bin/env bash
# The README's test command: installs what is missing, builds the release client, then runs every
# test — native (core + gateway), end to end in headless Chromium through WebDriver (gateway binary
# serving the release build), and the wasm-bindgen browser tests. Exits non-zero on any failure.
#
#   scripts/test.sh          everything (what .ci/run calls)
#   scripts/test.sh --long   also the long-running checks: 20,000 property-test cases, 300 chaos
#                            seeds instead of 50, and 60 s of cargo-fuzz per target
#                            (scripts/fuzz.sh; needs nightly)
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/tools.sh
tl_install_tools

long=0
[[ "${1:-}" == "--long" ]] && long=1
if ((long)); then
  export PROPTEST_CASES="${PROPTEST_CASES:-20000}"
  export CHAOS_SEEDS="${CHAOS_SEEDS:-300}"
fi

echo "== release client build (trunk, wasm-opt $BINARYEN_MAJOR)"
trunk build --release
scripts/sizes.sh --check dist

echo "== native tests: app units, threadline-core, threadline-gateway (incl. end-to-end in headless Chromium)"
# The browser end-to-end tests serve this release build; they are the only check of wasm-opt's output.
export THREADLINE_DIST="$PWD/dist"
cargo test --locked --workspace

if ((long)); then
  echo "== fuzzing (cargo-fuzz, 60 s per target)"
  scripts/fuzz.sh 60
fi

echo "== wasm-bindgen tests of the app in headless Chromium"
cargo test --locked -p threadline --target wasm32-unknown-unknown

echo "== all tests passed"
