-- The query side of a sharded deployment: database {db}_all holds one Distributed table
-- per table of schema.sql, over the tables of database {db} on every shard of the
-- cluster {cluster} (defined in each server's <remote_servers>). Shippers write to
-- their shard's {db}; readers query {db}_all on any node that has it, and find the same
-- tables under the same names. `peerscope ship --init --distributed CLUSTER` runs this
-- file after schema.sql (the local tables must exist where it runs).

CREATE DATABASE IF NOT EXISTS {db}_all;

-- Made for each table of schema.sql ({table}: `TABLES` in src/clickhouse/schema.rs).
CREATE TABLE IF NOT EXISTS {db}_all.{table} AS {db}.{table}
    ENGINE = Distributed({cluster}, {db}, {table});
