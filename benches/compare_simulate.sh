#!/usr/bin/env bash
# Whole-process timing of `simulate` (issue 19, part 5: the whole event at the default
# level in under 6 minutes): one day at SCALE of the full-scale audience at each gzip
# level, and, given an earlier binary OLD, that binary and this one at the default level
# in alternation, paired, with the ratio of their medians.
#
#   benches/compare_simulate.sh [SCALE] [ROUNDS] [OLD]
#
# SCALE defaults to 0.25 (3.0 M records for the day); output goes to $TMPDIR and is
# removed after each run.
set -euo pipefail
SCALE=${1:-0.25}
ROUNDS=${2:-3}
OLD=${3:-}
cd "$(dirname "$0")/.."
cargo build --release --quiet
BIN=target/release/peerscope
# shellcheck source=benches/timing.sh
. benches/timing.sh
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT
# Its summary line goes to $OUT/said for the record count.
day() {
    rm -rf "$OUT/day"
    "$1" simulate --scale "$SCALE" --out "$OUT/day" --from "2012-08-06 00:00" --to "2012-08-07 00:00" \
        "${@:2}" 2>"$OUT/said"
}

printf 'one day at scale %s, %s cores\n' "$SCALE" "$(nproc)"
for level in plain 1 6 9; do
    if [ "$level" = plain ]; then args=(--plain); else args=(--gzip-level "$level"); fi
    t=$(time_of day "$BIN" "${args[@]}")
    records=$(grep -Eo '^wrote [0-9]+' "$OUT/said" | grep -Eo '[0-9]+')
    printf '%-6s %6.1f s  %5.2f M records/s  %s on disk\n' "$level" "$t" \
        "$(echo "$records / $t / 1000000" | bc -l)" "$(du -sh "$OUT/day" | cut -f1)"
done

if [ -n "$OLD" ]; then
    declare -a A B
    for ((i = 0; i < ROUNDS; i++)); do
        A+=("$(time_of day "$OLD")")
        B+=("$(time_of day "$BIN")")
        printf 'round %d: earlier %.1f s, this %.1f s\n' "$((i + 1))" "${A[-1]}" "${B[-1]}"
    done
    ma=$(median "${A[@]}"); mb=$(median "${B[@]}")
    printf 'median: earlier %.1f s, this %.1f s: this / earlier %.2f\n' "$ma" "$mb" \
        "$(echo "$mb / $ma" | bc -l)"
fi
