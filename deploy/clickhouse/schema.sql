-- peerscope's ClickHouse schema: the raw table `ship` writes and the cubes that
-- materialized views keep from it. `peerscope ship --init` runs this file, after putting
-- the database's name for {db} and the distinct-count function (uniqCombined, or
-- uniqExact with --distinct exact) for {distinct}. Every statement is idempotent.
--
-- Only SQL that ClickHouse 18.16 (Debian 12) and later releases all accept: MergeTree
-- and AggregatingMergeTree with PARTITION BY / ORDER BY, materialized views TO a table,
-- -State/-Merge combinators, sumMap, uniqCombined/uniqExact. No TTL (19.6+): the raw
-- table and the cubes are partitioned by day, so that old days can be dropped with
-- ALTER TABLE ... DROP PARTITION: `ship --keep-days N` does so for `raw` and `cube_10s`
-- (README, "Scale").

CREATE DATABASE IF NOT EXISTS {db};

-- One row per fact a shipper derived from the feedback logs, by `kind`:
--   0  an accepted record: its cell, its sums as a 10 s bucket's would hold them, and
--      whether it brought its session's startup delay (first one only);
--   1  a change of +1 or -1 online peers in a cell, counting from the end of `bucket`;
--   2  the end of one day's part of a batch: `cursor` says where the shipper's sources
--      stand after the batch, `reason` where they stood before it, `lines` how many
--      days' parts the batch has (the shipper's last cursor is read here: ORDER BY puts
--      these rows together);
--   3  `lines` lines skipped for `reason`.
--
-- A batch is one INSERT, but ClickHouse stores it as one part per partition (day), and
-- a server that stops in the middle of the INSERT may keep some days' parts and not
-- others. So a batch's rows of each day end with a cursor row of their own, in the
-- same part: `raw` holds a day's part of a batch whole or not at all, and says which.
--
-- ClickHouse fills each materialized view's table after `raw`, one table at a time: a
-- server that stops in the middle of an INSERT can leave some tables without the batch.
-- So every table that sums (the cubes, `skipped`) keeps, in the same part as each day's
-- rows of a batch, a marker row: that day, bucket 1970-01-01 00:00:00, `isp` (or
-- `reason`) the shipper's name after a NUL byte, `shipped` the batch number. A shipper
-- that cannot tell whether its INSERT went through reads which days' cursor rows `raw`
-- holds, sends the days it lacks again, then reads each table's marker of each day and
-- fills in what a table lacks from `raw` with that table's own SELECT (`{batch}` below
-- narrows it to one day of one batch). The other tables keep min, max or distinct
-- states: filling them twice changes nothing. (Schemas made before 2026-12 kept every
-- marker on day 1970-01-01; `ship --init` makes the views again.)
CREATE TABLE IF NOT EXISTS {db}.raw (
    kind UInt8,
    shipper String,
    batch UInt64,
    day Date,
    bucket DateTime,
    recv_ms Int64,
    peer String,
    session String,
    ip String,
    isp String,
    channel String,
    district String,
    area String,
    event UInt8,
    reports UInt8,
    period_s Float64,
    down Float64,
    p2p_period_s Float64,
    up Float64,
    server Float64,
    p2p_down Float64,
    play_s Float64,
    stall_s Float64,
    mos_sum Float64,
    mos_n UInt8,
    startup_bins Array(UInt32),
    startup_counts Array(UInt64),
    qoe_bins Array(UInt8),
    qoe_counts Array(UInt64),
    leave_ms Int64,
    online Int8,
    cursor String,
    reason String,
    lines UInt64
) ENGINE = MergeTree PARTITION BY toYYYYMMDD(day) ORDER BY (kind, shipper, batch);

-- The cubes: one row per (bucket, day, isp, channel, district, area) cell, at 10 s,
-- 1 min and 1 h. The same columns at every resolution.
CREATE TABLE IF NOT EXISTS {db}.cube_10s (
    day Date,
    bucket DateTime,
    isp String,
    channel String,
    district String,
    area String,
    records AggregateFunction(sum, UInt64),
    reports AggregateFunction(sum, UInt64),
    period_s AggregateFunction(sum, Float64),
    down AggregateFunction(sum, Float64),
    p2p_period_s AggregateFunction(sum, Float64),
    up AggregateFunction(sum, Float64),
    server AggregateFunction(sum, Float64),
    p2p_down AggregateFunction(sum, Float64),
    play_s AggregateFunction(sum, Float64),
    stall_s AggregateFunction(sum, Float64),
    mos_sum AggregateFunction(sum, Float64),
    mos_n AggregateFunction(sum, UInt64),
    online AggregateFunction(sum, Int64),
    startup AggregateFunction(sumMap, Array(UInt32), Array(UInt64)),
    qoe AggregateFunction(sumMap, Array(UInt8), Array(UInt64)),
    peers AggregateFunction({distinct}, String),
    ips AggregateFunction({distinct}, String),
    shipped AggregateFunction(max, UInt64)
) ENGINE = AggregatingMergeTree PARTITION BY toYYYYMMDD(day)
  ORDER BY (bucket, isp, channel, district, area, day);

CREATE TABLE IF NOT EXISTS {db}.cube_1m AS {db}.cube_10s;
CREATE TABLE IF NOT EXISTS {db}.cube_1h AS {db}.cube_10s;

-- The narrow cube (vertical compaction): per minute, ISP and channel only, district and
-- area left empty. What needs no district or area reads 30 to 40 times fewer rows here.
CREATE TABLE IF NOT EXISTS {db}.overview_1m AS {db}.cube_10s;

-- One view per cube, made from this one statement for each row of `CUBES` in
-- src/clickhouse/schema.rs: {cube} its table, {bucket} the bucket's start (`bucket`,
-- toStartOfMinute(bucket), toStartOfHour(bucket)), {district} and {area} the columns
-- or '' (the narrow cube).
CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.{cube}_mv TO {db}.{cube} AS
SELECT day,
    if(kind = 2, toDateTime(0), {bucket}) AS bucket,
    if(kind = 2, concat('\0', shipper), isp) AS isp, channel,
    {district} AS district, {area} AS area,
    sumState(toUInt64(kind = 0)) AS records,
    sumState(toUInt64(reports)) AS reports,
    sumState(period_s) AS period_s,
    sumState(down) AS down,
    sumState(p2p_period_s) AS p2p_period_s,
    sumState(up) AS up,
    sumState(server) AS server,
    sumState(p2p_down) AS p2p_down,
    sumState(play_s) AS play_s,
    sumState(stall_s) AS stall_s,
    sumState(mos_sum) AS mos_sum,
    sumState(toUInt64(mos_n)) AS mos_n,
    sumState(toInt64(online)) AS online,
    sumMapState(startup_bins, startup_counts) AS startup,
    sumMapState(qoe_bins, qoe_counts) AS qoe,
    {distinct}StateIf(peer, kind = 0) AS peers,
    {distinct}StateIf(ip, kind = 0) AS ips,
    maxState(if(kind = 2, batch, 0)) AS shipped
FROM {db}.raw WHERE kind IN (0, 1, 2){batch}
GROUP BY day, bucket, isp, channel, district, area;

-- Each peer's first record per cell: "new peers" under any filter is the number of
-- peers whose earliest first record among the filter's cells falls in the interval.
-- min() is idempotent, so this table is exact whatever the cubes' history.
CREATE TABLE IF NOT EXISTS {db}.peer_first (
    peer String,
    isp String,
    channel String,
    district String,
    area String,
    first_ms AggregateFunction(min, Int64)
) ENGINE = AggregatingMergeTree ORDER BY (peer, isp, channel, district, area);

CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.peer_first_mv TO {db}.peer_first AS
SELECT peer, isp, channel, district, area, minState(recv_ms) AS first_ms
FROM {db}.raw WHERE kind = 0{batch}
GROUP BY peer, isp, channel, district, area;

-- Each view (DESIGN §5 "online time") per cell: its first record, its last, and its
-- first leave; a view's length runs to its leave, or to its last record without one.
CREATE TABLE IF NOT EXISTS {db}.views (
    session String,
    peer String,
    isp String,
    channel String,
    district String,
    area String,
    start_ms AggregateFunction(min, Int64),
    last_ms AggregateFunction(max, Int64),
    leave_ms AggregateFunction(min, Int64)
) ENGINE = AggregatingMergeTree ORDER BY (session, peer, isp, channel, district, area);

CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.views_mv TO {db}.views AS
SELECT session, peer, isp, channel, district, area,
    minState(recv_ms) AS start_ms, maxState(recv_ms) AS last_ms, minState(leave_ms) AS leave_ms
FROM {db}.raw WHERE kind = 0{batch}
GROUP BY session, peer, isp, channel, district, area;

-- Lines the shippers skipped, by day and reason, with the batch marker.
CREATE TABLE IF NOT EXISTS {db}.skipped (
    day Date,
    reason String,
    lines AggregateFunction(sum, UInt64),
    shipped AggregateFunction(max, UInt64)
) ENGINE = AggregatingMergeTree ORDER BY (day, reason);

CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.skipped_mv TO {db}.skipped AS
SELECT day,
    if(kind = 2, concat('\0', shipper), reason) AS reason,
    sumState(lines) AS lines,
    maxState(if(kind = 2, batch, 0)) AS shipped
FROM {db}.raw WHERE kind IN (2, 3){batch}
GROUP BY day, reason;
