#!/usr/bin/env bash
# The benchmark command (issue 4 §1): prints ONE markdown table of figures next to their targets
# and, for sizes, next to peers' published bundles measured the same way. Loopback only, bounded
# in count and time (about 10 minutes on a 2-core machine). Not part of the test command: a
# figure that cannot be taken says "n/a (reason)", and the script always exits 0.
#
#   scripts/bench.sh              build what is missing or stale, then measure everything
#   scripts/bench.sh --no-build   measure the existing dist/ and release binaries as they are
#
# Environment: BENCH_RUNS (runs per figure, default 5, at least 5), BENCH_LOAD_SECONDS (seconds of
# load per gateway-load run, default 6), BENCH_MESSAGES (big transcript size, default 10000).
# Progress goes to stderr and bench-*.log files under target/bench/; the table goes to stdout.
# Notes on what each figure measures: bench/README.md.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 0
ROOT="$PWD"

build=1
[[ "${1:-}" == "--no-build" ]] && build=0
RUNS="${BENCH_RUNS:-5}"; ((RUNS < 5)) && RUNS=5
LOAD_SECONDS="${BENCH_LOAD_SECONDS:-6}"
MESSAGES="${BENCH_MESSAGES:-10000}"
TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
LOGS="$ROOT/target/bench"
mkdir -p "$LOGS"
ROWS="$(mktemp)"
trap 'rm -f "$ROWS"' EXIT

# Peers, pinned so the figures are reproducible (npm package tarballs; files are measured, never run).
WEBCHAT_PKG="botframework-webchat@4.18.1"
LIVECHAT_PKG="@rocket.chat/livechat@1.13.3"
PEERS="$ROOT/bench/peers"

note() { echo "bench: $*" >&2; }
row() { printf '| %s | %s | %s | %s | %s | %s |\n' "$@" >>"$ROWS"; }

# --- sizes -------------------------------------------------------------------------------------
gz_bytes() { gzip -9 -c "$1" | wc -c; }
br_bytes() { if command -v brotli >/dev/null; then brotli -q 11 -c "$1" | wc -c; else echo 0; fi; }
# "12.3 KB" (1 KB = 1000 bytes, as the peers' figures are quoted).
kb() { awk -v b="$1" 'BEGIN { printf "%.1f KB", b / 1000 }'; }
# Sums raw, gzip and brotli sizes of the given files into the globals RAW GZ BR.
measure() {
  RAW=0; GZ=0; BR=0
  local f
  for f in "$@"; do
    [[ -f "$f" ]] || continue
    RAW=$((RAW + $(stat -c %s "$f"))); GZ=$((GZ + $(gz_bytes "$f"))); BR=$((BR + $(br_bytes "$f")))
  done
}
size_cell() { if command -v brotli >/dev/null; then echo "$(kb "$GZ") gz · $(kb "$BR") br · $(kb "$RAW") raw"; else echo "$(kb "$GZ") gz · $(kb "$RAW") raw (no brotli)"; fi; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.3f", a / b; else printf "n/a" }'; }
meets() { awk -v v="$1" -v t="$2" -v label="$3" 'BEGIN { printf "%s: %s", label, (v <= t ? "met" : "MISSED") }'; }

install_peers() {
  local ok=1
  mkdir -p "$PEERS"
  if [[ ! -f "$PEERS/webchat/package/dist/webchat-minimal.js" ]]; then
    note "fetching $WEBCHAT_PKG (npm pack) into bench/peers"
    if (cd "$PEERS" && npm pack --silent "$WEBCHAT_PKG" >"$LOGS/npm-webchat.log" 2>&1); then
      mkdir -p "$PEERS/webchat" && tar -xzf "$PEERS"/botframework-webchat-*.tgz -C "$PEERS/webchat" || ok=0
    else ok=0; fi
  fi
  if [[ ! -f "$PEERS/livechat/package/build/rocketchat-livechat.min.js" ]]; then
    note "fetching $LIVECHAT_PKG (npm pack) into bench/peers"
    if (cd "$PEERS" && npm pack --silent "$LIVECHAT_PKG" >"$LOGS/npm-livechat.log" 2>&1); then
      mkdir -p "$PEERS/livechat" && tar -xzf "$PEERS"/rocket.chat-livechat-*.tgz -C "$PEERS/livechat" || ok=0
    else ok=0; fi
  fi
  ((ok))
}

# Rocket.Chat's files at start: the loader script, the widget's index.html (loaded in an iframe),
# the scripts that page references, and the chunks its entry imports before the first render
# (`Promise.all([r.e(4), r.e(5)])` in bundle.*.js for 1.13.3: the app and its styles).
livechat_start_files() {
  local build="$PEERS/livechat/package/build" ids id f
  [[ -f "$build/index.html" ]] || return 1
  echo "$build/index.html"
  grep -o 'src="livechat/[^"]*"' "$build/index.html" | sed 's/^src="livechat\///; s/"$//' | while read -r f; do echo "$build/$f"; done
  ids=$(grep -ho 'Promise\.all(\[[^]]*\])' "$build"/bundle.*.js 2>/dev/null | grep -o 'e([0-9]*)' | tr -dc '0-9\n' | sort -u)
  for id in ${ids:-4 5}; do
    for f in "$build/$id".chunk.*.js "$build/$id".chunk.*.css; do [[ -f "$f" ]] && echo "$f"; done
  done
}

sizes() {
  local dist="$ROOT/dist" loader="" loader_note="" wasm js css peers_ok=1
  wasm=$(ls "$dist"/*.wasm 2>/dev/null | head -1)
  js=$(ls "$dist"/threadline*.js 2>/dev/null | grep -v '/threadline\.js$' | head -1)
  css=$(ls "$dist"/*.css 2>/dev/null | tr '\n' ' ')
  # The shipped loader is the build's stamped copy (www/stamp-loader.sh, a Trunk hook). A dist
  # built before the hook existed gets it stamped here, in a scratch folder, the same way.
  if [[ -f "$dist/threadline.js" ]]; then loader="$dist/threadline.js"
  elif [[ -f "$ROOT/www/stamp-loader.sh" && -n "$wasm" ]]; then
    local stage="$LOGS/loader-stage"
    rm -rf "$stage"; mkdir -p "$stage"; cp "$dist"/*.wasm "$dist"/*.css "$stage"/ 2>/dev/null
    if TRUNK_SOURCE_DIR="$ROOT" TRUNK_STAGING_DIR="$stage" sh "$ROOT/www/stamp-loader.sh" >>"$LOGS/build.log" 2>&1 \
       && [[ -f "$stage/threadline.js" ]]; then
      loader="$stage/threadline.js"; loader_note=", stamped from www/ by the bench"
    fi
  fi
  install_peers || peers_ok=0

  local webchat="$PEERS/webchat/package/dist/webchat-minimal.js"
  local livechat_loader="$PEERS/livechat/package/build/rocketchat-livechat.min.js"
  local wc_gz=0 lc_gz=0 lc_loader_gz=0 wc_cell lc_cell lc_loader_cell
  if ((peers_ok)) && [[ -f "$webchat" ]]; then measure "$webchat"; wc_gz=$GZ; wc_cell="$(size_cell)"; else wc_cell="n/a (npm pack $WEBCHAT_PKG failed: target/bench/npm-webchat.log)"; fi
  local lc_files=()
  if ((peers_ok)) && mapfile -t lc_files < <(livechat_start_files) && ((${#lc_files[@]})); then
    measure "$livechat_loader"; lc_loader_gz=$GZ; lc_loader_cell="$(size_cell)"
    measure "${lc_files[@]}"; local lc_app_gz=$GZ
    measure "$livechat_loader" "${lc_files[@]}"; lc_gz=$GZ
    lc_cell="$(size_cell) (loader $(kb "$lc_loader_gz") gz + app at start $(kb "$lc_app_gz") gz; $((${#lc_files[@]} + 1)) files)"
  else
    lc_loader_cell="n/a (npm pack $LIVECHAT_PKG failed: target/bench/npm-livechat.log)"; lc_cell="$lc_loader_cell"
  fi

  if [[ -n "$loader" ]]; then
    measure "$loader"
    local ratio_cell="—"; ((lc_loader_gz)) && ratio_cell="$(ratio "$GZ" "$lc_loader_gz") (gz, vs livechat loader)"
    row "Size: loader ($(basename "$loader")$loader_note)" "$(size_cell)" "$(meets "$GZ" 2500 "≤ 2.5 KB gz")" "— (no loader: the bundle is the install)" "$lc_loader_cell" "$ratio_cell"
  else
    row "Size: loader" "n/a (no dist/threadline.js, and www/stamp-loader.sh could not make one)" "≤ 2.5 KB gz" "—" "$lc_loader_cell" "—"
  fi
  local name file
  for name in wasm js css; do
    file="${!name}"
    if [[ -n "$file" ]]; then
      # shellcheck disable=SC2086 # css may be several files
      measure $file
      row "Size: $name ($(for f in $file; do basename "$f"; done | tr '\n' ' ' | sed 's/ $//'))" "$(size_cell)" "—" "—" "—" "—"
    else
      row "Size: $name" "n/a (no release build in dist/)" "—" "—" "—" "—"
    fi
  done
  if [[ -n "$wasm" && -n "$js" ]]; then
    # shellcheck disable=SC2086
    measure $loader $wasm $js $css
    local ours_gz=$GZ ratios=()
    ((wc_gz)) && ratios+=("$(ratio "$ours_gz" "$wc_gz") vs webchat")
    ((lc_gz)) && ratios+=("$(ratio "$ours_gz" "$lc_gz") vs livechat")
    local ratio_cell; ratio_cell="$(IFS=';'; echo "${ratios[*]:-—}" | sed 's/;/; /g') (gz)"
    row "Size: whole messenger at start (loader + wasm + js + css)" "$(size_cell)" "$(meets "$ours_gz" 100000 "≤ 100 KB gz")" "$wc_cell (webchat-minimal.js)" "$lc_cell" "$ratio_cell"
  else
    row "Size: whole messenger at start" "n/a (no release build in dist/)" "≤ 100 KB gz" "$wc_cell" "$lc_cell" "—"
  fi
  floor_size "${ours_gz:-0}"
}

# The floors any messenger on this design starts at, through the same profile, wasm-bindgen and
# wasm-opt -Oz as the messenger: the UI runtime (bench/leptos-floor: a counter and a keyed list)
# and the engine with its protocol codec and no UI (bench/core-floor). $1: the messenger's gzip total.
floor_size() {
  local ours=$1 floors=0 built=0 name label
  for name in leptos-floor core-floor; do
    case $name in
      leptos-floor) label="Leptos 0.8 CSR floor (bench/leptos-floor: counter + keyed list, wasm + js)" ;;
      core-floor) label="Engine + protocol floor, no UI (bench/core-floor: threadline-core as the driver uses it, wasm + js)" ;;
    esac
    if floor_measure "$name"; then
      local share="—"; ((ours)) && share="$(ratio "$GZ" "$ours") of ours (gz)"
      row "Size: $label" "$(size_cell)" "—" "—" "—" "$share"
      floors=$((floors + GZ)); built=$((built + 1))
    else
      row "Size: $label" "n/a (bench/$name not built: scripts/bench.sh without --no-build)" "—" "—" "—" "—"
    fi
  done
  if ((built == 2)); then
    row "Size: both floors together, before any view (gz)" "$(kb "$floors") gz" \
      "$(meets "$floors" 100000 "≤ 100 KB gz (the whole messenger's target)")" "—" "—" "—"
  fi
}

# Builds nothing: binds and optimises bench/$1's wasm-release build, then measures it into GZ.
floor_measure() {
  local name=$1 built="$LOGS/$1/wasm32-unknown-unknown/wasm-release/$1.wasm" out="$LOGS/$1/out"
  local wasm_opt="$ROOT/.tools/node_modules/.bin/wasm-opt"
  [[ -x "$wasm_opt" ]] || wasm_opt=wasm-opt
  rm -rf "$out"; mkdir -p "$out"
  [[ -f "$built" ]] && wasm-bindgen --target web --out-dir "$out" "$built" >>"$LOGS/build.log" 2>&1 \
    && "$wasm_opt" -Oz --enable-reference-types --enable-bulk-memory --enable-nontrapping-float-to-int \
         --enable-sign-ext --enable-mutable-globals "$out/${name}_bg.wasm" -o "$out/floor.wasm" >>"$LOGS/build.log" 2>&1 \
    && measure "$out/floor.wasm" "$out/$name.js"
}

# --- engine --------------------------------------------------------------------------------------
# Converts a Rust Debug duration ("812.30µs", "3.21ms", "1.02s") to milliseconds.
to_ms() { awk -v d="$1" 'BEGIN {
  if (d ~ /ms$/) { sub(/ms$/, "", d); print d + 0 } else if (d ~ /(µs|us)$/) { sub(/(µs|us)$/, "", d); print d / 1000 }
  else if (d ~ /ns$/) { sub(/ns$/, "", d); print d / 1e6 } else if (d ~ /s$/) { sub(/s$/, "", d); print d * 1000 } else print "" }'; }

engine() {
  local bin="$TARGET_DIR/release/examples/engine_bench" out frames merge merge_ms
  if [[ ! -x "$bin" ]]; then
    row "Engine: live frames handled" "n/a (engine_bench not built)" "—" "—" "—" "—"
    row "Engine: 10,000-message history merge" "n/a (engine_bench not built)" "≤ 20 ms" "—" "—" "—"
    return
  fi
  note "engine_bench"
  out=$(timeout 300 "$bin" 2>"$LOGS/engine.log"); echo "$out" >>"$LOGS/engine.log"
  frames=$(sed -n 's/^live frames: .*= \([0-9]*\) frames\/s.*/\1/p' <<<"$out")
  merge=$(sed -n 's/^history merge: .* in \([^ ]*\) (median.*/\1/p' <<<"$out")
  if [[ -n "$frames" ]]; then
    row "Engine: live frames handled (native, release)" "$frames frames/s (median of 7)" "—" "—" "—" "—"
  else
    row "Engine: live frames handled" "n/a (unexpected engine_bench output: target/bench/engine.log)" "—" "—" "—" "—"
  fi
  merge_ms=$(to_ms "$merge")
  if [[ -n "$merge_ms" ]]; then
    row "Engine: 10,000-message history merge (native, release)" "$(printf '%.2f' "$merge_ms") ms (median of 7)" "$(meets "$merge_ms" 20 "≤ 20 ms")" "—" "—" "—"
  else
    row "Engine: 10,000-message history merge" "n/a (unexpected engine_bench output: target/bench/engine.log)" "≤ 20 ms" "—" "—" "—"
  fi
}

# --- gateway load ----------------------------------------------------------------------------------
median() { sort -g | awk '{ v[NR] = $1 } END { if (NR) print v[int((NR + 1) / 2)] }'; }

gateway_load() {
  local bin="$TARGET_DIR/release/examples/gateway-load" sessions run out log held p50 p99 rate
  ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
  for sessions in 2000 10000; do
    if [[ ! -x "$bin" ]]; then
      row "Gateway: $sessions sessions, echo RTT" "n/a (gateway-load not built)" "—" "—" "—" "—"; continue
    fi
    log="$LOGS/gateway-load-$sessions.log"; : >"$log"
    for ((run = 1; run <= RUNS; run++)); do
      note "gateway-load $sessions sessions, run $run of $RUNS"
      # One onMessage every 2 s per session (0.5 msg/s) besides the keep-alive echoes.
      timeout 200 "$bin" --sessions "$sessions" --seconds "$LOAD_SECONDS" --message-interval 2 >>"$log" 2>&1 || echo "exit $?" >>"$log"
    done
    held=$(sed -n 's/^hold: .*sessions held at the end: \([0-9]*\) of.*/\1/p' "$log" | median)
    p50=$(sed -n 's/^echo RTT, all during the hold: .*p50 \([0-9.]*\) ms.*/\1/p' "$log" | median)
    p99=$(sed -n 's/^echo RTT, all during the hold: .*p99 \([0-9.]*\) ms.*/\1/p' "$log" | median)
    rate=$(sed -n 's/^replies\/s during the hold: \([0-9]*\).*/\1/p' "$log" | median)
    if [[ -n "$p99" ]]; then
      local target="—" limit=""; ((sessions == 10000)) && target="$(meets "$p99" 20 "≤ 20 ms p99")"
      ((${held:-0} < sessions)) && limit=" (open-file limit $(ulimit -n))"
      row "Gateway: $sessions concurrent guest sessions, echo RTT (0.5 msg/s each + keep-alive)" \
        "held $held$limit; p50 $p50 ms, p99 $p99 ms; $rate replies/s (medians of $RUNS runs × ${LOAD_SECONDS} s hold)" "$target" "—" "—" "—"
    else
      row "Gateway: $sessions sessions, echo RTT" "n/a (no round trips measured: target/bench/gateway-load-$sessions.log)" "—" "—" "—" "—"
    fi
  done
}

# --- browser ---------------------------------------------------------------------------------------
browser() {
  local bin="$TARGET_DIR/release/examples/browser-bench"
  if [[ ! -x "$bin" ]]; then
    row "Browser figures" "n/a (browser-bench not built: target/bench/build.log)" "—" "—" "—" "—"; return
  fi
  if ! command -v chromedriver >/dev/null || [[ ! -x /usr/bin/chromium ]]; then
    row "Browser figures" "n/a (chromium / chromedriver missing: apt-get install chromium chromium-driver)" "—" "—" "—" "—"; return
  fi
  note "browser-bench (headless Chromium; progress in target/bench/browser.log)"
  timeout 600 "$bin" --gateway "$TARGET_DIR/release/threadline-gateway" --dist "$ROOT/dist" --runs "$RUNS" --messages "$MESSAGES" \
    2>"$LOGS/browser.log" | grep '^|' >>"$ROWS"
  grep -q 'browser-bench\|Cold open' "$ROWS" || row "Browser figures" "n/a (browser-bench printed nothing: target/bench/browser.log)" "—" "—" "—" "—"
}

# --- main --------------------------------------------------------------------------------------------
started=$(date +%s)
if ((build)); then
  note "building (logs: target/bench/build.log)"
  {
    # shellcheck source=tools.sh
    source scripts/tools.sh && tl_install_tools && trunk build --release
  } >"$LOGS/build.log" 2>&1 || note "client build failed (see target/bench/build.log); measuring what exists"
  cargo build --release -p threadline-gateway --bin threadline-gateway --example gateway-load --example browser-bench \
    >>"$LOGS/build.log" 2>&1 || note "gateway build failed (see target/bench/build.log)"
  cargo build --release -p threadline-core --example engine_bench >>"$LOGS/build.log" 2>&1 \
    || note "engine_bench build failed (see target/bench/build.log)"
  for floor in leptos-floor core-floor; do
    CARGO_TARGET_DIR="$LOGS/$floor" cargo build --offline --locked --manifest-path "bench/$floor/Cargo.toml" \
      --profile wasm-release --target wasm32-unknown-unknown >>"$LOGS/build.log" 2>&1 \
      || note "$floor build failed (see target/bench/build.log)"
  done
fi

sizes
engine
gateway_load
browser

load_avg=$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo "?")
cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo 2>/dev/null | head -1)
echo "Threadline benchmark — $(date -u '+%Y-%m-%d %H:%M UTC'); $(nproc) cores ($(uname -m)${cpu:+, $cpu}); load average at the end $load_avg; took $(( $(date +%s) - started )) s"
echo
echo "| Figure | Threadline | Target | botframework-webchat ${WEBCHAT_PKG##*@} | Rocket.Chat livechat ${LIVECHAT_PKG##*@} | Ours / peer |"
echo "| --- | --- | --- | --- | --- | --- |"
cat "$ROWS"
echo
echo "Sizes: gzip -9 and brotli -q 11 of each file, summed; 1 KB = 1000 bytes. Times: medians of $RUNS runs unless stated."
exit 0
