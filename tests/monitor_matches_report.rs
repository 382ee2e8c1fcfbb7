//! The live engine (`Monitor`) and `report` read the same recording the same way: the
//! per-minute timeline equals the report's minutes, whether records are fed whole or in
//! live-sized chunks with the clock advancing between them.

use std::path::Path;

use peerscope::engine::calendar::{Calendar, MINUTE_MS};
use peerscope::engine::filter::Filter;
use peerscope::engine::location::IpGeo;
use peerscope::engine::monitor::Monitor;
use peerscope::engine::qoe::QoeParams;
use peerscope::engine::snapshot::{Metric, Query, Snapshot};
use peerscope::recording::batch::FeedbackBatch;
use peerscope::recording::scan::Recording;
use peerscope::report::analysis::{AnalysisOptions, analyse};
use peerscope::report::table::{Cell, Table};
use peerscope::report::tables::by_minute;

fn sample() -> &'static Path {
    Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/recordings/olympics-2012-sample"
    ))
}

fn geo() -> IpGeo {
    IpGeo::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("maps/ip-geo.csv")).expect("ip table")
}

fn report(filter: &Filter) -> Table {
    let rec = Recording::scan(sample()).expect("scan");
    let a = analyse(
        &rec,
        AnalysisOptions {
            geo: geo(),
            calendar: Calendar::new(chrono_tz::Asia::Hong_Kong),
            qoe: QoeParams::default(),
            filter,
            threads: 2,
            progress: false,
        },
    );
    by_minute(&a, None)
}

/// Feeds the sample minute by minute, advancing the clock to each minute's end when
/// `chunked`, else only once at the end.
fn monitor(chunked: bool) -> (Monitor, i64, i64) {
    let rec = Recording::scan(sample()).expect("scan");
    let mut m = Monitor::new(geo(), QoeParams::default());
    let first = rec.feedback.first().expect("minutes").start_ms;
    let mut last = first;
    for group in &rec.feedback {
        let batch = FeedbackBatch::read(group);
        for r in batch.records() {
            m.ingest(&r);
        }
        last = group.start_ms + MINUTE_MS;
        if chunked {
            m.advance(last);
        }
    }
    m.advance(last);
    (m, first, last)
}

fn timeline(m: &Monitor, first: i64, last: i64, filter: Filter) -> Snapshot {
    let mut q = Query::at(last, MINUTE_MS);
    q.filter = filter;
    q.timeline_range_ms = last - first;
    q.timeline_step_ms = MINUTE_MS;
    q.histogram = Some(Metric::Qoe);
    m.snapshot(&q)
}

fn num(c: &Cell) -> Option<f64> {
    match c {
        Cell::Num(v, _) => *v,
        #[allow(clippy::cast_precision_loss)]
        Cell::Int(n) => Some(*n as f64),
        Cell::Text(_) => None,
    }
}

fn close(a: Option<f64>, b: Option<f64>) -> bool {
    match (a, b) {
        (None, None) => true,
        (Some(x), Some(y)) => (x - y).abs() <= 1e-9 * x.abs().max(1.0),
        _ => false,
    }
}

#[test]
fn unfiltered_timeline_equals_the_report_whole_or_chunked() {
    let table = report(&Filter::default());
    for chunked in [false, true] {
        let (m, first, last) = monitor(chunked);
        let snap = timeline(&m, first, last, Filter::default());
        assert_eq!(snap.timeline.len(), table.rows.len());
        for (p, row) in snap.timeline.iter().zip(&table.rows) {
            #[allow(clippy::cast_precision_loss)]
            let online = p.online as f64;
            assert_eq!(Some(online), num(&row[1]), "online at {} ({row:?})", p.at);
            assert_eq!(Some(f64::from(p.figures.new_peers)), num(&row[2]));
            assert!(close(p.figures.up_kbps, num(&row[3])), "up at {}", p.at);
            assert!(close(p.figures.contribution, num(&row[5])));
            assert!(close(p.figures.continuity, num(&row[6])));
            assert!(close(p.figures.qoe, num(&row[7])), "qoe at {}", p.at);
            #[allow(clippy::cast_precision_loss)]
            let p50 = p.figures.startup_p50_ms.map(|v| v as f64);
            assert_eq!(p50, num(&row[8]));
        }
        // The history was compacted: 10-s buckets only for the last hour.
        assert!(
            m.history_slots() < 3 * 60 + 6 * 60,
            "{} slots",
            m.history_slots()
        );
    }
}

#[test]
fn a_filter_sums_exactly_the_filtered_stream() {
    let filter = Filter::parse("isp=PCCW,channel=main").expect("filter");
    let table = report(&filter);
    let (m, first, last) = monitor(true);
    let snap = timeline(&m, first, last, filter.clone());
    assert_eq!(snap.filter, filter);
    for (p, row) in snap.timeline.iter().zip(&table.rows) {
        assert!(close(p.figures.up_kbps, num(&row[3])), "up at {}", p.at);
        assert!(close(p.figures.qoe, num(&row[7])), "qoe at {}", p.at);
        #[allow(clippy::cast_precision_loss)]
        let online = p.online as f64;
        assert_eq!(Some(online), num(&row[1]), "online at {}", p.at);
    }
}

#[test]
fn breakdowns_counts_and_histogram_are_consistent() {
    let (m, first, last) = monitor(true);
    let snap = timeline(&m, first, last, Filter::default());
    let online = snap.current.online;
    assert!(online > 0);
    let sum = |v: &[(String, i64)]| v.iter().map(|(_, n)| n).sum::<i64>();
    // A peer that changed channel less than 2 × period ago is online in both cells, so
    // per-cell counts may exceed the exact total by those few peers, never fall short.
    for total in [
        sum(&snap.isp_counts),
        sum(&snap.district_counts),
        sum(&snap.channel_counts),
    ] {
        assert!(
            (online..=online + online / 50).contains(&total),
            "{total} vs {online}"
        );
    }
    assert_eq!(
        snap.by_isp.iter().map(|b| b.point.online).sum::<i64>(),
        sum(&snap.isp_counts)
    );
    for (district, n) in &snap.district_counts {
        if *n > 0 {
            assert!(
                snap.by_district.iter().any(|b| &b.name == district),
                "{district} missing"
            );
        }
    }
    let pccw = snap
        .isp_counts
        .iter()
        .find(|(n, _)| n == "PCCW")
        .map_or(0, |(_, n)| *n);
    #[allow(clippy::cast_precision_loss)]
    let share = pccw as f64 / online as f64;
    assert!((0.2..0.45).contains(&share), "PCCW share {share}");
    let h = &snap.histogram;
    assert!(h.peers > 0);
    let total: f64 = h.bins.iter().map(|b| b.2).sum();
    assert!((total - 1.0).abs() < 1e-9);
    let (median, p90) = (h.median.expect("median"), h.p90.expect("p90"));
    assert!((1.0..=5.0).contains(&median) && median <= p90);
    assert_eq!(snap.recent.len(), 30);
    assert_eq!(snap.recent.last(), Some(&snap.current));
}
