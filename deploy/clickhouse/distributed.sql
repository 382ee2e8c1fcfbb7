-- The query side of a sharded deployment: database {db}_all holds one Distributed table
-- per table of schema.sql, over the tables of database {db} on every shard of the
-- cluster {cluster} (defined in each server's <remote_servers>). Shippers write to
-- their shard's {db}; readers query {db}_all on any node that has it, and find the same
-- tables under the same names. `peerscope ship --init --distributed CLUSTER` runs this
-- file after schema.sql (the local tables must exist where it runs).

CREATE DATABASE IF NOT EXISTS {db}_all;

CREATE TABLE IF NOT EXISTS {db}_all.raw AS {db}.raw
    ENGINE = Distributed({cluster}, {db}, raw);
CREATE TABLE IF NOT EXISTS {db}_all.cube_10s AS {db}.cube_10s
    ENGINE = Distributed({cluster}, {db}, cube_10s);
CREATE TABLE IF NOT EXISTS {db}_all.cube_1m AS {db}.cube_1m
    ENGINE = Distributed({cluster}, {db}, cube_1m);
CREATE TABLE IF NOT EXISTS {db}_all.cube_1h AS {db}.cube_1h
    ENGINE = Distributed({cluster}, {db}, cube_1h);
CREATE TABLE IF NOT EXISTS {db}_all.overview_1m AS {db}.overview_1m
    ENGINE = Distributed({cluster}, {db}, overview_1m);
CREATE TABLE IF NOT EXISTS {db}_all.peer_first AS {db}.peer_first
    ENGINE = Distributed({cluster}, {db}, peer_first);
CREATE TABLE IF NOT EXISTS {db}_all.views AS {db}.views
    ENGINE = Distributed({cluster}, {db}, views);
CREATE TABLE IF NOT EXISTS {db}_all.skipped AS {db}.skipped
    ENGINE = Distributed({cluster}, {db}, skipped);
