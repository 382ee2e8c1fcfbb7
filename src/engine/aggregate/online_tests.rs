use super::*;
use proptest::prelude::*;

/// One record: peer, cell, recv, and `None` for a leave or the interval's end.
type Rec = (u32, CellId, i64, Option<i64>);

/// Deltas filed, as (cell, at, delta).
fn feed(records: &[Rec], expiry: Expiry) -> (OnlineTracker, Vec<(CellId, i64, i32)>) {
    let mut t = OnlineTracker::new(expiry);
    let mut deltas = Vec::new();
    let mut sink = |c: CellId, at: i64, d: i32| deltas.push((c, at, d));
    for &(peer, cell, recv, until) in records {
        t.record(peer, cell, recv, until, &mut sink);
    }
    t.close(&mut sink);
    (t, deltas)
}

/// The filtered stream's rule, by brute force: the peer's latest matching record at or
/// before `t` (the later one of a tie) is not a leave and its interval holds `t`.
fn brute(records: &[Rec], t: i64, matches: &dyn Fn(CellId) -> bool) -> i64 {
    let mut latest: std::collections::BTreeMap<u32, Option<i64>> =
        std::collections::BTreeMap::new();
    for &(peer, cell, recv, until) in records {
        if recv <= t && matches(cell) {
            latest.insert(peer, until);
        }
    }
    latest
        .values()
        .filter(|until| until.is_some_and(|u| t < u))
        .count() as i64
}

fn history(deltas: &[(CellId, i64, i32)], t: i64, matches: &dyn Fn(CellId) -> bool) -> i64 {
    deltas
        .iter()
        .filter(|(c, at, _)| *at <= t && matches(*c))
        .map(|(_, _, d)| i64::from(*d))
        .sum()
}

#[test]
fn a_move_between_cells_counts_once_under_a_filter_spanning_both() {
    // Peer 1 reports in cell 1 at 0 (online until 60 s), then in cell 2 at 30 s without
    // a leave: the cells alone count it twice from 30 to 60 s.
    let records = [(1, 1, 0, Some(60_000)), (1, 2, 30_000, Some(90_000))];
    let (t, deltas) = feed(&records, Expiry::AtClose);
    let both = |c: CellId| c == 1 || c == 2;
    assert_eq!(history(&deltas, 45_000, &both), 2);
    assert_eq!(t.correction(45_000, &both), -1);
    assert_eq!(t.correction(20_000, &both), 0);
    assert_eq!(t.correction(60_000, &both), 0);
    // Cell 1 alone: its record is the latest matching one, still fresh at 45 s.
    let one = |c: CellId| c == 1;
    assert_eq!(
        history(&deltas, 45_000, &one) + t.correction(45_000, &one),
        1
    );
    assert_eq!(t.overlap_count(), 1);
}

#[test]
fn a_leave_in_another_cell_ends_the_filtered_stream() {
    let records = [(7, 1, 0, Some(60_000)), (7, 2, 10_000, None)];
    let (t, deltas) = feed(&records, Expiry::AtClose);
    let both = |c: CellId| c <= 2;
    assert_eq!(
        history(&deltas, 20_000, &both) + t.correction(20_000, &both),
        0
    );
    assert_eq!(brute(&records, 20_000, &both), 0);
}

#[test]
fn present_counts_follow_the_latest_matching_record() {
    let records = [
        (1, 1, 0, Some(60_000)),
        (1, 2, 30_000, Some(90_000)),
        (2, 1, 10_000, Some(70_000)),
        (3, 3, 20_000, None),
    ];
    let (mut t, _) = feed(&records[..0], Expiry::Eager);
    let mut sink = |_: CellId, _: i64, _: i32| {};
    for &(peer, cell, recv, until) in &records {
        t.record(peer, cell, recv, until, &mut sink);
    }
    let now = 40_000;
    assert_eq!(t.online_at(now, &|c| c <= 2), 2);
    assert_eq!(
        t.online_at(now, &|c| c == 1),
        2,
        "peer 1's cell-1 record is still fresh"
    );
    let by = t.online_by(now, &|c| Some(c));
    assert_eq!(
        (by.get(&1), by.get(&2), by.get(&3)),
        (Some(&2), Some(&1), None)
    );
    t.expire(65_000, &mut sink);
    assert_eq!(t.online_at(65_000, &|c| c <= 2), 2);
    t.expire(95_000, &mut sink);
    assert_eq!(t.online_at(95_000, &|_| true), 0);
}

fn records_strategy() -> impl Strategy<Value = Vec<Rec>> {
    // A few peers, three cells, records 0–40 s apart, periods of 10–40 s, some leaves.
    prop::collection::vec(
        (
            0u32..4,
            1u32..4,
            0i64..40_000,
            10i64..40,
            prop::bool::weighted(0.15),
        ),
        1..60,
    )
    .prop_map(|raw| {
        let mut clock = [0i64; 4];
        raw.into_iter()
            .map(|(peer, cell, gap, period, leave)| {
                let p = peer as usize;
                clock[p] += gap;
                let recv = clock[p];
                (peer, cell, recv, (!leave).then_some(recv + 2000 * period))
            })
            .collect::<Vec<_>>()
    })
    .prop_map(|mut v| {
        // Peers interleave in time, each in its own order.
        v.sort_by_key(|r| r.2);
        v
    })
}

proptest! {
    #[test]
    fn cells_plus_correction_equal_the_filtered_stream(
        records in records_strategy(),
        subset in 1u32..8,
        probes in prop::collection::vec(0i64..400_000, 1..40),
    ) {
        let matches = |c: CellId| subset & (1 << (c - 1)) != 0;
        let (t, deltas) = feed(&records, Expiry::AtClose);
        for at in probes {
            let exact = brute(&records, at, &matches);
            let ours = history(&deltas, at, &matches) + t.correction(at, &matches);
            prop_assert_eq!(ours, exact, "at {}", at);
        }
        // The present, from per-peer state, for every filter and for every group.
        let last = records.iter().map(|r| r.2).max().unwrap_or(0);
        // Each peer's own state counts its records: every one reaches it, late or not.
        let mut live = OnlineTracker::<usize>::new(Expiry::Eager);
        let mut sink = |_: CellId, _: i64, _: i32| {};
        for &(peer, cell, recv, until) in &records {
            *live.record(peer, cell, recv, until, &mut sink) += 1;
        }
        for peer in 0..4 {
            let records_of_peer = records.iter().filter(|r| r.0 == peer).count();
            prop_assert_eq!(*live.kept_mut(peer), records_of_peer);
        }
        for now in [last, last + 20_000, last + 70_000] {
            prop_assert_eq!(live.online_at(now, &matches), brute(&records, now, &matches));
            let by = live.online_by(now, &|c| Some(c));
            for cell in 1..4 {
                prop_assert_eq!(
                    by.get(&cell).copied().unwrap_or(0),
                    brute(&records, now, &|c| c == cell)
                );
            }
        }
    }
}
