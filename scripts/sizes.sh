#!/usr/bin/env bash
# Prints the release artefact sizes (raw, gzip -9, brotli -q 11) of a trunk dist folder.
#   scripts/sizes.sh [dist]           print
#   scripts/sizes.sh --check [dist]   print, then fail if a budget in bench/size-budgets is exceeded
set -euo pipefail
check=0
if [[ "${1:-}" == "--check" ]]; then check=1; shift; fi
dist="${1:-dist}"
budgets="$(dirname "$0")/../bench/size-budgets"
printf '%-34s %10s %10s %10s\n' "release artefact" "raw" "gzip" "brotli"
total_gz=0 loader_gz=0 css_gz=0 files=0
for f in "$dist"/*.wasm "$dist"/*.js "$dist"/*.css; do
  [[ -f "$f" ]] || continue
  files=$((files + 1))
  raw=$(stat -c %s "$f")
  gz=$(gzip -9 -c "$f" | wc -c)
  br=$( (command -v brotli >/dev/null && brotli -q 11 -c "$f" | wc -c) || echo "-")
  total_gz=$((total_gz + gz))
  case "$(basename "$f")" in
    threadline.js) loader_gz=$gz ;;
    *.css) css_gz=$((css_gz + gz)) ;;
  esac
  printf '%-34s %10s %10s %10s\n' "$(basename "$f")" "$raw" "$gz" "$br"
done
printf '%-34s %10s %10s\n' "whole messenger (wasm+js+css)" "" "$total_gz"

((check)) || exit 0
if ((files == 0)); then
  echo "size budgets: no release artefacts in $dist" >&2
  exit 1
fi
over=0
while read -r name budget _; do
  [[ -z "$name" || "$name" == \#* ]] && continue
  case "$name" in
    loader) actual=$loader_gz ;;
    css) actual=$css_gz ;;
    messenger) actual=$total_gz ;;
    *) echo "size budgets: unknown entry '$name' in $budgets" >&2; exit 1 ;;
  esac
  # A budgeted artefact that is missing weighs 0 B: that would pass without checking anything.
  if ((actual == 0)); then
    echo "size budgets: no $name artefact in $dist" >&2
    over=1
    continue
  fi
  if ((actual > budget)); then
    echo "size budget exceeded: $name is $actual B gzip, budget $budget B (bench/size-budgets)" >&2
    over=1
  else
    echo "size budget: $name $actual B gzip ≤ $budget B"
  fi
done <"$budgets"
exit "$over"
