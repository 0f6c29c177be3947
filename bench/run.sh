#!/usr/bin/env bash
# Tessera load benchmark: one command.
#   bench/run.sh                  # all scenarios, 10 s each, 32 connections
#   DURATION=5s CONNS=64 bench/run.sh
#   ONLY=JWT bench/run.sh         # only scenarios whose label matches
#   PEER=1 bench/run.sh           # also run node-oidc-provider (../shared/peers/oidc-provider) in the same run
#   ONLY='client_credentials JWT' bench/run.sh   # bearer (wrk and signin_load) beside DPoP proofs (EdDSA, ES256)
#   APP_ARGS='--id-token-alg EdDSA' ONLY=flow bench/run.sh   # extra `client create` options for the code-flow app
# Builds release, starts `tessera serve` pinned to CPU 0, drives it with wrk
# pinned to CPU 1 (loopback only), prints req/s, p50, p99 and the server's RSS.
# The browser scenarios (code flow, password sign-in) carry state from one
# request to the next, so the example signin_load drives them instead of wrk;
# their req/s column counts whole flows or sign-ins.
# The guard scenario runs crates/tessera-guard/examples/guard_bench on ONE
# thread pinned to CPU 1 (the server on CPU 0 only mints and revokes).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$PWD

DURATION="${DURATION:-10s}"
CONNS="${CONNS:-32}"
PORT="${PORT:-18080}"
URL="http://127.0.0.1:$PORT"
OUT="$ROOT/bench/results/$(date +%Y%m%d-%H%M%S)"
mkdir -p "$OUT"

command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
srv_pin=(); cli_pin=()
if [ "$(nproc)" -ge 2 ] && command -v taskset >/dev/null; then srv_pin=(taskset -c 0); cli_pin=(taskset -c 1); fi

FLOW_LABEL="authorization code flow (signed in, consent remembered)"
LOGIN_LABEL="password sign-in (argon2id)"
REFRESH_LABEL="refresh_token rotation (committed before the 200)"
GUARD_LABEL="tessera-guard validations (EdDSA, one core)"
CC_LABEL="client_credentials JWT, bearer (signin_load)"
DPOP_LABEL="client_credentials JWT + DPoP proof"
wanted() { [[ "$1" =~ ${ONLY:-.} ]]; }

cargo build --release -q -p tessera-server
BIN="$ROOT/target/release/tessera"
LOAD="$ROOT/target/release/examples/signin_load"
if wanted "$FLOW_LABEL" || wanted "$LOGIN_LABEL" || wanted "$REFRESH_LABEL" || wanted "$CC_LABEL" || wanted "$DPOP_LABEL"; then
  cargo build --release -q -p tessera-server --example signin_load
fi
if wanted "$GUARD_LABEL"; then cargo build --release -q -p tessera-guard --example guard_bench; fi
DATA="$(mktemp -d)"
export TESSERA_DATA_DIR="$DATA" TESSERA_ISSUER="$URL" TESSERA_LOG=warn

"$BIN" migrate >/dev/null   # sets up the data directory: other commands refuse a missing one
secret_of() { sed -E 's/.*"client_secret":"([^"]+)".*/\1/'; }
JWT_SECRET=$("$BIN" client create --id bench-jwt --name bench --grant-type client_credentials --scope "inventory:read inventory:write" --json | secret_of)
OPQ_SECRET=$("$BIN" client create --id bench-opaque --name bench --grant-type client_credentials --scope "inventory:read inventory:write" --token-format opaque --json | secret_of)
JWT_AUTH=$(printf 'bench-jwt:%s' "$JWT_SECRET" | base64 -w0)
OPQ_AUTH=$(printf 'bench-opaque:%s' "$OPQ_SECRET" | base64 -w0)
PASSWORD='correct horse battery staple'
echo "$PASSWORD" | "$BIN" user create --username bench --email bench@example.com --password-stdin >/dev/null
# shellcheck disable=SC2086 # APP_ARGS is split on purpose
APP_SECRET=$("$BIN" client create --id bench-app --name Bench --grant-type authorization_code --grant-type refresh_token --redirect-uri https://app.example.com/cb --scope "openid profile offline_access" ${APP_ARGS:-} --json | secret_of)

API_SECRET=$("$BIN" client create --id bench-api --name "bench API" --grant-type client_credentials --introspection --json | secret_of)
GAPP_SECRET=$("$BIN" client create --id bench-guard-app --name bench --grant-type client_credentials --scope "inventory:read" --audience https://inventory.example --json | secret_of)

SRV=""
stop() { [ -n "$SRV" ] && kill "$SRV" 2>/dev/null && wait "$SRV" 2>/dev/null; SRV=""; rm -rf "$DATA"; }
trap stop EXIT
# One client drives introspection past the default per-client limit (50,000/s)
# on a fast machine: the benchmark measures the server, not that limit.
"${srv_pin[@]}" "$BIN" serve --listen "127.0.0.1:$PORT" --rate-limit-introspection off ${SERVE_ARGS:-} >"$OUT/server.log" 2>&1 &
SRV=$!
for _ in $(seq 1 100); do curl -fsS "$URL/healthz" >/dev/null 2>&1 && break; sleep 0.1; done

rss() { awk '/VmRSS/ {print $2}' "/proc/$SRV/status"; }
hwm() { awk '/VmHWM/ {print $2}' "/proc/$SRV/status"; }
cpu_ticks() { awk '{print $14 + $15}' "/proc/$SRV/stat"; }

printf '%-55s %10s %9s %9s %9s %8s\n' scenario req/s p50 p99 "srv CPU" "RSS MB" | tee "$OUT/summary.txt"
run() { # label, auth, body [, path]
  wanted "$1" || return 0
  local label="$1" f="$OUT/$(printf '%s' "$1" | tr -c 'A-Za-z0-9' '_').txt"
  local t0; t0=$(cpu_ticks)
  AUTH="$2" BODY="$3" "${cli_pin[@]}" wrk -t1 -c"$CONNS" -d"$DURATION" --latency -s bench/post_form.lua "$URL${4:-/oauth2/token}" >"$f"
  local t1; t1=$(cpu_ticks)
  local secs; secs=$(awk '/requests in/ {gsub("s,","",$4); print $4}' "$f")
  local rps p50 p99 non200
  rps=$(awk '/Requests\/sec/ {printf "%d", $2}' "$f")
  p50=$(awk '$1=="50%" {print $2}' "$f"); p99=$(awk '$1=="99%" {print $2}' "$f")
  non200=$(awk '/non-200/ {print $3}' "$f")
  local cpu; cpu=$(awk -v a="$t0" -v b="$t1" -v s="$secs" -v hz="$(getconf CLK_TCK)" 'BEGIN {printf "%d%%", 100*(b-a)/hz/s}')
  printf '%-55s %10s %9s %9s %9s %8s%s\n' "$label" "$rps" "$p50" "$p99" "$cpu" "$(( $(rss) / 1024 ))" \
    "$([ "${non200:-0}" != 0 ] && echo "  ($non200 non-200!)")" | tee -a "$OUT/summary.txt"
}
run_load() { # label, mode (flow|login), connections [, signin_load options]
  wanted "$1" || return 0
  local label="$1" f="$OUT/$(printf '%s' "$1" | tr -c 'A-Za-z0-9' '_').json"
  # signin_load reads the server's CPU ticks itself, over its measured window only.
  "${cli_pin[@]}" "$LOAD" --url "$URL" --mode "$2" --conns "$3" --duration "${DURATION%s}" --warmup 2 \
    --server-pid "$SRV" --password "$PASSWORD" "${@:4}" >"$f"
  local j; j=$(cat "$f")
  val() { sed -E "s/.*\"$1\":([^,}]+).*/\1/" <<<"$j"; }
  local rps p50 p99 errors cpu
  rps=$(printf '%.0f' "$(val per_sec)"); p50="$(val p50_ms)ms"; p99="$(val p99_ms)ms"; errors=$(val errors)
  cpu=$(awk -v t="$(val srv_cpu_ticks)" -v s="$(val window_s)" -v hz="$(getconf CLK_TCK)" 'BEGIN {printf "%d%%", 100*t/hz/s}')
  printf '%-55s %10s %9s %9s %9s %8s%s\n' "$label" "$rps" "$p50" "$p99" "$cpu" "$(( $(rss) / 1024 ))" \
    "$([ "${errors:-0}" != 0 ] && echo "  ($errors errors!)")" | tee -a "$OUT/summary.txt"
}

# Warm-up: fills caches and lets the allocator settle.
AUTH="$JWT_AUTH" BODY="grant_type=client_credentials" "${cli_pin[@]}" wrk -t1 -c"$CONNS" -d3s -s bench/post_form.lua "$URL/oauth2/token" >/dev/null

run "client_credentials JWT (EdDSA)" "$JWT_AUTH" "grant_type=client_credentials&scope=inventory:read"
run "client_credentials opaque" "$OPQ_AUTH" "grant_type=client_credentials&scope=inventory:read"
TOKEN=$(curl -s -u "bench-opaque:$OPQ_SECRET" -d grant_type=client_credentials "$URL/oauth2/token" | sed -E 's/.*"access_token":"([^"]+)".*/\1/')
run "introspection (opaque)" "$OPQ_AUTH" "token=$TOKEN" /oauth2/introspect
JWT=$(curl -s -u "bench-jwt:$JWT_SECRET" -d grant_type=client_credentials "$URL/oauth2/token" | sed -E 's/.*"access_token":"([^"]+)".*/\1/')
run "introspection (JWT)" "$JWT_AUTH" "token=$JWT" /oauth2/introspect
# Browser flows: 32 signed-in browsers; 8 sign-ins at a time (argon2id is CPU-bound, more only queue).
run_load "$FLOW_LABEL" flow 32 --client-id bench-app --client-secret "$APP_SECRET"
# 4 connections: the throttle admits at most 5 sign-ins in flight per account
# and per address (each counted before its password is checked); argon2 runs
# one per core, so 4 keep the server as busy as 8 did.
run_load "$LOGIN_LABEL" login 4
run_load "$REFRESH_LABEL" refresh 32 --client-id bench-app --client-secret "$APP_SECRET" --scope "offline_access"
# DPoP beside bearer from the same load generator (wrk cannot sign a proof
# per request): a fresh proof each time, checked and remembered by the server.
run_load "$CC_LABEL" cc 32 --client-id bench-jwt --client-secret "$JWT_SECRET"
run_load "$DPOP_LABEL (EdDSA)" dpop 32 --client-id bench-jwt --client-secret "$JWT_SECRET" --dpop-alg EdDSA
run_load "$DPOP_LABEL (ES256)" dpop 32 --client-id bench-jwt --client-secret "$JWT_SECRET" --dpop-alg ES256
if wanted "$GUARD_LABEL"; then
  "${cli_pin[@]}" "$ROOT/target/release/examples/guard_bench" "$URL" https://inventory.example \
    bench-api "$API_SECRET" bench-guard-app "$GAPP_SECRET" >"$OUT/guard.json"
  g=$(cat "$OUT/guard.json")
  gv() { sed -E "s/.*\"$1\":([^,}]+).*/\1/" <<<"$g"; }
  { echo "$GUARD_LABEL:"
    printf '  uncached (signature + claims + cache insert) %10s /s\n' "$(gv uncached_per_sec)"
    printf '  cached, one hot token                        %10s /s\n' "$(gv cached_hot_per_sec)"
    printf '  cached, 30k tokens round-robin               %10s /s\n' "$(gv cached_30k_per_sec)"
    printf '  revocation 200 -> first refusal (%s revocations): p50 %s ms, p99 %s ms, max %s ms\n' \
      "$(gv revocations)" "$(gv revocation_p50_ms)" "$(gv revocation_p99_ms)" "$(gv revocation_max_ms)"
  } | tee -a "$OUT/summary.txt"
fi
echo "peak RSS: $(( $(hwm) / 1024 )) MB; WAL now: $(( $(stat -c %s "$DATA/tessera.db-wal" 2>/dev/null || echo 0) / 1048576 )) MB" | tee -a "$OUT/summary.txt"
stop

if [ "${PEER:-0}" = 1 ]; then
  PEER_DIR="$(mktemp -d)"
  cp -r "$ROOT/../shared/peers/oidc-provider/." "$PEER_DIR/"
  chmod -R u+w "$PEER_DIR"
  (cd "$PEER_DIR" && DURATION="$DURATION" CONNS="$CONNS" ./run.sh) | tee "$OUT/peer.txt"
fi
echo "machine: $(nproc) CPUs, $(awk -F: '/model name/ {print $2; exit}' /proc/cpuinfo | xargs); results in $OUT"
