#!/usr/bin/env bash
# CPU that `watch` spends per second of wall time (issue 18.8), whole-process:
#   1. idle: two feedback servers hold 10 minutes of records, then nothing arrives;
#   2. busy: the simulator sends RATE records/s to them.
# `watch` runs in tmux at 160×48 on the Overview; its CPU time (user + system, from
# /proc) is read over SECS seconds of each phase and printed as a share of one core.
#
#   benches/watch_cpu.sh [SECS] [RATE] [BASE_BINARY]
#
# With BASE_BINARY (an older build), both run, one after the other, and the ratios
# are printed. Goals: under 2 % idle, under 10 % at 1,000 records/s.
set -euo pipefail
cd "$(dirname "$0")/.."
SECS=${1:-20}
RATE=${2:-1000}
command -v tmux >/dev/null || { echo "needs tmux" >&2; exit 2; }
BASE=${3:-}
cargo build --release --quiet
BIN=$PWD/target/release/peerscope
TMP=$(mktemp -d)
SOCKET=peerscope-watch-cpu-$$
PIDS=()
cleanup() {
    # Background subshells (the senders) inherit the trap: only the script cleans up.
    [ "$BASHPID" = "$$" ] || return 0
    tmux -L "$SOCKET" kill-server 2>/dev/null || true
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$TMP"
}
trap cleanup EXIT

start_serve() { # name: starts a server logging under $TMP/name
    "$BIN" serve --listen 127.0.0.1:0 --log-dir "$TMP/$1" --name "$1" 2> "$TMP/$1.log" &
    PIDS+=($!)
}
address_of() { # name → its address, once it listens
    for _ in $(seq 100); do
        addr=$(grep -o 'listening on [0-9.:]*' "$TMP/$1.log" | cut -d' ' -f3 || true)
        [ -n "$addr" ] && { echo "$addr"; return; }
        sleep 0.1
    done
    echo "serve $1 did not start" >&2
    return 1
}
run_one() { # the watch binary → IDLE and BUSY, its shares of a core (the servers
    # and the simulator are this build's either way)
    WATCH=$1
    rm -rf "$TMP"/fs1 "$TMP"/fs2 "$TMP"/*.log
    PIDS=()
    start_serve fs1
    start_serve fs2
    A=$(address_of fs1)
    B=$(address_of fs2)

    send() { # seconds rate target
        timeout "$1" "$BIN" simulate --target "http://$3" --rate "$2" --seed "$RANDOM" \
            > /dev/null 2>&1 || true
    }
    # Records for the views to draw: 20 s of the event at 6,000 records/s.
    send 20 3000 "$A" & S1=$!
    send 20 3000 "$B" & S2=$!
    wait "$S1" "$S2"

    tmux -L "$SOCKET" new-session -d -x 160 -y 48 \
        "exec $WATCH watch --server http://$A --server http://$B --backfill-min 30"
    PID=$(tmux -L "$SOCKET" list-panes -F '#{pane_pid}')
    sleep 8 # the backlog read, the first frames

    cpu_ticks() { awk '{print $14 + $15}' "/proc/$PID/stat"; }
    measure() { # → the share of a core over SECS seconds
        local t0 w0 t1 w1
        t0=$(cpu_ticks); w0=$(date +%s.%N)
        sleep "$SECS"
        t1=$(cpu_ticks); w1=$(date +%s.%N)
        awk -v t="$((t1 - t0))" -v hz="$(getconf CLK_TCK)" -v w0="$w0" -v w1="$w1" \
            'BEGIN { printf "%.2f", 100 * t / hz / (w1 - w0) }'
    }
    idle=$(measure)
    half=$((RATE / 2))
    send $((SECS + 6)) "$half" "$A" & S1=$!
    send $((SECS + 6)) "$half" "$B" & S2=$!
    sleep 3
    busy=$(measure)
    wait "$S1" "$S2"
    tmux -L "$SOCKET" kill-server 2>/dev/null || true
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    IDLE=$idle
    BUSY=$busy
}

unset PEERSCOPE_TOKEN
run_one "$BIN"
printf "this  idle %6.2f %% of a core   busy (%d records/s) %6.2f %%\n" "$IDLE" "$RATE" "$BUSY"
if [ -n "$BASE" ]; then
    THIS_IDLE=$IDLE THIS_BUSY=$BUSY
    run_one "$BASE"
    printf "base  idle %6.2f %% of a core   busy (%d records/s) %6.2f %%\n" "$IDLE" "$RATE" "$BUSY"
    awk -v a="$IDLE" -v b="$THIS_IDLE" -v c="$BUSY" -v d="$THIS_BUSY" \
        'BEGIN { printf "base / this: idle %.0f×, busy %.1f×\n", a / b, c / d }'
fi
