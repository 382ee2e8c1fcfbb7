#!/usr/bin/env bash
# Whole-process cost of `peerscope ship --once` into ClickHouse, against ClickHouse's own
# client inserting the same rows in the same format (RowBinary) from a file into the
# same schema (its views included): the floor a shipper's INSERTs sit on.
#   - ship: reads the recording, derives every record's facts, inserts them in batches
#     (each run under a new --name, so each ships everything);
#   - client: `clickhouse-client --query "INSERT INTO … FORMAT RowBinary" < rows`, the
#     rows the first ship wrote, exported from its raw table.
# A ClickHouse server is started in a temporary directory on a free port and stopped at
# the end. Prints farm-bench's paired runs and, from them, rows per second and the ratio.
#
#   benches/compare_ship.sh [FROM] [TO] [RUNS]      (local times of the simulated event)
set -euo pipefail
cd "$(dirname "$0")/.."
FROM=${1:-"2012-08-07 20:00"}
TO=${2:-"2012-08-07 21:00"}
RUNS=${3:-5}

cargo build --release --quiet
BIN=$PWD/target/release/peerscope
WORK=$(mktemp -d)
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
HTTP=$(port); TCP=$(port)
mkdir -p "$WORK/ch"
cat > "$WORK/ch/config.xml" <<XML
<?xml version="1.0"?>
<yandex>
  <logger><level>warning</level><log>$WORK/ch/server.log</log><errorlog>$WORK/ch/error.log</errorlog></logger>
  <listen_host>127.0.0.1</listen_host>
  <http_port>$HTTP</http_port>
  <tcp_port>$TCP</tcp_port>
  <path>$WORK/ch/data/</path>
  <tmp_path>$WORK/ch/tmp/</tmp_path>
  <user_files_path>$WORK/ch/user_files/</user_files_path>
  <format_schema_path>$WORK/ch/format_schemas/</format_schema_path>
  <users_config>$WORK/ch/users.xml</users_config>
  <default_profile>default</default_profile>
  <default_database>default</default_database>
  <mark_cache_size>268435456</mark_cache_size>
</yandex>
XML
cat > "$WORK/ch/users.xml" <<XML
<?xml version="1.0"?>
<yandex>
  <profiles><default></default></profiles>
  <users><default><password></password><networks><ip>127.0.0.1</ip></networks><profile>default</profile><quota>default</quota></default></users>
  <quotas><default></default></quotas>
</yandex>
XML
/usr/sbin/clickhouse-server --config-file="$WORK/ch/config.xml" >/dev/null 2>&1 &
SERVER=$!
trap 'kill $SERVER 2>/dev/null; wait $SERVER 2>/dev/null; rm -rf "$WORK"' EXIT
until curl -sf "http://127.0.0.1:$HTTP/ping" >/dev/null; do sleep 0.2; done
CH=http://127.0.0.1:$HTTP

"$BIN" simulate --out "$WORK/rec" --from "$FROM" --to "$TO" --no-probes 2>/dev/null
"$BIN" ship --clickhouse "$CH" --database bench --init --dir "$WORK/rec" --once --name first 2>&1 | tail -1
"$BIN" ship --clickhouse "$CH" --database floor --init 2>/dev/null
curl -sf "$CH/" --data-binary "SELECT * FROM bench.raw WHERE shipper = 'first' FORMAT RowBinary" > "$WORK/rows.bin"
ROWS=$(curl -sf "$CH/" --data-binary "SELECT count() FROM bench.raw WHERE shipper = 'first'")
echo "rows per run: $ROWS ($(du -m "$WORK/rows.bin" | cut -f1) MB RowBinary), ClickHouse $(curl -sf "$CH/" --data-binary 'SELECT version()')"

# Each ship run under its own name: a counter in a file, since farm-bench runs the
# command itself.
echo 0 > "$WORK/n"
cat > "$WORK/ship.sh" <<SH
#!/bin/sh
n=\$((\$(cat "$WORK/n") + 1)); echo \$n > "$WORK/n"
exec "$BIN" ship --clickhouse "$CH" --database bench --dir "$WORK/rec" --once --name "run-\$n" 2>/dev/null
SH
chmod +x "$WORK/ship.sh"
OUT=$WORK/bench.txt
farm-bench -n "$RUNS" --timeout 1800 --vs "sh -c 'exec clickhouse-client --port $TCP --query \"INSERT INTO floor.raw FORMAT RowBinary\" < $WORK/rows.bin'" -- "$WORK/ship.sh" | tee "$OUT"
python3 - "$OUT" "$ROWS" <<'PY'
import re, sys
text = open(sys.argv[1]).read()
rows = int(sys.argv[2])
median = lambda who: float(re.search(who + r" wall s\s+[\d.]+\s+([\d.]+)", text).group(1))
a, b = median("A"), median("B")
if a and b:
    print(f"ship   {rows / a / 1e3:8.0f} k rows/s (median {a:.2f} s)")
    print(f"client {rows / b / 1e3:8.0f} k rows/s (median {b:.2f} s)")
    print(f"ship / client rate: {b / a:.2f}")
PY
