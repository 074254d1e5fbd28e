#!/usr/bin/env bash
# Sends 120 parallel wrong passwords for one account to the release binary and
# prints the answers, how many passwords were actually checked (audit trail)
# and the server's peak memory. Build first:
#   cargo build --release --features ssr --bin latchkey
# Settings pass through, e.g. LATCHKEY_SIGN_IN_RATE_BURST=1000 to take the
# per-address request limit out of the picture.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
BIN="${LATCHKEY_BIN:-$ROOT/target/release/latchkey}"
PORT="${PORT:-3999}"
DATA="$(mktemp -d)"
trap 'rm -rf "$DATA"' EXIT
export LATCHKEY_DATA_DIR="$DATA" LATCHKEY_ADDR="127.0.0.1:$PORT" LEPTOS_SITE_ROOT="$ROOT/target/site"
echo 'correct horse battery staple' | "$BIN" user create --email victim@example.com --name Victim >/dev/null
"$BIN" serve >"$DATA/server.log" 2>&1 &
PID=$!
until curl -sf "http://127.0.0.1:$PORT/healthz" >/dev/null; do sleep 0.1; done
echo "memory at start: $(awk '/VmRSS/ {print $2, $3}' /proc/$PID/status)"
for i in $(seq 1 120); do
  curl -s -o /dev/null -w '%{http_code}\n' -X POST "http://127.0.0.1:$PORT/rpc/sign_in" \
    --data-urlencode email=victim@example.com --data-urlencode "password=wrong guess $i" &
done >"$DATA/codes"
wait $(jobs -p | grep -vx "$PID") 2>/dev/null || true
echo "answers: $(sort "$DATA/codes" | uniq -c | awk '{printf "%s×%s ", $1, $2}')"
echo "peak memory: $(awk '/VmHWM/ {print $2, $3}' /proc/$PID/status)"
kill "$PID"; wait "$PID" 2>/dev/null || true
echo "passwords checked: $(sqlite3 "$DATA/latchkey.db" \
  "SELECT COUNT(*) FROM audit_events WHERE action = 'user.sign_in_failed'")"
