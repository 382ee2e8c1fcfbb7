# Sourced by the comparison scripts of issue 19 (compare_day_report.sh, compare_index_growth.sh,
# compare_long_replay.sh): the release binary, a one-day and a four-day recording at
# SCALE of the full-scale audience (simulated into $TMPDIR the first time, kept for the
# next run), and the timing helpers. Expects SCALE to be set; sets BIN, ONE and FOUR.
cd "$(dirname "${BASH_SOURCE[0]}")/.."
TMP=${TMPDIR:-/tmp}
ONE=$TMP/peerscope-bench-1day-$SCALE
FOUR=$TMP/peerscope-bench-4days-$SCALE

cargo build --release --quiet
BIN=target/release/peerscope
[ -d "$ONE" ] || "$BIN" simulate --scale "$SCALE" --out "$ONE" --from "2012-08-06 00:00" --to "2012-08-07 00:00" >/dev/null
[ -d "$FOUR" ] || "$BIN" simulate --scale "$SCALE" --out "$FOUR" --from "2012-08-06 00:00" --to "2012-08-10 00:00" >/dev/null

# shellcheck source=benches/timing.sh
. benches/timing.sh
