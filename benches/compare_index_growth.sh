#!/usr/bin/env bash
# Whole-process comparison for an index that grows with a live recording (issue 19):
# the four-day recording written up to an hour before its end, indexed, then its last
# hour added; `report --day` of its last day with the index grown from the kept state,
# against the same with the index built whole (an empty cache), and with the index
# kept and loaded. Rounds alternate; medians and ratios.
#
#   benches/compare_index_growth.sh [SCALE] [ROUNDS]
#
# The recording is linked (not copied) into $TMPDIR: the files are the same.
set -euo pipefail
SCALE=${1:-0.1}
ROUNDS=${2:-3}
source "$(dirname "$0")/long_recordings.sh"
LIVE=$TMP/peerscope-bench-live-$SCALE
HELD=$TMP/peerscope-bench-held-$SCALE
export XDG_CACHE_HOME=$TMP/peerscope-bench-growth-cache
DAY=(report "$LIVE" --day 2012-08-09 --by isp)

# The last hour of the recording (UTC 15:00 on its last day, 23:00 in Hong Kong).
last_hour() { find "$1" -type f -name '20120809-15*'; }
hold_back() {
    rm -rf "$HELD"
    (cd "$LIVE" && last_hour . | while read -r f; do
        mkdir -p "$HELD/$(dirname "$f")" && mv "$f" "$HELD/$f"
    done)
}
put_back() { (cd "$HELD" && find . -type f | while read -r f; do mv "$f" "$LIVE/$f"; done); }

rm -rf "$LIVE" && cp -al "$FOUR" "$LIVE"
echo "held back: $(last_hour "$LIVE" | wc -l) files, the recording's last hour"
declare -a G W K
for ((i = 0; i < ROUNDS; i++)); do
    rm -rf "$XDG_CACHE_HOME"
    hold_back
    "$BIN" "${DAY[@]}" >/dev/null 2>&1
    put_back
    G+=("$(time_of "$BIN" "${DAY[@]}")")
    K+=("$(time_of "$BIN" "${DAY[@]}")")
    rm -rf "$XDG_CACHE_HOME"
    W+=("$(time_of "$BIN" "${DAY[@]}")")
    printf 'round %d: grown %.2f s   whole build %.2f s   loaded %.2f s\n' \
        "$((i + 1))" "${G[-1]}" "${W[-1]}" "${K[-1]}"
done
hold_back && rm -rf "$XDG_CACHE_HOME" && "$BIN" "${DAY[@]}" >/dev/null 2>&1 && put_back
"$BIN" "${DAY[@]}" 2>&1 >/dev/null | grep indexed
ls -l "$XDG_CACHE_HOME"/peerscope/index | awk 'NR > 1 {printf "kept: %s %.1f MB\n", $9, $5 / 1e6}'
mg=$(median "${G[@]}"); mw=$(median "${W[@]}"); mk=$(median "${K[@]}")
printf 'median: grown %.2f s   whole build %.2f s   loaded %.2f s\n' "$mg" "$mw" "$mk"
printf 'grown / whole build: %.2f   grown / loaded: %.2f\n' \
    "$(echo "$mg / $mw" | bc -l)" "$(echo "$mg / $mk" | bc -l)"
rm -rf "$LIVE" "$HELD" "$XDG_CACHE_HOME"
