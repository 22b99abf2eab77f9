# The two commands: `make run` serves the portal at http://127.0.0.1:3000 on SQLite in demo mode;
# `make test` runs every test. Both install what a fresh machine lacks first (scripts/setup.sh).
SHELL := /bin/bash
export PATH := $(CURDIR)/node_modules/.bin:$(HOME)/.cargo/bin:$(PATH)

.PHONY: run test setup build size lint e2e test-rust test-resilience bench

# Demo mode: made-up accounts shown on the sign-in page (refused in production and on PostgreSQL).
run: setup
	PORTAL_DEMO=true cargo leptos serve --release --precompress

test:
	scripts/test.sh

setup:
	scripts/setup.sh

build: setup
	cargo leptos build --release --precompress

size:
	python3 scripts/size.py

lint: setup
	cargo clippy -p app -p server -p migrations -p portal-tests --all-targets -- -D warnings
	cargo clippy -p frontend -p app --target wasm32-unknown-unknown -- -D warnings

test-rust:
	cargo test -p app -p server -p migrations -p portal-tests

e2e: build
	npx playwright test --config tests/e2e/playwright.config.ts

# The fault-and-attack suite, long checks included (tests/resilience/; `make test` runs the quick ones).
# The checks run the release server, as deployed (built first).
test-resilience:
	scripts/setup.sh --resilience
	cargo leptos build --release --precompress
	RESILIENCE_PORTAL_BIN=$(CURDIR)/target/release/portal cargo test -p portal-tests --test resilience -- --all

# Benchmarks (figures for the README, never tests): the portal under load beside a bare axum
# "hello", on the medium and the largest shared record, on SQLite and (with BENCH_DATABASE_URL)
# PostgreSQL, there also with 1 ms added to each database round trip, on one server and on two;
# then on a scale database (100,000 patients, 1,000,000 requests seeded first, minutes).
# Installs Debian's wrk first.
BENCH_LARGEST := tests/fixtures/fhir/synthea/057aa36e-b892-9964-75b9-ffb46b097e34.json
bench:
	scripts/setup.sh --resilience
	cargo leptos build --release --precompress
	target/release/portal bench http
	target/release/portal bench http $(BENCH_LARGEST)
	target/release/portal bench http --patients 100000 --requests 1000000
	target/release/portal bench fhir $(BENCH_LARGEST)
	if [ -n "$$BENCH_DATABASE_URL" ]; then \
	  target/release/portal bench http --postgres "$$BENCH_DATABASE_URL"; \
	  target/release/portal bench http --postgres "$$BENCH_DATABASE_URL" $(BENCH_LARGEST); \
	  target/release/portal bench http --postgres "$$BENCH_DATABASE_URL" --only summary --db-latency-ms 1; \
	  target/release/portal bench http --postgres "$$BENCH_DATABASE_URL" --only summary --db-latency-ms 1 --servers 2; \
	  target/release/portal bench http --postgres "$$BENCH_DATABASE_URL" --patients 100000 --requests 1000000; \
	fi
