//! Reads a recording, or the part of it a day needs, through the engine under one
//! filter: the shared first step of every `report` table.

use std::collections::BTreeSet;

use crate::engine::aggregate::Aggregator;
use crate::engine::aggregate::qoe::QoeParams;
use crate::engine::calendar::{Calendar, Day, MINUTE_MS};
use crate::engine::geography::location::IpGeo;
use crate::engine::observe::catalog::Catalog;
use crate::engine::observe::observation::Observation;
use crate::engine::query::filter::Filter;
use crate::recording::pipeline::{progress_bar, read_in_order};
use crate::recording::scan::MinuteGroup;
use crate::recording::skipped::Skipped;

pub struct Analysis {
    pub catalog: Catalog,
    pub aggregate: Aggregator,
    /// Starts (ms) of the minutes holding at least one valid record, before filtering:
    /// the rows of `--by minute`.
    pub minutes: BTreeSet<i64>,
    pub skipped: Skipped,
    pub duplicates: u64,
    pub bytes: u64,
    /// Peers first seen before the minutes read: where "cumulative users" starts.
    pub seen_before: u64,
    /// When the minutes read end with a day: that day's views' summed length from the
    /// index, since the views still running then are cut short in `aggregate`.
    pub day_view_ms: Option<(Day, i64)>,
}

pub struct AnalysisOptions<'a> {
    pub geo: IpGeo,
    pub calendar: Calendar,
    pub qoe: QoeParams,
    pub filter: &'a Filter,
    pub threads: usize,
    pub progress: bool,
    /// When only part of a recording is read: the peers whose first record came before
    /// it, so that meeting them is not counted as new (unfiltered figures only; a
    /// filter's first matching record is not in the index).
    pub seen_before: &'a [(Box<str>, i64)],
}

pub fn analyse(groups: &[MinuteGroup], opts: AnalysisOptions<'_>) -> Analysis {
    analyse_with(groups, opts, |_| {})
}

/// [`analyse`], also showing `each` every observation that passed the filter.
pub fn analyse_with(
    groups: &[MinuteGroup],
    opts: AnalysisOptions<'_>,
    mut each: impl FnMut(&Observation),
) -> Analysis {
    let mut catalog = Catalog::new(opts.geo);
    let mut aggregate = Aggregator::new(opts.qoe, opts.calendar, MINUTE_MS);
    debug_assert!(opts.filter.is_empty() || opts.seen_before.is_empty());
    for (peer, _) in opts.seen_before {
        aggregate.know_peer(catalog.know_peer(peer));
    }
    let mut minutes = BTreeSet::new();
    let mut skipped = Skipped::default();
    let mut bytes = 0;
    let bar = opts.progress.then(|| progress_bar(groups.len(), "reading"));
    read_in_order(groups, opts.threads, |batch| {
        skipped.merge(&batch.skipped);
        bytes += batch.bytes;
        let mut last_minute = i64::MIN;
        for record in batch.records() {
            let minute = record.payload.recv.div_euclid(MINUTE_MS) * MINUTE_MS;
            if minute != last_minute {
                minutes.insert(minute);
                last_minute = minute;
            }
            let Some(obs) = catalog.observe(&record) else {
                continue;
            };
            if opts.filter.is_empty() || opts.filter.matches(&obs, &catalog) {
                aggregate.ingest(&obs);
                each(&obs);
            }
        }
        if let Some(bar) = &bar {
            bar.inc(1);
        }
        true
    });
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    aggregate.close();
    let duplicates = catalog.duplicates();
    Analysis {
        catalog,
        aggregate,
        minutes,
        skipped,
        duplicates,
        bytes,
        seen_before: opts.seen_before.len() as u64,
        day_view_ms: None,
    }
}
