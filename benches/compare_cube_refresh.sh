#!/usr/bin/env bash
# What a frame of the TUI costs from the cubes as the records behind it grow tenfold,
# against the same frame from the logs. The event's peak hour is simulated at scale 1
# and at scale 10 (ten times the viewers and records; the ISPs, channels, districts
# and areas, hence the cells, stay), each shipped to its own database; then, in turn,
# ROUNDS times, one Overview frame at the hour's end (`--snapshot overview`, the whole
# process: start, connect, the cubes' names, span and alerts, the frame's queries) from
# each database and from each recording. Prints each round, the medians and the ratios
# ten / one.
#
#   benches/compare_cube_refresh.sh [ROUNDS]
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${1:-5}
FROM="2012-08-07 20:00"
TO="2012-08-07 21:00"

cargo build --release --quiet
BIN=$PWD/target/release/peerscope
WORK=$(mktemp -d)
# The logs' replay keeps its recording index in the cache: this run's own.
export XDG_CACHE_HOME=$WORK/cache
# shellcheck source=benches/clickhouse.sh
. benches/clickhouse.sh
start_clickhouse "$WORK/ch"
for scale in 1 10; do
    "$BIN" simulate --out "$WORK/rec$scale" --from "$FROM" --to "$TO" --scale "$scale" --no-probes 2>/dev/null
    echo "scale $scale: $("$BIN" ship --clickhouse "$CH" --database "x$scale" --init --dir "$WORK/rec$scale" --once 2>&1 | tail -1)"
done
for scale in 1 10; do
    echo "scale $scale: $(curl -sf "$CH/" --data-binary "SELECT count() FROM x$scale.raw WHERE kind = 0") records, $(curl -sf "$CH/" --data-binary "SELECT count() FROM x$scale.cube_10s") rows in cube_10s, $(curl -sf "$CH/" --data-binary "SELECT count() FROM x$scale.peer_first") in peer_first"
done

frame() { "$BIN" replay "$@" --snapshot overview --at "$TO"; }
cube1() { frame --cube "clickhouse://127.0.0.1:$HTTP/x1"; }
cube10() { frame --cube "clickhouse://127.0.0.1:$HTTP/x10"; }
logs1() { frame "$WORK/rec1"; }
logs10() { frame "$WORK/rec10"; }
# Each must draw a frame: a failure here is not a figure.
for f in cube1 cube10 logs1 logs10; do $f > /dev/null; done

# shellcheck source=benches/timing.sh
. benches/timing.sh
declare -a C1 C10 L1 L10
for ((i = 0; i < ROUNDS; i++)); do
    C1+=("$(time_of cube1)"); C10+=("$(time_of cube10)")
    L1+=("$(time_of logs1)"); L10+=("$(time_of logs10)")
    printf 'round %d: cubes %.2f s / %.2f s   logs %.2f s / %.2f s (scale 1 / 10)\n' \
        "$((i + 1))" "${C1[-1]}" "${C10[-1]}" "${L1[-1]}" "${L10[-1]}"
done
c1=$(median "${C1[@]}"); c10=$(median "${C10[@]}"); l1=$(median "${L1[@]}"); l10=$(median "${L10[@]}")
printf 'median frame: cubes %.2f s -> %.2f s (x%.2f)   logs %.2f s -> %.2f s (x%.2f) for ten times the records\n' \
    "$c1" "$c10" "$(echo "$c10 / $c1" | bc -l)" "$l1" "$l10" "$(echo "$l10 / $l1" | bc -l)"
