#!/usr/bin/env bash
# Soak (RELIABILITY 12): simulate → nginx (deploy/nginx.conf) → two `peerscope serve`
# on 127.0.0.1 for MINUTES at RATE single-record requests/s. Every 30 s it prints, per
# server, resident memory, open file descriptors, log size, records accepted, the mean
# commit group (records per fdatasync) and the mean fdatasync time over the interval;
# at the end, simulate's own latency percentiles and first-versus-last ratios.
#
#   benches/soak.sh [MINUTES] [RATE]
#
# Needs nginx. Not part of CI (it takes half an hour); the README reports a run.
set -euo pipefail
cd "$(dirname "$0")/.."
MINUTES=${1:-30}
RATE=${2:-10000}
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
cargo build --release --quiet
BIN=$PWD/target/release/peerscope
WORK=$(mktemp -d)
cleanup() {
    [ -f "$WORK/nginx.pid" ] && kill "$(cat "$WORK/nginx.pid")" 2>/dev/null || true
    [ -f "$WORK/pids" ] && xargs -a "$WORK/pids" kill 2>/dev/null || true
    sleep 1
    rm -rf "$WORK"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

PORTS=()
SERVE_PIDS=()
for name in fs1 fs2; do
    port=$(free_port)
    "$BIN" serve --listen "127.0.0.1:$port" --log-dir "$WORK/$name" --name "$name" \
        --trusted-proxy 127.0.0.1 </dev/null >/dev/null 2>"$WORK/$name.log" &
    echo $! >> "$WORK/pids"
    SERVE_PIDS+=("$!")
    PORTS+=("$port")
done
NPORT=$(free_port)
USER_LINE=""
[ "$(id -u)" -eq 0 ] && USER_LINE="user root;"
{
    echo "$USER_LINE"
    sed -e "s/127.0.0.1:8041/127.0.0.1:${PORTS[0]}/" \
        -e "s/127.0.0.1:8042/127.0.0.1:${PORTS[1]}/" \
        -e "s/127.0.0.1:8080/127.0.0.1:$NPORT/" \
        -e "s|/run/peerscope-nginx.pid|$WORK/nginx.pid|" \
        -e "s|^http {|http {\n    client_body_temp_path $WORK/body; proxy_temp_path $WORK/proxy;|" \
        deploy/nginx.conf
} > "$WORK/nginx.conf"
"$NGINX" -e "$WORK/nginx-error.log" -p "$WORK" -c "$WORK/nginx.conf" </dev/null >/dev/null 2>&1
for port in "${PORTS[@]}" "$NPORT"; do
    for _ in $(seq 50); do curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.1; done
done

# The event averages about 437,000 records an hour at full scale: take enough of it
# to keep RATE busy for MINUTES, from the start of the busiest day.
TO=$(python3 -c "import datetime as d; print((d.datetime(2012,8,7) + d.timedelta(hours=$MINUTES * 60 * $RATE / 437000 + 1)).strftime('%Y-%m-%d %H:%M'))")
"$BIN" simulate --target "http://127.0.0.1:$NPORT" --scale 1 --rate "$RATE" --batch 1 \
    --concurrency 64 --from "2012-08-07 00:00" --to "$TO" \
    </dev/null >/dev/null 2>"$WORK/simulate.log" &
SIM=$!
echo "$SIM" >> "$WORK/pids"

metric() { # $1 = port, $2 = metric line prefix
    curl -sf "http://127.0.0.1:$1/metrics" | awk -v p="$2" 'index($0, p) == 1 {print $NF; exit}'
}
declare -a last_fsyncs last_records last_micros first_rss first_fds last_rss last_fds
printf '%6s %4s %9s %5s %10s %11s %8s %9s\n' min srv rss_kB fds log_MB accepted group fsync_us
end=$(( $(date +%s) + MINUTES * 60 ))
tick=0
while [ "$(date +%s)" -lt "$((end + 600))" ] && kill -0 "$SIM" 2>/dev/null; do
    sleep 30
    tick=$((tick + 1))
    for i in 0 1; do
        pid=${SERVE_PIDS[$i]}
        port=${PORTS[$i]}
        rss=$(awk '/VmRSS/ {print $2}' "/proc/$pid/status")
        fds=$(ls "/proc/$pid/fd" | wc -l)
        mb=$(du -sm "$WORK/fs$((i + 1))" | cut -f1)
        records=$(metric "$port" 'peerscope_records_accepted_total{stream="feedback"}')
        fsyncs=$(metric "$port" 'peerscope_fsyncs_total{stream="feedback"}')
        micros=$(metric "$port" 'peerscope_fsync_microseconds_total{stream="feedback"}')
        d_rec=$((records - ${last_records[$i]:-0}))
        d_fs=$((fsyncs - ${last_fsyncs[$i]:-0}))
        d_us=$((micros - ${last_micros[$i]:-0}))
        group=$(awk -v r="$d_rec" -v f="$d_fs" 'BEGIN {printf "%.1f", f ? r / f : 0}')
        mean_us=$(awk -v u="$d_us" -v f="$d_fs" 'BEGIN {printf "%.0f", f ? u / f : 0}')
        last_records[$i]=$records; last_fsyncs[$i]=$fsyncs; last_micros[$i]=$micros
        [ -n "${first_rss[$i]:-}" ] || { first_rss[$i]=$rss; first_fds[$i]=$fds; }
        printf '%6.1f %4s %9s %5s %10s %11s %8s %9s\n' "$(awk -v t="$tick" 'BEGIN {print t / 2}')" "fs$((i + 1))" \
            "$rss" "$fds" "$mb" "$records" "$group" "$mean_us"
        last_rss[$i]=$rss; last_fds[$i]=$fds
    done
done
# Past MINUTES the load is cut off (its summary is then missing); normally it ends itself.
kill "$SIM" 2>/dev/null || true
wait "$SIM" 2>/dev/null || true
echo "== simulate"
tail -5 "$WORK/simulate.log"
for i in 0 1; do
    awk -v a="${first_rss[$i]}" -v b="${last_rss[$i]}" -v c="${first_fds[$i]}" -v d="${last_fds[$i]}" \
        -v s="fs$((i + 1))" 'BEGIN {printf "%s: RSS last/first %.2f, fds last/first %.2f\n", s, b / a, d / c}'
done
