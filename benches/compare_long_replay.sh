#!/usr/bin/env bash
# Whole-process comparison for `replay --snapshot` (issue 19: a frame costs what its views
# need, whatever the recording's length): the last moment of a four-day recording against
# the last moment of the same first day recorded alone, runs paired, with the recording's
# index built beforehand (its build is timed once, beside, with the size of what it keeps).
# Both frames are the Overview, whose alert lines carry their explanations, and the Probes
# view, whose book starts from the index's copy before the clock.
#
#   benches/compare_long_replay.sh [SCALE] [ROUNDS]
#
# SCALE defaults to 0.1 of the full-scale audience (a full-scale day is about 12 M
# records); the recordings are those of compare_day_report.sh, simulated into $TMPDIR
# the first time.
set -euo pipefail
SCALE=${1:-0.1}
ROUNDS=${2:-5}
source "$(dirname "$0")/long_recordings.sh"
export XDG_CACHE_HOME=$TMP/peerscope-bench-replay-cache
rm -rf "$XDG_CACHE_HOME"
frame() { "$BIN" replay "$1" --snapshot "$2" --at "$3"; }

# The first day's last minute in each recording, and the four days' very end.
AT_ONE="2012-08-06 23:59"
AT_END="2012-08-09 23:59"
printf 'index build (first snapshot): one day %.2f s, four days %.2f s\n' \
    "$(time_of frame "$ONE" overview "$AT_ONE")" "$(time_of frame "$FOUR" overview "$AT_END")"
du -ch "$XDG_CACHE_HOME"/peerscope/index/*.index | tail -1 | sed 's/total/kept indexes/'
du -ch "$XDG_CACHE_HOME"/peerscope/index/*.probes | tail -1 | sed 's/total/kept probe books/'

declare -a A B P Q RO RP
for ((i = 0; i < ROUNDS; i++)); do
    A+=("$(time_of frame "$ONE" overview "$AT_ONE")")
    B+=("$(time_of frame "$FOUR" overview "$AT_END")")
    P+=("$(time_of frame "$ONE" probes "$AT_ONE")")
    Q+=("$(time_of frame "$FOUR" probes "$AT_END")")
    # Each round's own ratio too: the two frames of a round run seconds apart, so the
    # machine's drift moves both (its noise is of the size of what is compared).
    RO+=("$(echo "${B[-1]} / ${A[-1]}" | bc -l)")
    RP+=("$(echo "${Q[-1]} / ${P[-1]}" | bc -l)")
    printf 'round %d: overview one day %.2f s, four days %.2f s   probes one day %.2f s, four days %.2f s\n' \
        "$((i + 1))" "${A[-1]}" "${B[-1]}" "${P[-1]}" "${Q[-1]}"
done
ma=$(median "${A[@]}"); mb=$(median "${B[@]}"); mp=$(median "${P[@]}"); mq=$(median "${Q[@]}")
printf 'median: overview %.2f s / %.2f s   probes %.2f s / %.2f s\n' "$ma" "$mb" "$mp" "$mq"
printf 'four days / one day: overview %.2f, probes %.2f (goal <= 1.2)\n' \
    "$(echo "$mb / $ma" | bc -l)" "$(echo "$mq / $mp" | bc -l)"
printf 'median of the rounds'"'"' own ratios: overview %.2f, probes %.2f\n' \
    "$(median "${RO[@]}")" "$(median "${RP[@]}")"
