#!/usr/bin/env bash
# Whole-process ingest benchmark on 127.0.0.1, bounded in time: the same wrk client and
# connection count against
#   - nginx answering `return 204` (the ceiling for an HTTP POST on this machine),
#   - peerscope serve with --fsync batch (group commit) and --fsync none,
#   - peerscope serve's CMCD collector (/v1/cmcd, --fsync batch) with CMCD v2 event
#     reports as players send them (application/cmcd lines),
# with single-record POSTs and 100-record batches. Prints records/s, the ratio to nginx
# and the CMCD collector's ratio to /v1/feedback, from this one run.
#
#   benches/compare_serve.sh [SECONDS] [CONNECTIONS] [ROUNDS]
#
# On a shared machine one measurement can be 20 % off in either direction (a neighbour
# takes a core for a few seconds), so every target is measured ROUNDS times (default 3),
# the targets taking turns within each round; the table shows each target's median and
# the ratio of medians, and the last column the lowest and highest ratio within a round.
#
# Needs wrk and nginx (Debian packages). Goals: batches > 200,000 records/s; single-record
# POSTs with --fsync batch at least half of nginx's request rate; CMCD at least 0.8 of
# the feedback endpoint's records/s.
set -euo pipefail
cd "$(dirname "$0")/.."
SECS=${1:-10}
CONNS=${2:-64}
ROUNDS=${3:-3}
command -v wrk >/dev/null || { echo "wrk is required (apt-get install wrk)" >&2; exit 2; }
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
cargo build --release --quiet
BIN=$PWD/target/release/peerscope
WORK=$(mktemp -d)
cleanup() {
    [ -f "$WORK/nginx.pid" ] && kill "$(cat "$WORK/nginx.pid")" 2>/dev/null || true
    [ -f "$WORK/pids" ] && xargs -a "$WORK/pids" kill 2>/dev/null || true
    sleep 0.5
    rm -rf "$WORK"
}
trap cleanup EXIT

RECORD='{"v":1,"peer":"pBENCH","session":"s1","seq":SEQ,"ts":1,"event":"report","channel":"main","period_s":30,"up_kbps":800,"down_kbps":900,"server_kbps":100,"bitrate_kbps":420,"play_s":30,"stall_s":0,"startup_ms":null,"buffer_s":12,"partners":9,"nat":"cone","player":"x","os":"y","rtt_ms":33}'
single=${RECORD/SEQ/1}
batch=$(for i in $(seq 1 100); do printf '%s\n' "${RECORD/SEQ/$i}"; done)
# The issue's CMCD v2 report, its clock now (the collector refuses a ts a day off).
NOW_MS=$(date +%s%3N)
CMCD='v=2,e=t,sid="6e2fb550-c457-11e9-bb97-0800200c9a66",cid="ch1",sta=p,br=(3200),bl=(21300),mtp=(25400),sn=SEQ,ts='$NOW_MS
cmcd_single=${CMCD/SEQ/1}
cmcd_batch=$(for i in $(seq 1 100); do printf '%s\n' "${CMCD/SEQ/$i}"; done)
lua() { # $1 = body file, $2 = content type
    cat > "$WORK/$(basename "$1").lua" <<LUA
local f = io.open("$1", "rb"); local body = f:read("*a"); f:close()
wrk.method = "POST"; wrk.body = body; wrk.headers["Content-Type"] = "$2"
LUA
    echo "$WORK/$(basename "$1").lua"
}
printf '%s' "$single" > "$WORK/single"
printf '%s' "$batch" > "$WORK/batch"
printf '%s\n' "$cmcd_single" > "$WORK/cmcd_single"
printf '%s' "$cmcd_batch" > "$WORK/cmcd_batch"
LUA_SINGLE=$(lua "$WORK/single" application/x-ndjson)
LUA_BATCH=$(lua "$WORK/batch" application/x-ndjson)
LUA_CMCD_SINGLE=$(lua "$WORK/cmcd_single" application/cmcd)
LUA_CMCD_BATCH=$(lua "$WORK/cmcd_batch" application/cmcd)

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

NPORT=$(free_port)
USER_LINE=""
[ "$(id -u)" -eq 0 ] && USER_LINE="user root;"
cat > "$WORK/nginx.conf" <<CONF
$USER_LINE
worker_processes 2;
pid $WORK/nginx.pid;
error_log $WORK/nginx-error.log error;
events { worker_connections 4096; }
http {
    access_log off;
    client_body_temp_path $WORK/body;
    client_max_body_size 1m;
    server { listen 127.0.0.1:$NPORT; location / { return 204; } }
}
CONF
"$NGINX" -e "$WORK/nginx-error.log" -p "$WORK" -c "$WORK/nginx.conf" </dev/null >/dev/null 2>&1
sleep 0.5

serve() { # $1 = fsync mode; prints the port
    local port; port=$(free_port)
    # Not holding our stdout: this runs inside $(...), which waits for it to close.
    "$BIN" serve --listen "127.0.0.1:$port" --log-dir "$WORK/logs-$1-$port" --fsync "$1" \
        </dev/null >/dev/null 2>"$WORK/serve-$1.log" &
    echo $! >> "$WORK/pids"
    for _ in $(seq 50); do curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.1; done
    echo "$port"
}

rate() { # $1 = url, $2 = lua; prints requests/s
    wrk -t2 -c"$CONNS" -d"${SECS}s" -s "$2" "$1" | awk '/Requests\/sec/ {print $2}'
}

# target name, fsync mode (none for nginx), body (single or batch)
TARGETS=(
    "nginx return 204|-|single"
    "nginx return 204|-|batch"
    "serve --fsync batch|batch|single"
    "serve --fsync batch|batch|batch"
    "serve --fsync none|none|single"
    "serve --fsync none|none|batch"
    "serve /v1/cmcd --fsync batch|batch|single"
    "serve /v1/cmcd --fsync batch|batch|batch"
)
RESULTS="$WORK/results"
for round in $(seq "$ROUNDS"); do
    for t in "${TARGETS[@]}"; do
        IFS='|' read -r name mode body <<<"$t"
        lua=$LUA_SINGLE
        [ "$body" = batch ] && lua=$LUA_BATCH
        path=/v1/feedback
        if [[ $name == *cmcd* ]]; then
            path=/v1/cmcd
            lua=$LUA_CMCD_SINGLE
            [ "$body" = batch ] && lua=$LUA_CMCD_BATCH
        fi
        if [ "$mode" = - ]; then
            port=$NPORT
        else
            # A fresh server and log directory for each measurement, as a server that
            # has run for minutes is also compressing the minutes it closed (at these
            # rates, hundreds of MB a minute), which is not what is measured here.
            port=$(serve "$mode")
        fi
        echo "$round|$name|$body|$(rate "http://127.0.0.1:$port$path" "$lua")" >> "$RESULTS"
        if [ "$mode" != - ]; then
            pid=$(tail -n 1 "$WORK/pids")
            kill "$pid"
            while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done
            rm -rf "$WORK"/logs-*
        fi
    done
    echo "round $round of $ROUNDS done" >&2
done

printf '%-34s %12s %14s %9s %13s\n' "target (median of $ROUNDS)" "requests/s" "records/s" "vs nginx" "round range"
awk -F'|' '
    function median(list,   n, v, i, j, t) {
        n = split(list, v, " ")
        for (i = 2; i <= n; i++) for (j = i; j > 1 && v[j-1] > v[j]; j--) { t = v[j]; v[j] = v[j-1]; v[j-1] = t }
        return n % 2 ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2
    }
    { key = $2 "|" $3; rps[key] = rps[key] " " $4; at[$1 "|" key] = $4
      if (!(key in seen)) { seen[key] = 1; order[++n] = key } ; if ($1 > rounds) rounds = $1 }
    END {
        for (i = 1; i <= n; i++) {
            key = order[i]; split(key, k, "|")
            base = "nginx return 204|" k[2]
            m = median(rps[key]); b = median(rps[base])
            lo = 1e9; hi = 0
            for (r = 1; r <= rounds; r++) {
                q = at[r "|" key] / at[r "|" base]
                if (q < lo) lo = q; if (q > hi) hi = q
            }
            per = k[2] == "batch" ? 100 : 1
            label = k[1] (k[2] == "batch" ? " (batch of 100)" : " (single)")
            printf "%-34s %12.0f %14.0f %9.2f %6.2f-%-6.2f\n", label, m, m * per, m / b, lo, hi
        }
        for (j = 1; j <= 2; j++) {
            body = j == 1 ? "single" : "batch"
            printf "CMCD vs feedback (%s, --fsync batch): %.2f\n", body,
                median(rps["serve /v1/cmcd --fsync batch|" body]) / median(rps["serve --fsync batch|" body])
        }
    }' "$RESULTS"
