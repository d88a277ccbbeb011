#!/usr/bin/env bash
# Runs the cargo-fuzz targets of crates/core/fuzz (nightly + libFuzzer + AddressSanitizer), each
# for a fixed time, prints a summary table, and exits non-zero if any target found a crash
# (printing the crash file, its content and the panic message). Turn each crash into a named
# regression test in crates/core/tests/core/fuzz_stable.rs.
#
#   scripts/fuzz.sh                 every target, 60 s each
#   scripts/fuzz.sh 600             every target, 10 min each
#   scripts/fuzz.sh 30 markdown     only the named targets
#
# Targets: server_frame client_action deployment_config history_page markdown gateway_frame.
# Seeds come from crates/core/fuzz/corpus/<target>/ (read only); inputs the fuzzer finds go to
# $CARGO_TARGET_DIR/fuzz-work/corpus/<target>/ and are reused by the next run, crashes to
# $CARGO_TARGET_DIR/fuzz-work/artifacts/<target>/. Replay a crash with:
#   cargo +nightly fuzz run --fuzz-dir crates/core/fuzz <target> <crash-file>
# Without nightly or cargo-fuzz this says so and exits 2; the stable harness
# (cargo test -p threadline-core --test core fuzz_stable) needs neither.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 2
ROOT="$PWD"

SECONDS_EACH="${1:-60}"
if ! [[ "$SECONDS_EACH" =~ ^[0-9]+$ ]] || ((SECONDS_EACH < 1)); then
  echo "usage: scripts/fuzz.sh [seconds-per-target] [target...]" >&2
  exit 2
fi
shift || true
ALL_TARGETS=(server_frame client_action deployment_config history_page markdown gateway_frame)
if (($# > 0)); then TARGETS=("$@"); else TARGETS=("${ALL_TARGETS[@]}"); fi

FUZZ_DIR="crates/core/fuzz"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target/fuzz}"
WORK="$CARGO_TARGET_DIR/fuzz-work"
mkdir -p "$WORK"

if ! cargo +nightly --version >/dev/null 2>&1; then
  echo "fuzz: no nightly toolchain (rustup toolchain install nightly); cargo-fuzz cannot run." >&2
  exit 2
fi
if ! cargo +nightly fuzz --version >/dev/null 2>&1; then
  echo "fuzz: installing cargo-fuzz from crates.io" >&2
  if ! cargo install --locked cargo-fuzz >&2; then
    echo "fuzz: cargo-fuzz could not be installed; only the stable harness is available." >&2
    exit 2
  fi
fi

echo "== building fuzz targets (nightly, release, AddressSanitizer)" >&2
if ! cargo +nightly fuzz build -O --fuzz-dir "$FUZZ_DIR" >"$WORK/build.log" 2>&1; then
  tail -40 "$WORK/build.log" >&2
  echo "fuzz: the targets do not build on nightly (log: $WORK/build.log)" >&2
  exit 2
fi

failed=0
SUMMARY="$WORK/summary.txt"
printf '%-18s %8s %12s %10s %8s %8s  %s\n' target seconds executions "exec/s" cov corpus result >"$SUMMARY"
for target in "${TARGETS[@]}"; do
  if [[ ! -f "$FUZZ_DIR/fuzz_targets/$target.rs" ]]; then
    echo "fuzz: unknown target $target (known: ${ALL_TARGETS[*]})" >&2
    failed=1
    continue
  fi
  corpus="$WORK/corpus/$target"
  artifacts="$WORK/artifacts/$target"
  scratch="$WORK/tmp/$target"
  mkdir -p "$corpus" "$artifacts"
  rm -rf "$scratch" && mkdir -p "$scratch"
  dict="$FUZZ_DIR/dict/json.dict"
  [[ "$target" == markdown ]] && dict="$FUZZ_DIR/dict/markdown.dict"
  log="$WORK/$target.log"
  echo "== fuzzing $target for ${SECONDS_EACH}s (log: $log)" >&2
  started=$(date +%s)
  # TMPDIR: the gateway target keeps its SQLite store there; it is cleared after the run.
  TMPDIR="$scratch" cargo +nightly fuzz run -O --fuzz-dir "$FUZZ_DIR" "$target" "$corpus" "$FUZZ_DIR/corpus/$target" -- \
    -max_total_time="$SECONDS_EACH" -timeout=20 -rss_limit_mb=3072 -max_len=8192 \
    -dict="$dict" -artifact_prefix="$artifacts/" -print_final_stats=1 >"$log" 2>&1
  status=$?
  elapsed=$(($(date +%s) - started))
  rm -rf "$scratch"
  executions=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | tail -1 | grep -o '[0-9]*$')
  per_second=$(grep -o 'stat::average_exec_per_sec: *[0-9]*' "$log" | tail -1 | grep -o '[0-9]*$')
  coverage=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | grep -o '[0-9]*$')
  corpus_size=$(grep -o 'corp: [0-9]*' "$log" | tail -1 | grep -o '[0-9]*$')
  if ((status == 0)); then
    result="ok"
  else
    failed=1
    crash=$(grep -o "Test unit written to [^ ]*" "$log" | tail -1 | sed 's/Test unit written to //')
    if [[ -n "$crash" ]]; then result="CRASH $crash"; else result="FAILED (no crash file; see $log)"; fi
    {
      echo
      echo "!! $target failed (exit $status). Panic / sanitizer report:"
      grep -E -m 12 "panicked at|ERROR: (AddressSanitizer|libFuzzer)|SUMMARY:|^thread '" "$log" || tail -20 "$log"
      if [[ -n "$crash" && -f "$crash" ]]; then
        echo "-- crash file: $crash ($(wc -c <"$crash") bytes); first 2 KB, escaped:"
        head -c 2048 "$crash" | od -An -c | head -40
        echo "-- replay: cargo +nightly fuzz run --fuzz-dir $FUZZ_DIR $target $crash"
      fi
    } >&2
  fi
  printf '%-18s %8s %12s %10s %8s %8s  %s\n' "$target" "$elapsed" "${executions:-?}" "${per_second:-?}" \
    "${coverage:-?}" "${corpus_size:-?}" "$result" >>"$SUMMARY"
done

echo
echo "fuzz summary ($(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, ${SECONDS_EACH}s per target)"
cat "$SUMMARY"
exit "$failed"
