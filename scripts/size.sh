#!/usr/bin/env bash
# Prints the size of the release WebAssembly module, raw and gzipped (what a phone downloads).
# Build it first with `make build` (cargo leptos build --release).
set -euo pipefail
cd "$(dirname "$0")/.."
site="${PORTAL_SITE_ROOT:-target/site}"
for file in "$site/pkg/portal.wasm" "$site/pkg/portal.js" "$site/pkg/portal.css"; do
  if [ ! -f "$file" ]; then echo "missing $file: run 'make build' first" >&2; exit 1; fi
  raw=$(stat -c %s "$file")
  gz=$(gzip -9 -c "$file" | wc -c)
  printf '%-28s %9d bytes raw  %9d bytes gzipped (%s KiB)\n' "$(basename "$file")" "$raw" "$gz" "$((gz / 1024))"
done
