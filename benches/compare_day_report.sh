#!/usr/bin/env bash
# Whole-process comparison for `report --by day --day D` (issue 19: a day's report costs
# the same whatever the recording's length): the first day of a four-day recording
# against the same day recorded alone, runs paired, index built beforehand (its build
# is timed once, beside). Also the last day of the four, and the whole four-day report.
#
#   benches/compare_day_report.sh [SCALE] [ROUNDS]
#
# SCALE defaults to 0.25 of the full-scale audience (a full-scale day is about 12 M
# records); the two recordings are simulated into $TMPDIR the first time.
set -euo pipefail
SCALE=${1:-0.25}
ROUNDS=${2:-5}
source "$(dirname "$0")/long_recordings.sh"
export XDG_CACHE_HOME=$TMP/peerscope-bench-cache
rm -rf "$XDG_CACHE_HOME"

printf 'index build: one day %.2f s, four days %.2f s\n' \
    "$(time_of "$BIN" report "$ONE" --day 2012-08-06)" "$(time_of "$BIN" report "$FOUR" --day 2012-08-06)"
"$BIN" report "$FOUR" --day 2012-08-06 2>&1 >/dev/null | grep 'of the recording' | sed 's/^/four days, first day: /'
"$BIN" report "$FOUR" --day 2012-08-09 2>&1 >/dev/null | grep 'of the recording' | sed 's/^/four days, last day: /'

declare -a A B L W
for ((i = 0; i < ROUNDS; i++)); do
    A+=("$(time_of "$BIN" report "$ONE" --day 2012-08-06)")
    B+=("$(time_of "$BIN" report "$FOUR" --day 2012-08-06)")
    L+=("$(time_of "$BIN" report "$FOUR" --day 2012-08-09)")
    W+=("$(time_of "$BIN" report "$FOUR")")
    printf 'round %d: one-day recording %.2f s   four days, first %.2f s, last %.2f s   whole four days %.2f s\n' \
        "$((i + 1))" "${A[-1]}" "${B[-1]}" "${L[-1]}" "${W[-1]}"
done
ma=$(median "${A[@]}"); mb=$(median "${B[@]}"); ml=$(median "${L[@]}"); mw=$(median "${W[@]}")
printf 'median: one-day %.2f s   first of four %.2f s   last of four %.2f s   whole four %.2f s\n' "$ma" "$mb" "$ml" "$mw"
printf 'first day of four / one-day recording: %.2f (goal <= 1.2)   last day / one-day: %.2f   whole four / one-day: %.2f\n' \
    "$(echo "$mb / $ma" | bc -l)" "$(echo "$ml / $ma" | bc -l)" "$(echo "$mw / $ma" | bc -l)"
