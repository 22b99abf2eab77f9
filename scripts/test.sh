#!/usr/bin/env bash
# The whole test suite, as `make test` runs it: lints, Rust unit and integration tests on SQLite,
# the integration tests again on PostgreSQL when TEST_DATABASE_URL is set, then a release build
# and the Playwright browser tests (desktop and Pixel 7) against it.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --browser
export PATH="$PWD/node_modules/.bin:$PATH"

step() { printf '\033[1m==> %s\033[0m\n' "$*"; }

step "layering: no import cycle between files, backend/ imports nothing from api/ or ui/"
python3 scripts/check_imports.py

step "clippy (server side and wasm side; warnings are errors)"
cargo clippy -p app -p server -p migrations -p portal-tests --all-targets -- -D warnings
cargo clippy -p frontend -p app --target wasm32-unknown-unknown -- -D warnings

step "unit and integration tests on SQLite"
env -u TEST_DATABASE_URL cargo test -p app -p server -p migrations -p portal-tests

if [ -n "${TEST_DATABASE_URL:-}" ]; then
  step "integration tests on PostgreSQL"
  cargo test -p portal-tests
else
  step "skipping PostgreSQL: set TEST_DATABASE_URL=postgres://... to run the integration tests there too"
fi

step "release build (server and wasm)"
cargo leptos build --release --precompress

step "size budget: what a phone downloads for each first route (size-budget.toml)"
python3 scripts/size.py --check

step "browser tests (Playwright, Debian Chromium)"
npx playwright test --config tests/e2e/playwright.config.ts
