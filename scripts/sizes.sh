#!/usr/bin/env bash
# Prints the release artefact sizes (raw, gzip -9, brotli -q 11) of a trunk dist folder.
set -euo pipefail
dist="${1:-dist}"
printf '%-34s %10s %10s %10s\n' "release artefact" "raw" "gzip" "brotli"
total_gz=0
for f in "$dist"/*.wasm "$dist"/*.js "$dist"/*.css; do
  [[ -f "$f" ]] || continue
  raw=$(stat -c %s "$f")
  gz=$(gzip -9 -c "$f" | wc -c)
  br=$( (command -v brotli >/dev/null && brotli -q 11 -c "$f" | wc -c) || echo "-")
  total_gz=$((total_gz + gz))
  printf '%-34s %10s %10s %10s\n' "$(basename "$f")" "$raw" "$gz" "$br"
done
printf '%-34s %10s %10s\n' "whole messenger (wasm+js+css)" "" "$total_gz"
