#!/usr/bin/env bash
# Load benchmark: throughput of authenticated GET /api/v1/whoami as a ratio of
# GET /healthz (no database), on the same release server in the same run, with
# 10,000 tokens in the database. Loopback only; each run is bounded by -d.
#   bash scripts/bench.sh                 # builds target/release/latchkey first
#   LATCHKEY_BIN=path bash scripts/bench.sh
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
BIN="${LATCHKEY_BIN:-$ROOT/target/release/latchkey}"
DURATION="${BENCH_DURATION:-10s}"
CONNECTIONS="${BENCH_CONNECTIONS:-32}"
PORT="${BENCH_PORT:-3190}"
BASE="http://127.0.0.1:$PORT"
PASSWORD="benchmark password"

if [ -z "${LATCHKEY_BIN:-}" ]; then
  cargo build --release --features ssr --bin latchkey
fi
command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }

DATA="$(mktemp -d)"
trap 'kill "$SERVER" 2>/dev/null || true; rm -rf "$DATA"' EXIT
export LATCHKEY_DATA_DIR="$DATA" LATCHKEY_ADDR="127.0.0.1:$PORT" RUST_LOG=warn DATABASE_URL=
echo "$PASSWORD" | "$BIN" user create --email bench@example.com --name Bench >/dev/null
"$BIN" serve & SERVER=$!
for _ in $(seq 50); do curl -sf "$BASE/healthz" >/dev/null && break; sleep 0.2; done

JAR="$DATA/cookies"
curl -sf -c "$JAR" -b "$JAR" "$BASE/rpc/sign_in" --data-urlencode email=bench@example.com \
  --data-urlencode "password=$PASSWORD" >/dev/null
TOKEN="$(curl -sf -c "$JAR" -b "$JAR" "$BASE/rpc/create_token" -d name=bench -d expiry=30d |
  python3 -c 'import json, sys; print(json.load(sys.stdin)["secret"])')"

# 9,999 more tokens (random digests) so the lookup runs against a real-sized table.
python3 - "$DATA/latchkey.db" <<'PY'
import hashlib, os, sqlite3, sys, time
db = sqlite3.connect(sys.argv[1], timeout=30)
uid = db.execute("SELECT id FROM users WHERE email = 'bench@example.com'").fetchone()[0]
now = int(time.time())
db.executemany(
    "INSERT INTO access_tokens (kind, user_id, name, digest, hint, created_at, expires_at) "
    "VALUES ('personal', ?, ?, ?, 'lkp_…0000', ?, ?)",
    [(uid, f"seed {n}", hashlib.sha256(os.urandom(32)).hexdigest(), now, now + 86400) for n in range(9999)],
)
db.commit()
print("tokens in database:", db.execute("SELECT COUNT(*) FROM access_tokens").fetchone()[0])
PY

test "$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $TOKEN" "$BASE/api/v1/whoami")" = 200

rps() { wrk -t2 -c"$CONNECTIONS" -d"$DURATION" "$@" | awk '/Requests\/sec/ {print $2}'; }
rps "$BASE/healthz" >/dev/null # warm-up
HEALTH="$(rps "$BASE/healthz")"
WHOAMI="$(rps -H "Authorization: Bearer $TOKEN" "$BASE/api/v1/whoami")"
python3 -c "h, w = $HEALTH, $WHOAMI; print(f'healthz {h:,.0f} req/s   whoami {w:,.0f} req/s   ratio {w / h:.2f}')"
