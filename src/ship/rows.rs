//! The rows of the `raw` table (deploy/clickhouse/schema.sql), encoded in RowBinary:
//! the facts of [`crate::engine::cube`] with their names, a batch's cursor, and its
//! skipped lines. A batch's rows are kept apart by day, each day's part ending with a
//! cursor row of its own: ClickHouse stores each day (partition) as a part of its own,
//! and a server that stops mid-INSERT may keep some days' parts and not others.

use std::collections::BTreeMap;

use crate::clickhouse::row_binary::RowBinary;
use crate::engine::calendar::Day;
use crate::engine::cube::{Cell, Fact, qoe_bin, startup_bin};
use crate::engine::geography::areas::Areas;
use crate::engine::observe::catalog::Catalog;
use crate::engine::record::Event;

/// The columns of `raw`, in the order every row below writes them.
pub const RAW_COLUMNS: [&str; 34] = [
    "kind",
    "shipper",
    "batch",
    "day",
    "bucket",
    "recv_ms",
    "peer",
    "session",
    "ip",
    "isp",
    "channel",
    "district",
    "area",
    "event",
    "reports",
    "period_s",
    "down",
    "p2p_period_s",
    "up",
    "server",
    "p2p_down",
    "play_s",
    "stall_s",
    "mos_sum",
    "mos_n",
    "startup_bins",
    "startup_counts",
    "qoe_bins",
    "qoe_counts",
    "leave_ms",
    "online",
    "cursor",
    "reason",
    "lines",
];

const RECORD: u8 = 0;
const ONLINE: u8 = 1;
const CURSOR: u8 = 2;
const SKIPPED: u8 = 3;

/// `leave_ms` of a record that is not a leave: after every leave.
const NO_LEAVE: i64 = i64::MAX;

/// One batch of rows for one INSERT.
pub struct Rows<'a> {
    /// Each day's rows, but those of `day`.
    parts: BTreeMap<Day, RowBinary>,
    /// The day of the row being written, and its rows (kept out of the map, so that a
    /// row's many writes cost no lookup: a batch's rows are nearly all of one day).
    day: Day,
    current: RowBinary,
    shipper: &'a str,
    batch: u64,
    pub count: usize,
    /// Lines counted as skipped in this batch.
    pub skipped: u64,
}

impl<'a> Rows<'a> {
    pub fn new(shipper: &'a str, batch: u64) -> Self {
        Rows {
            parts: BTreeMap::new(),
            day: 0,
            current: RowBinary::default(),
            shipper,
            batch,
            count: 0,
            skipped: 0,
        }
    }

    pub fn shipper(&self) -> &str {
        self.shipper
    }

    pub fn batch(&self) -> u64 {
        self.batch
    }

    /// The days the batch has rows of.
    pub fn days(&mut self) -> Vec<Day> {
        self.settle();
        self.parts.keys().copied().collect()
    }

    /// Each day's part of the batch: its rows, then its cursor row.
    pub fn into_parts(mut self) -> Vec<(Day, Vec<u8>)> {
        self.settle();
        self.parts.into_iter().map(|(d, o)| (d, o.bytes)).collect()
    }

    /// Puts the current day's rows with the others.
    fn settle(&mut self) {
        let current = std::mem::take(&mut self.current);
        if !current.bytes.is_empty() {
            self.parts.insert(self.day, current);
        }
    }

    /// Makes `day`'s rows the current ones.
    fn switch_to(&mut self, day: Day) {
        if day != self.day || self.current.bytes.is_empty() {
            self.settle();
            self.current = self.parts.remove(&day).unwrap_or_default();
            self.day = day;
        }
    }

    /// The part of the row being written.
    fn out(&mut self) -> &mut RowBinary {
        &mut self.current
    }

    fn head(&mut self, kind: u8, day: Day, bucket_ms: i64, recv_ms: i64) {
        self.count += 1;
        self.switch_to(day);
        let shipper = self.shipper;
        let batch = self.batch;
        let o = self.out();
        o.u8(kind);
        o.string(shipper);
        o.u64(batch);
        o.date(day);
        o.date_time(bucket_ms);
        o.i64(recv_ms);
    }

    fn cell(&mut self, cell: &Cell, catalog: &Catalog, areas: &Areas) {
        let o = self.out();
        o.string(catalog.geo.isp_name(cell.isp));
        o.string(catalog.channels.name(cell.channel));
        o.string(catalog.geo.district_name(cell.district));
        o.string(areas.name(cell.area));
    }

    /// Every column from `event` to `qoe_counts` left empty, then the tail columns.
    fn no_measures(&mut self) {
        let o = self.out();
        o.u8(0);
        o.u8(0);
        for _ in 0..9 {
            o.f64(0.0);
        }
        o.u8(0);
        o.u32_array(&[]);
        o.u64_array(&[]);
        o.u8_array(&[]);
        o.u64_array(&[]);
    }

    fn tail(&mut self, leave_ms: i64, online: i8, cursor: &str, reason: &str, lines: u64) {
        let o = self.out();
        o.i64(leave_ms);
        o.i8(online);
        o.string(cursor);
        o.string(reason);
        o.u64(lines);
    }

    pub fn fact(&mut self, fact: &Fact, catalog: &Catalog, areas: &Areas) {
        match fact {
            Fact::Record(record) => {
                let payload = &record.obs.payload;
                self.head(RECORD, record.day, record.bucket_ms, payload.recv);
                let o = self.out();
                o.string(catalog.peers.name(record.obs.peer));
                o.string(catalog.sessions.name(record.obs.session));
                o.string(catalog.ips.name(record.obs.ip));
                self.cell(&record.cell, catalog, areas);
                let sums = &record.sums;
                let o = self.out();
                o.u8(match payload.event {
                    Event::Join => 0,
                    Event::Report => 1,
                    Event::Leave => 2,
                });
                o.u8(u8::try_from(sums.reports).unwrap_or(1));
                for v in [
                    sums.period_s,
                    sums.down,
                    sums.p2p_period_s,
                    sums.up,
                    sums.server,
                    sums.p2p_down,
                    sums.play_s,
                    sums.stall_s,
                    sums.mos_sum,
                ] {
                    o.f64(v);
                }
                o.u8(u8::try_from(sums.mos_n).unwrap_or(1));
                // Histograms as one-bin maps, or empty ones.
                let startup: Vec<u32> = record.startup_ms.map(startup_bin).into_iter().collect();
                o.u32_array(&startup);
                o.u64_array(&vec![1; startup.len()]);
                let qoe: Vec<u8> = record.mos.map(qoe_bin).into_iter().collect();
                o.u8_array(&qoe);
                o.u64_array(&vec![1; qoe.len()]);
                let leave_ms = if payload.event == Event::Leave {
                    payload.recv
                } else {
                    NO_LEAVE
                };
                self.tail(leave_ms, 0, "", "", 0);
            }
            Fact::Online(c) => {
                self.head(ONLINE, c.day, c.bucket_ms, c.bucket_ms);
                let o = self.out();
                for _ in 0..3 {
                    o.string("");
                }
                self.cell(&c.cell, catalog, areas);
                self.no_measures();
                let delta = i8::try_from(c.delta).unwrap_or(0);
                self.tail(NO_LEAVE, delta, "", "", 0);
            }
        }
    }

    /// The rows that close the batch, one at the end of each day's part (on `day` when
    /// the batch is empty): where the shipper's sources stand after it (`cursor`) and
    /// stood before it (`before`), and of how many days' parts the batch is made
    /// (`parts`, when these rows are only some of them: a batch sent again in part).
    pub fn cursor(&mut self, day: Day, cursor: &str, before: &str, parts: Option<usize>) {
        let mut days = self.days();
        if days.is_empty() {
            days.push(day);
        }
        let parts = parts.unwrap_or(days.len()) as u64;
        for day in days {
            self.head(CURSOR, day, 0, 0);
            self.no_cell();
            self.no_measures();
            self.tail(NO_LEAVE, 0, cursor, before, parts);
        }
    }

    /// Lines skipped for `reason` in this batch.
    pub fn skipped(&mut self, day: Day, reason: &str, lines: u64) {
        self.skipped += lines;
        self.head(SKIPPED, day, 0, 0);
        self.no_cell();
        self.no_measures();
        self.tail(NO_LEAVE, 0, "", reason, lines);
    }

    fn no_cell(&mut self) {
        let o = self.out();
        for _ in 0..7 {
            o.string("");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clickhouse::schema::{Distinct, statements};

    /// The cursor row's last columns as RowBinary writes them: cursor, reason (the
    /// cursor before), lines (the batch's days).
    fn cursor_tail(cursor: &str, before: &str, parts: u64) -> Vec<u8> {
        let mut o = RowBinary::default();
        o.string(cursor);
        o.string(before);
        o.u64(parts);
        o.bytes
    }

    #[test]
    fn each_days_part_ends_with_a_cursor_row_of_its_own() {
        let mut rows = Rows::new("fs1", 7);
        rows.skipped(15_560, "bad_json", 2);
        rows.skipped(15_559, "bad_json", 1);
        rows.skipped(15_560, "too_long", 1);
        rows.cursor(0, "minute:5", "minute:4", None);
        assert_eq!(rows.count, 5, "three rows and two cursor rows");
        let parts = rows.into_parts();
        let days: Vec<Day> = parts.iter().map(|(d, _)| *d).collect();
        assert_eq!(days, [15_559, 15_560]);
        for (_, bytes) in &parts {
            assert!(bytes.ends_with(&cursor_tail("minute:5", "minute:4", 2)));
        }
        assert!(parts[1].1.len() > parts[0].1.len(), "two rows and a cursor");
    }

    #[test]
    fn an_empty_batch_is_a_cursor_row_on_the_given_day_and_a_part_sent_again_keeps_the_count() {
        let mut rows = Rows::new("fs1", 8);
        rows.cursor(15_561, "done", "minute:5", None);
        let parts = rows.into_parts();
        assert_eq!(parts.len(), 1);
        assert_eq!(parts[0].0, 15_561);
        assert!(parts[0].1.ends_with(&cursor_tail("done", "minute:5", 1)));
        let mut again = Rows::new("fs1", 8);
        again.skipped(15_559, "bad_json", 1);
        again.cursor(0, "done", "minute:5", Some(3));
        let parts = again.into_parts();
        assert_eq!(parts.len(), 1);
        assert!(parts[0].1.ends_with(&cursor_tail("done", "minute:5", 3)));
    }

    #[test]
    fn the_columns_are_the_raw_tables_in_its_order() {
        let s = statements("db", Distinct::Exact);
        let raw = s
            .iter()
            .find(|st| st.starts_with("CREATE TABLE IF NOT EXISTS db.raw "))
            .expect("the raw table");
        let body = &raw[raw.find('(').expect("(") + 1..raw.rfind(") ENGINE").expect("ENGINE")];
        let names: Vec<&str> = body
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .filter_map(|l| l.split_whitespace().next())
            .collect();
        assert_eq!(names, RAW_COLUMNS);
    }
}
