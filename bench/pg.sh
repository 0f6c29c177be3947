#!/usr/bin/env bash
# Tessera on PostgreSQL: one node, then two nodes on the same database.
#   bench/pg.sh                          # 10 s per scenario, 32 connections
#   DURATION=5s CONNS=64 NODES="1" bench/pg.sh
#   PG_ADMIN_URL=postgres://postgres@127.0.0.1:5432/postgres (the default)
# Creates a database of its own (dropped at the end) on the machine's
# PostgreSQL and measures client_credentials (JWT, opaque), introspection and
# refresh-token rotation.
# Pinning on this 2-core machine:
#   1 node:  the server on CPU 0; wrk on CPU 1; PostgreSQL unpinned.
#   2 nodes: node A on CPU 0, node B on CPU 1; one wrk per node (half the
#            connections each) and PostgreSQL unpinned, sharing both CPUs.
# "per srv core" divides req/s by the CPU the server processes used.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$PWD
DURATION="${DURATION:-10s}"
CONNS="${CONNS:-32}"
NODES="${NODES:-1 2}"
PORT="${PORT:-18180}"
ADMIN="${PG_ADMIN_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
OUT="$ROOT/bench/results/pg-$(date +%Y%m%d-%H%M%S)"
mkdir -p "$OUT"
command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
cargo build --release -q -p tessera-server --bins --example signin_load
BIN="$ROOT/target/release/tessera"
LOAD="$ROOT/target/release/examples/signin_load"

DB="tessera_bench_$$"
psql "$ADMIN" -qAt -v ON_ERROR_STOP=1 -c "CREATE DATABASE $DB" >/dev/null
DATA="$(mktemp -d)"
export TESSERA_DATABASE_URL="${ADMIN%/*}/$DB" TESSERA_DATA_DIR="$DATA/cli" TESSERA_ISSUER="http://127.0.0.1:$PORT" TESSERA_LOG=warn
export TESSERA_MASTER_KEY_FILE="$DATA/master.key"
PIDS=()
stop_nodes() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null && wait "$p" 2>/dev/null; done; PIDS=(); }
cleanup() { stop_nodes; rm -rf "$DATA"; psql "$ADMIN" -qAt -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null; }
trap cleanup EXIT

"$BIN" migrate >/dev/null
secret_of() { sed -E 's/.*"client_secret":"([^"]+)".*/\1/'; }
JWT_SECRET=$("$BIN" client create --id bench-jwt --name bench --grant-type client_credentials --scope "inventory:read" --json | secret_of)
OPQ_SECRET=$("$BIN" client create --id bench-opaque --name bench --grant-type client_credentials --scope "inventory:read" --token-format opaque --json | secret_of)
APP_SECRET=$("$BIN" client create --id bench-app --name Bench --grant-type authorization_code --grant-type refresh_token --redirect-uri https://app.example.com/cb --scope "openid offline_access" --json | secret_of)
PASSWORD='correct horse battery staple'
echo "$PASSWORD" | "$BIN" user create --username bench --email bench@example.com --password-stdin >/dev/null
JWT_AUTH=$(printf 'bench-jwt:%s' "$JWT_SECRET" | base64 -w0)
OPQ_AUTH=$(printf 'bench-opaque:%s' "$OPQ_SECRET" | base64 -w0)

start_nodes() { # n
  local i
  for i in $(seq 0 $(($1 - 1))); do
    local pin=(); [ "$(nproc)" -ge 2 ] && pin=(taskset -c "$i")
    # One client introspects past the default per-client limit (as in run.sh).
    TESSERA_DATA_DIR="$DATA/node$i" "${pin[@]}" "$BIN" serve --listen "127.0.0.1:$((PORT + i))" --rate-limit-introspection off >"$OUT/node$i.log" 2>&1 &
    PIDS+=($!)
    for _ in $(seq 1 100); do curl -fsS "http://127.0.0.1:$((PORT + i))/readyz" >/dev/null 2>&1 && break; sleep 0.1; done
  done
}
ticks() { local t=0 p; for p in "${PIDS[@]}"; do t=$((t + $(awk '{print $14 + $15}' "/proc/$p/stat"))); done; echo $t; }
report() { # label n rps cpu_ticks secs
  awk -v l="$1" -v n="$2" -v r="$3" -v t="$4" -v s="$5" -v hz="$(getconf CLK_TCK)" 'BEGIN {
    cpu = t / hz / s; printf "%-44s %5s %10d %8d%% %12d\n", l, n, r, 100 * cpu, (cpu > 0 ? r / cpu : 0) }' | tee -a "$OUT/summary.txt"
}
wrk_all() { # label n auth body path
  local n=$2 i t0 t1 pids=() per=$(( CONNS / $2 ))
  t0=$(ticks)
  for i in $(seq 0 $((n - 1))); do
    local pin=(); [ "$n" = 1 ] && [ "$(nproc)" -ge 2 ] && pin=(taskset -c 1)
    AUTH="$3" BODY="$4" "${pin[@]}" wrk -t1 -c"$per" -d"$DURATION" --latency -s bench/post_form.lua \
      "http://127.0.0.1:$((PORT + i))$5" >"$OUT/wrk-$n-$i.txt" &
    pids+=($!)
  done
  wait "${pids[@]}"
  t1=$(ticks)
  local rps=0 secs non200=0
  for i in $(seq 0 $((n - 1))); do
    rps=$(( rps + $(awk '/Requests\/sec/ {printf "%d", $2}' "$OUT/wrk-$n-$i.txt") ))
    non200=$(( non200 + $(awk '/non-200/ {print $3; f=1} END {if (!f) print 0}' "$OUT/wrk-$n-$i.txt") ))
  done
  secs=$(awk '/requests in/ {gsub("s,","",$4); print $4}' "$OUT/wrk-$n-0.txt")
  [ "$non200" != 0 ] && echo "  ($non200 non-200 answers!)" | tee -a "$OUT/summary.txt"
  report "$1" "$n" "$rps" $((t1 - t0)) "$secs"
}
refresh_all() { # n
  local n=$1 i t0 t1 pids=() per=$(( CONNS / $1 ))
  t0=$(ticks)
  for i in $(seq 0 $((n - 1))); do
    local pin=(); [ "$n" = 1 ] && [ "$(nproc)" -ge 2 ] && pin=(taskset -c 1)
    "${pin[@]}" "$LOAD" --url "http://127.0.0.1:$((PORT + i))" --mode refresh --conns "$per" --duration "${DURATION%s}" \
      --warmup 2 --server-pid "${PIDS[$i]}" --password "$PASSWORD" --client-id bench-app --client-secret "$APP_SECRET" \
      --scope offline_access >"$OUT/refresh-$n-$i.json" &
    pids+=($!)
  done
  wait "${pids[@]}"
  t1=$(ticks)
  local rps=0 errors=0
  for i in $(seq 0 $((n - 1))); do
    rps=$(awk -v a="$rps" '{ match($0, /"per_sec":[0-9.]+/); printf "%d", a + substr($0, RSTART + 10, RLENGTH - 10) }' "$OUT/refresh-$n-$i.json")
    errors=$(( errors + $(sed -E 's/.*"errors":([0-9]+).*/\1/' "$OUT/refresh-$n-$i.json") ))
  done
  [ "$errors" != 0 ] && echo "  ($errors refresh errors!)" | tee -a "$OUT/summary.txt"
  # The load window includes sign-in and warm-up: CPU over the whole run.
  report "refresh_token rotation" "$n" "$rps" $((t1 - t0)) "$(( ${DURATION%s} + 2 ))"
}

printf '%-44s %5s %10s %9s %12s\n' "scenario (PostgreSQL $(psql "$ADMIN" -qAt -c 'SHOW server_version'))" nodes req/s "srv CPU" "per srv core" | tee "$OUT/summary.txt"
for n in $NODES; do
  start_nodes "$n"
  AUTH="$JWT_AUTH" BODY="grant_type=client_credentials" wrk -t1 -c"$CONNS" -d3s -s bench/post_form.lua "http://127.0.0.1:$PORT/oauth2/token" >/dev/null
  wrk_all "client_credentials JWT (EdDSA)" "$n" "$JWT_AUTH" "grant_type=client_credentials" /oauth2/token
  wrk_all "client_credentials opaque" "$n" "$OPQ_AUTH" "grant_type=client_credentials" /oauth2/token
  TOKEN=$(curl -s -u "bench-opaque:$OPQ_SECRET" -d grant_type=client_credentials "http://127.0.0.1:$PORT/oauth2/token" | sed -E 's/.*"access_token":"([^"]+)".*/\1/')
  wrk_all "introspection (opaque)" "$n" "$OPQ_AUTH" "token=$TOKEN" /oauth2/introspect
  refresh_all "$n"
  stop_nodes
done
echo "machine: $(nproc) CPUs, $(awk -F: '/model name/ {print $2; exit}' /proc/cpuinfo | xargs); results in $OUT" | tee -a "$OUT/summary.txt"
