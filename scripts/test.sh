#!/usr/bin/env bash
# Runs the whole test suite: unit and integration tests (SQLite, and PostgreSQL
# when LATCHKEY_TEST_POSTGRES_URL is set or a local server answers), then the
# Playwright browser tests in Chromium, hydrated and without JavaScript.
source "$(dirname "$0")/tools.sh"
cd "$ROOT"
ensure_rust_tools
ensure_chromium
ensure_e2e_packages

if [ -z "${LATCHKEY_TEST_POSTGRES_URL:-}" ] && command -v pg_isready >/dev/null &&
   pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; then
  export LATCHKEY_TEST_POSTGRES_URL="postgres://postgres@127.0.0.1:5432/postgres"
fi

# Each PostgreSQL test makes its own database; clear out the previous run's.
if [ -n "${LATCHKEY_TEST_POSTGRES_URL:-}" ] && command -v psql >/dev/null; then
  psql "$LATCHKEY_TEST_POSTGRES_URL" -Atc \
    "SELECT datname FROM pg_database WHERE datname LIKE 'latchkey_test_%'" 2>/dev/null |
    while read -r db; do psql "$LATCHKEY_TEST_POSTGRES_URL" -qc "DROP DATABASE IF EXISTS \"$db\"" >/dev/null 2>&1 || true; done
fi

say "Unit and integration tests"
cargo test --features ssr --no-default-features

say "Building the app for the browser tests"
cargo leptos build

say "Browser tests (Chromium; hydrated and without JavaScript)"
E2E_DATA="$(mktemp -d)"
trap 'rm -rf "$E2E_DATA"' EXIT
export LATCHKEY_E2E_DATA_DIR="$E2E_DATA"
(cd end2end && npx playwright test)

# The browser side exactly as the run command ships it: the size-optimised
# release profile (LTO, which has failed where the debug build passed), views
# type-erased, wasm-opt -Oz, precompressed. What a browser downloads on a
# first visit is measured as sent (brotli) and must stay within 250 KB;
# BENCHMARKS.md has the figures.
say "Building the browser side for release"
ensure_wasm_opt
cargo leptos build --release --frontend-only
node scripts/precompress.mjs target/site/pkg >/dev/null
say "Measuring the first-load bundle"
node scripts/bundle-size.mjs target/site/pkg target/release/hash.txt "${LATCHKEY_BUNDLE_BUDGET:-250000}"
