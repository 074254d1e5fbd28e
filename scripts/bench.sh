#!/usr/bin/env bash
# Load benchmark: throughput of authenticated GET /api/v1/whoami as a ratio of
# GET /healthz (no database), on the same release server in the same run, with
# 10,000 tokens in the database (BENCH_TOKENS to change). Loopback only; each
# run is bounded by -d.
#   bash scripts/bench.sh                 # builds target/release/latchkey first
#   LATCHKEY_BIN=path bash scripts/bench.sh
#   BENCH_TOKENS=1000000 bash scripts/bench.sh
#   BENCH_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/postgres bash scripts/bench.sh
#     (on a fresh PostgreSQL database made there and dropped afterwards)
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
BIN="${LATCHKEY_BIN:-$ROOT/target/release/latchkey}"
DURATION="${BENCH_DURATION:-5s}"
ROUNDS="${BENCH_ROUNDS:-5}"
CONNECTIONS="${BENCH_CONNECTIONS:-32}"
PORT="${BENCH_PORT:-3190}"
BASE="http://127.0.0.1:$PORT"
PASSWORD="benchmark password"
TOKENS="${BENCH_TOKENS:-10000}"

if [ -z "${LATCHKEY_BIN:-}" ]; then
  cargo build --release --features ssr --bin latchkey
fi
command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }

DATA="$(mktemp -d)"
PG_DB=""
cleanup() {
  kill "$SERVER" 2>/dev/null || true
  wait "$SERVER" 2>/dev/null || true
  rm -rf "$DATA"
  [ -z "$PG_DB" ] || psql -q "$BENCH_POSTGRES_URL" -c "DROP DATABASE IF EXISTS $PG_DB WITH (FORCE)"
}
SERVER=""
trap cleanup EXIT
export LATCHKEY_DATA_DIR="$DATA" LATCHKEY_ADDR="127.0.0.1:$PORT" RUST_LOG=warn DATABASE_URL=
if [ -n "${BENCH_POSTGRES_URL:-}" ]; then
  PG_DB="latchkey_bench_$$"
  psql -q "$BENCH_POSTGRES_URL" -c "CREATE DATABASE $PG_DB"
  export DATABASE_URL="${BENCH_POSTGRES_URL%/*}/$PG_DB"
  echo "database: PostgreSQL ($PG_DB)"
else
  echo "database: SQLite"
fi
echo "$PASSWORD" | "$BIN" user create --email bench@example.com --name Bench >/dev/null
# The server gets one core and wrk the other, so neither steals the other's
# time and the figures measure the server's work per request.
taskset -c 0 "$BIN" serve & SERVER=$!
for _ in $(seq 50); do curl -sf "$BASE/healthz" >/dev/null && break; sleep 0.2; done

JAR="$DATA/cookies"
curl -sf -c "$JAR" -b "$JAR" "$BASE/rpc/sign_in" --data-urlencode email=bench@example.com \
  --data-urlencode "password=$PASSWORD" >/dev/null
TOKEN="$(curl -sf -c "$JAR" -b "$JAR" "$BASE/rpc/create_token" -d name=bench -d expiry=30d -d "scopes[]=identity:read" |
  python3 -c 'import json, sys; print(json.load(sys.stdin)["secret"])')"

# More tokens (distinct random-looking digests) so the lookup runs against a
# real-sized table and index.
MORE=$((TOKENS - 1))
if [ -n "$PG_DB" ]; then
  psql -q "$DATABASE_URL" <<SQL
INSERT INTO access_tokens (kind, user_id, name, digest, hint, created_at, expires_at)
SELECT 'personal', (SELECT id FROM users WHERE email = 'bench@example.com'), 'seed ' || n,
       encode(sha256(n::text::bytea), 'hex'), 'lkp_…0000',
       extract(epoch FROM now())::bigint, extract(epoch FROM now())::bigint + 86400
FROM generate_series(1, $MORE) AS n;
ANALYZE access_tokens;
SQL
  echo "tokens in database: $(psql -tA "$DATABASE_URL" -c 'SELECT COUNT(*) FROM access_tokens')"
else
  python3 - "$DATA/latchkey.db" "$MORE" <<'PY'
import hashlib, sqlite3, sys, time
db = sqlite3.connect(sys.argv[1], timeout=30)
uid = db.execute("SELECT id FROM users WHERE email = 'bench@example.com'").fetchone()[0]
now = int(time.time())
db.executemany(
    "INSERT INTO access_tokens (kind, user_id, name, digest, hint, created_at, expires_at) "
    "VALUES ('personal', ?, ?, ?, 'lkp_…0000', ?, ?)",
    ((uid, f"seed {n}", hashlib.sha256(f"seed {n}".encode()).hexdigest(), now, now + 86400)
     for n in range(int(sys.argv[2]))),
)
db.commit()
print("tokens in database:", db.execute("SELECT COUNT(*) FROM access_tokens").fetchone()[0])
PY
fi

test "$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $TOKEN" "$BASE/api/v1/whoami")" = 200

rps() { taskset -c 1 wrk -t1 -c"$CONNECTIONS" -d"$DURATION" "$@" | awk '/Requests\/sec/ {print $2}'; }
rps "$BASE/healthz" >/dev/null # warm-up
# Alternate the two a few times and take the median of each pair's ratio: on a
# shared machine throughput drifts between runs, a pair measured back to back
# drifts much less.
RATIOS=()
for round in $(seq "$ROUNDS"); do
  HEALTH="$(rps "$BASE/healthz")"
  WHOAMI="$(rps -H "Authorization: Bearer $TOKEN" "$BASE/api/v1/whoami")"
  python3 -c "h, w = $HEALTH, $WHOAMI; print(f'round $round: healthz {h:,.0f} req/s   whoami {w:,.0f} req/s   ratio {w / h:.2f}')"
  RATIOS+=("$(python3 -c "print($WHOAMI / $HEALTH)")")
done
python3 -c "import statistics, sys; print(f'median ratio over $ROUNDS rounds: {statistics.median(map(float, sys.argv[1:])):.2f}')" "${RATIOS[@]}"

# Throughput on a shared virtual machine wanders by tens of percent from one
# run to the next. The server's own instructions per request (callgrind counts
# instructions, not time) do not, so they are the steady figure to compare
# commits by. Kernel work (sockets) is not in them, and is the same for both.
[ "${BENCH_CALLGRIND:-1}" = 1 ] || exit 0
command -v valgrind >/dev/null || { echo "valgrind not installed: instruction counts skipped"; exit 0; }
kill "$SERVER"; wait "$SERVER" 2>/dev/null || true
valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file="$DATA/callgrind.%p" \
  "$BIN" serve 2>"$DATA/valgrind.log" & SERVER=$!
for _ in $(seq 100); do curl -sf "$BASE/healthz" >/dev/null && break; sleep 0.3; done
PER_REQUEST=()
for target in healthz whoami; do
  if [ "$target" = healthz ]; then ARGS=("$BASE/healthz"); else ARGS=(-H "Authorization: Bearer $TOKEN" "$BASE/api/v1/whoami"); fi
  wrk -t1 -c4 -d1s "${ARGS[@]}" >/dev/null # warm the cache and the code paths
  callgrind_control -i on "$SERVER" >/dev/null 2>&1
  REQUESTS="$(wrk -t1 -c4 -d3s "${ARGS[@]}" | awk '/requests in/ {print $1}')"
  callgrind_control -i off "$SERVER" >/dev/null 2>&1
  callgrind_control -d "$target" "$SERVER" >/dev/null 2>&1
  callgrind_control -z "$SERVER" >/dev/null 2>&1
  TOTAL="$(awk '/^totals:/ {print $2}' "$(grep -l "^desc: Trigger: dump $target" "$DATA"/callgrind.*)")"
  PER_REQUEST+=("$((TOTAL / REQUESTS))")
  echo "$target: $((TOTAL / REQUESTS)) instructions per request (server, user space; $REQUESTS requests)"
done
python3 -c "print(f'instruction ratio healthz / whoami: {${PER_REQUEST[0]} / ${PER_REQUEST[1]}:.2f}')"
