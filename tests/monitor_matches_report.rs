//! The live engine (`Monitor`) and `report` read the same recording the same way: the
//! per-minute timeline equals the report's minutes, whether records are fed whole or in
//! live-sized chunks with the clock advancing between them.

use std::path::Path;

use peerscope::engine::aggregate::qoe::QoeParams;
use peerscope::engine::calendar::{Calendar, MINUTE_MS};
use peerscope::engine::geography::location::IpGeo;
use peerscope::engine::monitor::Monitor;
use peerscope::engine::query::filter::Filter;
use peerscope::engine::query::metric::Metric;
use peerscope::engine::query::snapshot::{Query, Snapshot};
use peerscope::recording::batch::FeedbackBatch;
use peerscope::recording::scan::Recording;
use peerscope::report::analysis::{AnalysisOptions, analyse};
use peerscope::report::figures::by_minute;
use peerscope::report::output::{Cell, Table};

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
        &rec.feedback,
        AnalysisOptions {
            geo: geo(),
            calendar: Calendar::new(chrono_tz::Asia::Hong_Kong),
            qoe: QoeParams::default(),
            filter,
            threads: 2,
            progress: false,
            seen_before: &[],
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
        Cell::Text(_) | Cell::Missing => None,
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

/// Issue 18.4: under every filter the live engine counts as `report` over the filtered
/// stream does — a peer that moved between channels within 2 × period is counted once
/// by an ISP or district filter, and in both channels by a channel filter only while
/// each channel's latest record of it is fresh.
#[test]
fn a_filter_counts_exactly_the_filtered_stream() {
    let (m, first, last) = monitor(true);
    for terms in [
        "isp=PCCW,channel=main",
        "isp=PCCW",
        "isp=Others",
        "channel=main",
        "channel=athletics",
        "district=Sha Tin",
        "district=Kwun Tong,isp=HKBN",
        "isp=PCCW,isp=HKBN",
    ] {
        let filter = Filter::parse(terms).expect("filter");
        let table = report(&filter);
        let snap = timeline(&m, first, last, filter.clone());
        assert_eq!(snap.filter, filter);
        // The report has a row per minute holding records before any filter: the same
        // minutes as the timeline.
        assert_eq!(snap.timeline.len(), table.rows.len(), "{terms}");
        for (p, row) in snap.timeline.iter().zip(&table.rows) {
            assert!(
                close(p.figures.up_kbps, num(&row[3])),
                "{terms}: up at {}",
                p.at
            );
            assert!(
                close(p.figures.qoe, num(&row[7])),
                "{terms}: qoe at {}",
                p.at
            );
            #[allow(clippy::cast_precision_loss)]
            let online = p.online as f64;
            assert_eq!(Some(online), num(&row[1]), "{terms}: online at {}", p.at);
        }
        // The present, from per-peer state, agrees with the last minute too.
        let end_online = num(&table.rows[table.rows.len() - 1][1]);
        #[allow(clippy::cast_precision_loss)]
        let current = snap.current.online as f64;
        assert_eq!(Some(current), end_online, "{terms}: now");
    }
}

#[test]
fn breakdowns_counts_and_histogram_are_consistent() {
    let (m, first, last) = monitor(true);
    let snap = timeline(&m, first, last, Filter::default());
    let online = snap.current.online;
    assert!(online > 0);
    let sum = |v: &[(String, i64)]| v.iter().map(|(_, n)| n).sum::<i64>();
    // Peers keep their address in the sample: ISP and district rows add up to the total
    // exactly. A peer that changed channel without a leave less than 2 × period ago is
    // online in both channels' filtered streams, so those rows may add up to a little more.
    assert_eq!(sum(&snap.isp_counts), online);
    assert_eq!(sum(&snap.district_counts), online);
    let channels = sum(&snap.channel_counts);
    assert!(
        (online..=online + online / 50).contains(&channels),
        "{channels} vs {online}"
    );
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
