#!/usr/bin/env bash
# Whole-process cost of `peerscope ship --once` into ClickHouse, against ClickHouse's own
# client inserting the same rows in the same format (RowBinary) from a file into the
# same schema (its views included): the floor a shipper's INSERTs sit on.
#   - ship: reads the recording, derives every record's facts, inserts them in batches
#     (each run under a new --name, so each ships everything);
#   - client: `clickhouse-client --query "INSERT INTO … FORMAT RowBinary" < rows`, the
#     rows the first ship wrote, exported from its raw table.
# A ClickHouse server is started in a temporary directory on a free port and stopped at
# the end. The two run in turn, RUNS pairs; it prints each pair, rows per second of the
# medians and the ratio of the rates.
#
#   benches/compare_ship.sh [FROM] [TO] [RUNS]      (local times of the simulated event)
set -euo pipefail
cd "$(dirname "$0")/.."
FROM=${1:-"2012-08-07 20:00"}
TO=${2:-"2012-08-07 21:00"}
RUNS=${3:-5}

cargo build --release --quiet
BIN=$PWD/target/release/peerscope
WORK=$(mktemp -d)
# shellcheck source=benches/clickhouse.sh
. benches/clickhouse.sh
start_clickhouse "$WORK/ch"

"$BIN" simulate --out "$WORK/rec" --from "$FROM" --to "$TO" --no-probes 2>/dev/null
"$BIN" ship --clickhouse "$CH" --database bench --init --dir "$WORK/rec" --once --name first 2>&1 | tail -1
"$BIN" ship --clickhouse "$CH" --database floor --init 2>/dev/null
curl -sf "$CH/" --data-binary "SELECT * FROM bench.raw WHERE shipper = 'first' FORMAT RowBinary" > "$WORK/rows.bin"
ROWS=$(curl -sf "$CH/" --data-binary "SELECT count() FROM bench.raw WHERE shipper = 'first'")
echo "rows per run: $ROWS ($(du -m "$WORK/rows.bin" | cut -f1) MB RowBinary), ClickHouse $(curl -sf "$CH/" --data-binary 'SELECT version()')"

# Each ship run under its own name, so that each ships everything (from the clock: a
# run is timed in a subshell, where a counter would not survive it).
run_ship() {
    "$BIN" ship --clickhouse "$CH" --database bench --dir "$WORK/rec" --once --name "run-$(date +%s%N)" >/dev/null 2>&1
}
run_client() { clickhouse-client --port "$TCP" --query "INSERT INTO floor.raw FORMAT RowBinary" < "$WORK/rows.bin"; }
# shellcheck source=benches/timing.sh
. benches/timing.sh
declare -a S C
for ((i = 0; i < RUNS; i++)); do
    S+=("$(time_of run_ship)")
    C+=("$(time_of run_client)")
    printf 'pair %d: ship %.2f s   client %.2f s\n' "$((i + 1))" "${S[-1]}" "${C[-1]}"
done
a=$(median "${S[@]}"); b=$(median "${C[@]}")
printf 'ship   %8.0f k rows/s (median %.2f s)\n' "$(echo "$ROWS / $a / 1000" | bc -l)" "$a"
printf 'client %8.0f k rows/s (median %.2f s)\n' "$(echo "$ROWS / $b / 1000" | bc -l)" "$b"
printf 'ship / client rate: %.2f\n' "$(echo "$b / $a" | bc -l)"
