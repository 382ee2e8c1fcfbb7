#!/usr/bin/env bash
# Whole-process cost of reading CDN access logs (deploy/nginx-cdn.conf's format):
#   - cold: `report LOG --by node` with an empty cache: every line read, the requests'
#     CMCD reports written as a recording, the nodes' figures kept;
#   - kept: the same command again (the kept copy's figures only);
#   - viewers: `report LOG --by minute` on the kept copy (sessions derived from the
#     reports, the §8 table);
#   - floor: `gzip -c` of the same log at level 1, what writing the copy must at least
#     do to its bytes.
# Each runs ROUNDS times, interleaved; it prints each run, the medians as lines per
# second, and their ratios, all from this one run.
#
#   benches/compare_access_log.sh [LINES] [ROUNDS]
set -euo pipefail
cd "$(dirname "$0")/.."
LINES=${1:-1000000}
ROUNDS=${2:-3}

cargo build --release --quiet
BIN=target/release/peerscope
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
LOG=$WORK/edge.log
# dash.js-like segment requests: 20 000 sessions on 3 nodes, one request every 2 s each.
python3 - "$LOG" "$LINES" <<'PY'
import sys, urllib.parse
path, n = sys.argv[1], int(sys.argv[2])
t0 = 1344349800.0
with open(path, "w") as f:
    for i in range(n):
        s = i % 20000
        at = t0 + (i // 20000) * 2.0 + s * 0.0001
        cache = "HIT" if i % 10 else "MISS"
        origin = "" if cache == "HIT" else "0.012"
        cmcd = (f'br=(3000;v 128;a),bl=(12000;v),cid="ch{s % 7}",mtp=(25000;v),ot=v,'
                f'sid="s{s}",sn={i // 20000},sta=p,v=2')
        q = urllib.parse.quote(cmcd, safe="")
        f.write(f'{{"msec":{at:.3f},"node":"edge-{s % 3}","addr":"10.{s % 250}.{s % 200}.9",'
                f'"method":"GET","uri":"/live/ch{s % 7}/seg-{i // 20000}.m4s?CMCD={q}",'
                f'"status":200,"bytes":750000,"request_time":0.030,'
                f'"upstream_header_time":"{origin}","cache":"{cache}","cmcd_request":"",'
                f'"cmcd_object":"","cmcd_status":"","cmcd_session":""}}\n')
PY
echo "log: $LINES lines, $(($(stat -c %s "$LOG") / 1000000)) MB"

export XDG_CACHE_HOME=$WORK/cache
run_cold() { rm -rf "$XDG_CACHE_HOME"; "$BIN" report "$LOG" --by node > /dev/null 2>&1; }
run_kept() { "$BIN" report "$LOG" --by node > /dev/null 2>&1; }
run_viewers() { "$BIN" report "$LOG" --by minute > /dev/null 2>&1; }
run_floor() { gzip -1 -c "$LOG" > /dev/null; }

declare -A times
for round in $(seq "$ROUNDS"); do
    for what in cold kept viewers floor; do
        start=$(date +%s.%N)
        "run_$what"
        t=$(echo "$(date +%s.%N) - $start" | bc)
        times[$what]+="$t "
        printf 'round %d %-8s %6.2f s\n' "$round" "$what" "$t"
    done
done
median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
for what in cold kept viewers floor; do
    m=$(echo "${times[$what]}" | median)
    eval "m_$what=$m"
    if [ "$what" = kept ]; then
        printf '%-8s median %6.2f s  (the figures only: no line read)\n' "$what" "$m"
    else
        printf '%-8s median %6.2f s  %8.0f lines/s\n' "$what" "$m" "$(echo "$LINES / $m" | bc -l)"
    fi
done
printf 'cold / floor: %.2f   kept / cold: %.3f   viewers / cold: %.2f\n' \
    "$(echo "$m_cold / $m_floor" | bc -l)" "$(echo "$m_kept / $m_cold" | bc -l)" \
    "$(echo "$m_viewers / $m_cold" | bc -l)"
