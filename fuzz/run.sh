#!/usr/bin/env bash
# Runs every fuzz target for SECONDS (default 30) on the stable toolchain
# (`cargo fuzz run -s none`: coverage-guided, no sanitizer) and prints
# executions per second and findings. New inputs go to a scratch directory,
# not to the committed corpus; crashes and the log land in
# fuzz/artifacts/<target>/.
#   fuzz/run.sh [SECONDS] [TARGET...]
# Needs `cargo install cargo-fuzz --locked`. CARGO_TARGET_DIR is honoured.
set -euo pipefail
cd "$(dirname "$0")"
secs=${1:-30}
shift || true
targets=("$@")
[ ${#targets[@]} -eq 0 ] && mapfile -t targets < <(cargo fuzz list)
cargo fuzz build -s none
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
failed=0
printf '%-14s %10s %10s %6s %8s  %s\n' target execs execs/s cov corpus result
for t in "${targets[@]}"; do
  mkdir -p "$scratch/$t" "artifacts/$t"
  log="artifacts/$t/last-run.log"
  result=ok
  cargo fuzz run -s none "$t" "$scratch/$t" "corpus/$t" -- \
    -max_total_time="$secs" -max_len=10000 -timeout=5 -rss_limit_mb=2048 \
    -report_slow_units=1 -print_final_stats=1 >"$log" 2>&1 || result="FAILED (see $log)"
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
  cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | cut -d' ' -f2)
  slow=$(grep -c 'Slowest unit' "$log" || true)
  [ "$slow" -gt 0 ] && result="$result; $slow slow unit(s) >1 s"
  corpus=$(find "$scratch/$t" -type f | wc -l)
  printf '%-14s %10s %10s %6s %8s  %s\n' "$t" "${execs:-?}" "${rate:-?}" "${cov:-?}" "+$corpus" "$result"
  [ "${result%% *}" = ok ] || { failed=1; tail -30 "$log" >&2; }
done
exit $failed
