#!/usr/bin/env bash
# Prints the size of the release site assets (WebAssembly, its JavaScript glue, the stylesheet):
# raw, gzip -9 and brotli (quality 11, what a phone downloads from a server that precompresses).
# Build it first with `make build` (cargo leptos build --release). Asset names carry a content
# hash (portal.<hash>.wasm) in a release build; a development build's plain names also work.
set -euo pipefail
cd "$(dirname "$0")/.."
site="${PORTAL_SITE_ROOT:-target/site}"
for ext in wasm js css; do
  file=$(ls -t "$site"/pkg/portal*."$ext" 2>/dev/null | head -1 || true)
  if [ -z "$file" ]; then echo "missing $site/pkg/portal*.$ext: run 'make build' first" >&2; exit 1; fi
  raw=$(stat -c %s "$file")
  gz=$(gzip -9 -c "$file" | wc -c)
  br=$(node -e 'const z=require("zlib");const b=require("fs").readFileSync(process.argv[1]);process.stdout.write(String(z.brotliCompressSync(b,{params:{[z.constants.BROTLI_PARAM_QUALITY]:11}}).length))' "$file")
  printf '%-12s %9d bytes raw  %9d gzip (%s KiB)  %9d brotli (%s KiB)\n' "portal.$ext" "$raw" "$gz" "$((gz / 1024))" "$br" "$((br / 1024))"
done
