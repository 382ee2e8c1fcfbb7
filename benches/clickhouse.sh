# Sourced by the benchmarks that need ClickHouse: `start_clickhouse DIR` starts a
# clickhouse-server (Debian's) with its data in DIR on two free loopback ports, waits
# until it answers, and sets HTTP, TCP and CH (its HTTP URL); it is stopped, and
# $WORK removed, when the script exits.

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

start_clickhouse() {
    local dir=$1
    HTTP=$(free_port); TCP=$(free_port)
    mkdir -p "$dir"
    cat > "$dir/config.xml" <<XML
<?xml version="1.0"?>
<yandex>
  <logger><level>warning</level><log>$dir/server.log</log><errorlog>$dir/error.log</errorlog></logger>
  <listen_host>127.0.0.1</listen_host>
  <http_port>$HTTP</http_port>
  <tcp_port>$TCP</tcp_port>
  <path>$dir/data/</path>
  <tmp_path>$dir/tmp/</tmp_path>
  <user_files_path>$dir/user_files/</user_files_path>
  <format_schema_path>$dir/format_schemas/</format_schema_path>
  <users_config>$dir/users.xml</users_config>
  <default_profile>default</default_profile>
  <default_database>default</default_database>
  <mark_cache_size>268435456</mark_cache_size>
</yandex>
XML
    cat > "$dir/users.xml" <<XML
<?xml version="1.0"?>
<yandex>
  <profiles><default></default></profiles>
  <users><default><password></password><networks><ip>127.0.0.1</ip></networks><profile>default</profile><quota>default</quota></default></users>
  <quotas><default></default></quotas>
</yandex>
XML
    /usr/sbin/clickhouse-server --config-file="$dir/config.xml" >/dev/null 2>&1 &
    CLICKHOUSE_PID=$!
    trap 'kill $CLICKHOUSE_PID 2>/dev/null; wait $CLICKHOUSE_PID 2>/dev/null; rm -rf "$WORK"' EXIT
    until curl -sf "http://127.0.0.1:$HTTP/ping" >/dev/null; do sleep 0.2; done
    CH=http://127.0.0.1:$HTTP
}
