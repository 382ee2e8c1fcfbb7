#!/usr/bin/env bash
# Whole-process comparison for `report --by minute` over one full-scale day of gzipped
# minute files, against
#   - DuckDB computing the per-minute figures SQL can express (records, distinct peers,
#     rates, continuity, QoE) over the same files with the column types given, 2 threads;
#   - two floors: decompressing the same files alone, on both cores, with gzip and with
#     libdeflate (Debian `libdeflate-tools`; whole-member inflate, the fastest there is).
# The four commands run interleaved, ROUNDS times; it prints each run and the ratios of
# the medians, all from this one run.
#
#   benches/compare_report.sh [DAY_DIR] [ROUNDS]
#
# DAY_DIR defaults to a fresh full-scale simulation of 2012-08-07 (about 12 M records).
set -euo pipefail
cd "$(dirname "$0")/.."
DIR=${1:-${TMPDIR:-/tmp}/peerscope-bench-day}
ROUNDS=${2:-3}

cargo build --release --quiet
BIN=target/release/peerscope
if [ ! -d "$DIR" ]; then
    "$BIN" simulate --out "$DIR" --from "2012-08-07 00:00" --to "2012-08-08 00:00"
fi
python3 -c 'import duckdb' 2>/dev/null || pip install --quiet duckdb
command -v libdeflate-gunzip >/dev/null || { echo "needs libdeflate-gunzip: apt-get install libdeflate-tools" >&2; exit 2; }

FILES=$(mktemp)
trap 'rm -f "$FILES"' EXIT
find "$DIR" -path '*/feedback/*' -name '*.jsonl.gz' | sort > "$FILES"
# Summed per file: `du -c` run by xargs in batches prints one total per batch.
BYTES=$(xargs -a "$FILES" stat -c %s | awk '{s += $1} END {print s}')
RAW=$(xargs -a "$FILES" -n 64 gzip -dc | wc -c)
echo "day: $(wc -l < "$FILES") files, $((BYTES / 1000000)) MB gzipped, $((RAW / 1000000)) MB of JSON lines"

run_peerscope() { "$BIN" report "$DIR" --by minute --format csv > /dev/null 2>&1; }
run_floor() { xargs -a "$FILES" -P 2 -n 64 gzip -dc > /dev/null; }
run_libdeflate() { xargs -a "$FILES" -P 2 -n 64 libdeflate-gunzip -c > /dev/null; }
run_duckdb() {
    python3 - "$DIR" <<'PY'
import sys, duckdb
con = duckdb.connect()
con.execute("SET threads = 2")
cols = {"peer": "VARCHAR", "seq": "UBIGINT", "event": "VARCHAR", "period_s": "DOUBLE",
        "up_kbps": "DOUBLE", "down_kbps": "DOUBLE", "server_kbps": "DOUBLE",
        "bitrate_kbps": "DOUBLE", "play_s": "DOUBLE", "stall_s": "DOUBLE", "recv": "BIGINT"}
spec = "{" + ", ".join(f"'{k}': '{v}'" for k, v in cols.items()) + "}"
rows = con.execute(f"""
  SELECT recv // 60000 AS minute, count(*) AS records, count(DISTINCT peer) AS peers,
    sum(up_kbps * period_s) FILTER (WHERE event = 'report') / sum(period_s) FILTER (WHERE event = 'report') AS up,
    sum(down_kbps * period_s) FILTER (WHERE event = 'report') / sum(period_s) FILTER (WHERE event = 'report') AS down,
    sum(play_s) FILTER (WHERE event = 'report') / sum(play_s + stall_s) FILTER (WHERE event = 'report') AS continuity,
    avg(greatest(1, least(5, -5 * stall_s / (play_s + stall_s) + 4 * (1 - exp(-0.0015 * bitrate_kbps)) + 2)))
      FILTER (WHERE event = 'report' AND play_s + stall_s > 0) AS qoe
  FROM read_json('{sys.argv[1]}/*/feedback/*/*.jsonl.gz', format = 'newline_delimited',
                 columns = {spec}, ignore_errors = true)
  GROUP BY 1 ORDER BY 1""").fetchall()
assert len(rows) > 0
PY
}

# shellcheck source=benches/timing.sh
. benches/timing.sh

declare -a P D F L
for ((i = 0; i < ROUNDS; i++)); do
    P+=("$(time_of run_peerscope)")
    D+=("$(time_of run_duckdb)")
    F+=("$(time_of run_floor)")
    L+=("$(time_of run_libdeflate)")
    printf 'round %d: peerscope %.2f s   duckdb %.2f s   gzip floor %.2f s   libdeflate floor %.2f s\n' \
        "$((i + 1))" "${P[-1]}" "${D[-1]}" "${F[-1]}" "${L[-1]}"
done
mp=$(median "${P[@]}"); md=$(median "${D[@]}"); mf=$(median "${F[@]}"); ml=$(median "${L[@]}")
printf 'median: peerscope %.2f s (%.0f MB/s of JSON)   duckdb %.2f s (%.0f MB/s)   gzip %.2f s   libdeflate %.2f s (%.0f MB/s gzipped)\n' \
    "$mp" "$(echo "$RAW / $mp / 1000000" | bc -l)" "$md" "$(echo "$RAW / $md / 1000000" | bc -l)" "$mf" \
    "$ml" "$(echo "$BYTES / $ml / 1000000" | bc -l)"
printf 'speed vs duckdb: %.2fx (goal >= 2x)   the floors as a share of its time: gzip %.2f, libdeflate %.2f\n' \
    "$(echo "$md / $mp" | bc -l)" "$(echo "$mf / $mp" | bc -l)" "$(echo "$ml / $mp" | bc -l)"
