# Installs, when missing, everything the build needs. Sourced by run.sh and test.sh.
# Every step checks first, so a second run takes seconds.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TOOLS="$ROOT/.tools"
CARGO_LEPTOS_VERSION=0.3.10
WASM_BINDGEN_VERSION=0.2.130 # must equal the wasm-bindgen pin in Cargo.toml
BINARYEN_VERSION=132.0.0      # npm's binaryen; Debian's wasm-opt breaks hydration

say() { printf '\033[1m==> %s\033[0m\n' "$*"; }

need() {
  command -v "$1" >/dev/null 2>&1 || { echo "error: $1 is required ($2)" >&2; exit 1; }
}

ensure_rust_tools() {
  need cargo "install Rust from https://rustup.rs"
  need rustup "install Rust from https://rustup.rs"
  if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
    say "Adding the wasm32 target"
    rustup target add wasm32-unknown-unknown
  fi
  if [ "$(wasm-bindgen --version 2>/dev/null | awk '{print $2}')" != "$WASM_BINDGEN_VERSION" ]; then
    say "Installing wasm-bindgen-cli $WASM_BINDGEN_VERSION (about 2 minutes, once)"
    cargo install wasm-bindgen-cli --version "$WASM_BINDGEN_VERSION"
  fi
  if [ "$(cargo leptos --version 2>/dev/null | awk '{print $2}')" != "$CARGO_LEPTOS_VERSION" ]; then
    say "Installing cargo-leptos $CARGO_LEPTOS_VERSION (about 12 minutes, once)"
    cargo install cargo-leptos --version "$CARGO_LEPTOS_VERSION" --locked --features no_downloads
  fi
}

ensure_wasm_opt() {
  need npm "install Node.js 20 or newer"
  if [ ! -x "$TOOLS/node_modules/.bin/wasm-opt" ]; then
    say "Installing wasm-opt (npm binaryen@$BINARYEN_VERSION)"
    mkdir -p "$TOOLS"
    npm install --prefix "$TOOLS" --no-audit --no-fund "binaryen@$BINARYEN_VERSION" >/dev/null
  fi
  export PATH="$TOOLS/node_modules/.bin:$PATH"
}

ensure_chromium() {
  if [ -x /usr/bin/chromium ]; then return; fi
  say "Installing Chromium (Debian package)"
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq chromium >/dev/null
}

ensure_e2e_packages() {
  need npm "install Node.js 20 or newer"
  if [ ! -d "$ROOT/end2end/node_modules/@playwright/test" ] ||
     [ "$ROOT/end2end/package-lock.json" -nt "$ROOT/end2end/node_modules/.package-lock.json" ]; then
    say "Installing the browser-test packages"
    # A damaged npm cache (after a full disk, say) fails `npm ci` once; verify and retry.
    (cd "$ROOT/end2end" && { npm ci --no-audit --no-fund >/dev/null ||
      { npm cache verify >/dev/null && npm ci --no-audit --no-fund >/dev/null; }; })
  fi
}
