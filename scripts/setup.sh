#!/usr/bin/env bash
# Installs what a fresh Debian machine with rustup and Node lacks, and nothing else: the wasm32
# target, cargo-leptos, wasm-bindgen-cli, the npm packages (wasm-opt from binaryen, Playwright)
# and, with --browser, Debian's Chromium. Idempotent: seconds when everything is present.
set -euo pipefail
cd "$(dirname "$0")/.."

LEPTOS_VERSION=0.3.10     # 0.3.11 needs a newer rustc
BINDGEN_VERSION=0.2.130   # must equal the wasm-bindgen crate version in Cargo.lock

step() { printf '\033[1m==> %s\033[0m\n' "$*"; }

if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  step "adding the wasm32-unknown-unknown target"
  rustup target add wasm32-unknown-unknown
fi

if ! cargo leptos --version 2>/dev/null | grep -qx "cargo-leptos $LEPTOS_VERSION"; then
  step "installing cargo-leptos $LEPTOS_VERSION (a one-time build: about 20 minutes on 2 cores)"
  cargo install cargo-leptos --version "$LEPTOS_VERSION" --locked
fi

if ! wasm-bindgen --version 2>/dev/null | grep -qx "wasm-bindgen $BINDGEN_VERSION"; then
  step "installing wasm-bindgen-cli $BINDGEN_VERSION"
  # Not --locked: its lockfile names a crate version the registry no longer has.
  cargo install wasm-bindgen-cli --version "$BINDGEN_VERSION"
fi

# npm ci only when node_modules is missing or older than the lockfile.
if [ ! -x node_modules/.bin/wasm-opt ] || [ ! -x node_modules/.bin/playwright ] \
   || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  step "installing npm packages (wasm-opt, Playwright, the FHIR schema validator)"
  npm ci --no-audit --no-fund
fi

# poppler-utils (pdftotext, pdfinfo) and qpdf check the released PDFs in the integration tests;
# libxml2-utils (xmllint) checks the C-CDA copies against HL7's CDA schema.
if ! command -v pdftotext >/dev/null || ! command -v qpdf >/dev/null || ! command -v xmllint >/dev/null; then
  step "installing Debian's poppler-utils, qpdf and libxml2-utils (PDF and C-CDA checks in the tests)"
  sudo_cmd=""
  [ "$(id -u)" = 0 ] || sudo_cmd="sudo"
  $sudo_cmd apt-get install -y -qq poppler-utils qpdf libxml2-utils || { $sudo_cmd apt-get update -qq && $sudo_cmd apt-get install -y -qq poppler-utils qpdf libxml2-utils; }
fi

# aiosmtpd (PyPI): the local SMTP sink the notification tests send through.
if ! python3 -c "import aiosmtpd" 2>/dev/null; then
  step "installing aiosmtpd (SMTP sink for the mail tests)"
  python3 -m pip install --quiet --disable-pip-version-check aiosmtpd
fi

# wrk (Debian's package) drives the soak check of the fault suite (make test-resilience).
if [ "${1:-}" = "--resilience" ] && ! command -v wrk >/dev/null; then
  step "installing Debian's wrk (load for the soak check)"
  sudo_cmd=""
  [ "$(id -u)" = 0 ] || sudo_cmd="sudo"
  $sudo_cmd apt-get install -y -qq wrk || { $sudo_cmd apt-get update -qq && $sudo_cmd apt-get install -y -qq wrk; }
fi

if [ "${1:-}" = "--browser" ] && [ ! -x /usr/bin/chromium ]; then
  step "installing Debian's Chromium for the browser tests"
  sudo_cmd=""
  [ "$(id -u)" = 0 ] || sudo_cmd="sudo"
  $sudo_cmd apt-get install -y -qq chromium || { $sudo_cmd apt-get update -qq && $sudo_cmd apt-get install -y -qq chromium; }
fi
