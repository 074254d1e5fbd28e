#!/usr/bin/env bash
# Builds Latchkey (release) and starts it on http://127.0.0.1:3000 with an
# embedded SQLite database in ./data. Installs whatever the build needs first.
source "$(dirname "$0")/tools.sh"
cd "$ROOT"
ensure_rust_tools
ensure_wasm_opt
say "Building Latchkey (release)"
cargo leptos build --release
node scripts/precompress.mjs target/site/pkg >/dev/null
say "Starting Latchkey on http://${LATCHKEY_ADDR:-127.0.0.1:3000} (Ctrl-C stops it)"
export LEPTOS_SITE_ROOT="$ROOT/target/site" LEPTOS_ENV=PROD
exec "$ROOT/target/release/latchkey" serve "$@"
