use proptest::prelude::*;

use super::*;
use crate::engine::aggregate::Aggregator;
use crate::engine::calendar::MINUTE_MS;
use crate::engine::geography::location::Location;
use crate::engine::record::Payload;

const T0: i64 = 1_343_440_800_000;

fn calendar() -> Calendar {
    Calendar::new(chrono_tz::Asia::Hong_Kong)
}

fn obs(peer: u32, session: u32, channel: u32, recv: i64, event: Event) -> Observation {
    Observation {
        peer,
        session,
        channel,
        ip: peer,
        location: Location {
            isp: 0,
            district: 0,
            lat_lon: None,
        },
        payload: Payload {
            seq: 0,
            recv,
            event,
            period_s: 30.0,
            up_kbps: 100.0,
            down_kbps: 800.0,
            server_kbps: 200.0,
            bitrate_kbps: 700.0,
            play_s: 29.0,
            stall_s: 1.0,
            startup_ms: (event == Event::Report).then_some(1234),
        },
    }
}

fn cell(channel: u32) -> Cell {
    Cell {
        channel,
        ..Cell::default()
    }
}

/// Online at the end of each minute from the facts, summed over every cell.
fn online_by_minute(facts: &[Fact], minutes: std::ops::Range<i64>) -> Vec<i64> {
    minutes
        .map(|m| {
            let end = (m + 1) * MINUTE_MS;
            facts
                .iter()
                .filter_map(|f| match f {
                    Fact::Online(o) if o.bucket_ms + BUCKET_MS <= end => Some(i64::from(o.delta)),
                    _ => None,
                })
                .sum()
        })
        .collect()
}

#[test]
fn a_view_opens_and_times_out_in_its_cell() {
    let mut t = CubeTracker::new(QoeParams::default(), calendar(), Expiry::AtClose);
    let mut out = Vec::new();
    t.record(&obs(0, 0, 1, T0 + 5_000, Event::Join), cell(1), &mut out);
    t.record(&obs(0, 0, 1, T0 + 35_000, Event::Report), cell(1), &mut out);
    t.close(&mut out);
    let online: Vec<&OnlineFact> = out
        .iter()
        .filter_map(|f| match f {
            Fact::Online(o) => Some(o),
            Fact::Record(_) => None,
        })
        .collect();
    // +1 at the join, nothing at the report (the interval goes on), −1 at 35 s + 60 s.
    assert_eq!(online.len(), 2);
    assert_eq!((online[0].delta, online[0].bucket_ms), (1, T0));
    assert_eq!((online[1].delta, online[1].bucket_ms), (-1, T0 + 90_000));
    let startups: Vec<Option<i64>> = out
        .iter()
        .filter_map(|f| match f {
            Fact::Record(r) => Some(r.startup_ms),
            Fact::Online(_) => None,
        })
        .collect();
    assert_eq!(startups, vec![None, Some(1234)]);
}

#[test]
fn a_move_between_cells_moves_the_peer() {
    let mut t = CubeTracker::new(QoeParams::default(), calendar(), Expiry::AtClose);
    let mut out = Vec::new();
    t.record(&obs(0, 0, 1, T0 + 5_000, Event::Report), cell(1), &mut out);
    t.record(&obs(0, 1, 2, T0 + 20_000, Event::Report), cell(2), &mut out);
    t.close(&mut out);
    let deltas: Vec<(u32, i32)> = out
        .iter()
        .filter_map(|f| match f {
            Fact::Online(o) => Some((o.cell.channel, o.delta)),
            Fact::Record(_) => None,
        })
        .collect();
    assert_eq!(deltas, vec![(1, 1), (1, -1), (2, 1), (2, -1)]);
}

#[test]
fn a_startup_delay_counts_once_per_session() {
    let mut t = CubeTracker::new(QoeParams::default(), calendar(), Expiry::Eager);
    let mut out = Vec::new();
    for k in 0..3 {
        t.record(
            &obs(0, 7, 1, T0 + k * 30_000, Event::Report),
            cell(1),
            &mut out,
        );
    }
    let counted = out
        .iter()
        .filter(|f| matches!(f, Fact::Record(r) if r.startup_ms.is_some()))
        .count();
    assert_eq!(counted, 1);
}

#[test]
fn startup_bins_hold_their_values() {
    for ms in [
        0, 9, 10, 999, 1_000, 1_234, 9_999, 10_000, 59_999, 60_000, 123_456,
    ] {
        let lower = i64::from(startup_bin(ms));
        assert!(lower <= ms && ms < lower + startup_bin_width(ms), "{ms}");
    }
    assert_eq!(startup_bin(-5), 0);
    assert_eq!(qoe_bin(3.47), 34);
    assert_eq!(qoe_bin(5.0), 50);
    assert_eq!(qoe_bin(0.2), 10);
}

#[test]
fn a_histogram_rank_is_its_bins_lower_end() {
    let bins = [(100, 2), (200, 1), (300, 1)];
    assert_eq!(histogram_rank(&bins, 50.0), Some(100));
    assert_eq!(histogram_rank(&bins, 51.0), Some(200));
    assert_eq!(histogram_rank(&bins, 99.0), Some(300));
    assert_eq!(histogram_rank(&[], 50.0), None);
}

proptest! {
    /// Summed over every cell, the shipped changes give exactly the aggregator's count of
    /// online peers at every minute's end, whatever the joins, leaves, gaps and moves.
    #[test]
    fn cells_add_up_to_the_streams_online_count(
        steps in proptest::collection::vec((0u32..6, 0u32..3, 1i64..90_000, 0u8..10), 1..120)
    ) {
        let mut t = CubeTracker::new(QoeParams::default(), calendar(), Expiry::AtClose);
        let mut agg = Aggregator::new(QoeParams::default(), calendar(), MINUTE_MS);
        let mut facts = Vec::new();
        let mut now = T0;
        for (peer, channel, gap, kind) in steps {
            now += gap / 6;
            let event = match kind {
                0 => Event::Join,
                1 => Event::Leave,
                _ => Event::Report,
            };
            let o = obs(peer, peer * 10 + channel, channel, now, event);
            t.record(&o, cell(channel), &mut facts);
            agg.ingest(&o);
        }
        t.close(&mut facts);
        agg.close();
        let first = T0 / MINUTE_MS - 1;
        let last = now / MINUTE_MS + 3;
        let series = agg.buckets();
        let expected: Vec<i64> = (first..last)
            .map(|m| series.range(i64::MIN, m + 1).iter().map(|(_, b)| i64::from(b.online_delta)).sum())
            .collect();
        prop_assert_eq!(online_by_minute(&facts, first..last), expected);
    }
}
