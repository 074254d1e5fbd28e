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

# The run command builds the browser side with the size-optimised release
# profile (LTO), which has failed where the debug build passed; build it too.
say "Checking the optimised browser build"
cargo build --lib --target wasm32-unknown-unknown --profile wasm-release \
  --no-default-features --features hydrate --target-dir target/front

# What a browser downloads on a first visit, as the run command ships it
# (wasm-bindgen, then wasm-opt -Oz), measured with brotli. The budget guards
# against growth; BENCHMARKS.md has the figures and the target.
say "Measuring the first-load bundle"
ensure_wasm_opt
BUNDLE="$(mktemp -d)"
wasm-bindgen --target web --no-typescript --remove-name-section --remove-producers-section \
  --out-dir "$BUNDLE" --out-name latchkey target/front/wasm32-unknown-unknown/wasm-release/latchkey.wasm
wasm-opt -Oz --strip-debug --strip-producers --enable-bulk-memory --enable-nontrapping-float-to-int \
  --enable-sign-ext --enable-mutable-globals --enable-reference-types \
  -o "$BUNDLE/latchkey_bg.wasm" "$BUNDLE/latchkey_bg.wasm"
node scripts/bundle-size.mjs "$BUNDLE" "${LATCHKEY_BUNDLE_BUDGET:-819200}"
rm -rf "$BUNDLE"
