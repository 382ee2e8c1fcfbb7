//! Route changes as an on-call engineer reads them: one line per change of the network,
//! not one per probe. Eight probes whose paths to Nairobi all leave the same detour in
//! the same minutes are one event seen by eight probes; what differs between their
//! paths (each starts in its own network) is not part of the change.

use super::snapshot::RouteChange;

/// Events of one change: same destination, same replaced and replacing segment, each
/// within [`GROUP_GAP_MS`] of the previous one.
#[derive(Debug, Clone, PartialEq)]
pub struct RouteChangeGroup {
    pub dest: String,
    /// The first and last event's time.
    pub first: i64,
    pub last: i64,
    /// The probes that saw it, sorted.
    pub probes: Vec<String>,
    /// The highest score among them.
    pub score: f64,
    /// The segment replaced and the one replacing it: the AS paths after their common
    /// start (each probe's own network), and whether there was such a start.
    pub before: Vec<u32>,
    pub after: Vec<u32>,
    pub trimmed: bool,
}

/// Events further apart than this are separate changes even when alike.
pub const GROUP_GAP_MS: i64 = 30 * 60_000;

/// The part of `before` and `after` that changed: both after their common start.
fn changed_part(before: &[u32], after: &[u32]) -> (Vec<u32>, Vec<u32>, bool) {
    let common = before.iter().zip(after).take_while(|(a, b)| a == b).count();
    (
        before[common..].to_vec(),
        after[common..].to_vec(),
        common > 0,
    )
}

/// `events` (any order) grouped, newest group first.
pub fn group_changes(events: &[RouteChange]) -> Vec<RouteChangeGroup> {
    let mut sorted: Vec<&RouteChange> = events.iter().collect();
    sorted.sort_by(|a, b| a.at.cmp(&b.at).then_with(|| a.probe.cmp(&b.probe)));
    let mut groups: Vec<RouteChangeGroup> = Vec::new();
    for e in sorted {
        let (before, after, trimmed) = changed_part(&e.before, &e.after);
        let same = groups.iter_mut().rev().find(|g| {
            g.dest == e.dest
                && g.before == before
                && g.after == after
                && e.at - g.last <= GROUP_GAP_MS
        });
        match same {
            Some(g) => {
                g.last = e.at;
                g.score = g.score.max(e.score);
                g.trimmed |= trimmed;
                if let Err(at) = g.probes.binary_search(&e.probe) {
                    g.probes.insert(at, e.probe.clone());
                }
            }
            None => groups.push(RouteChangeGroup {
                dest: e.dest.clone(),
                first: e.at,
                last: e.at,
                probes: vec![e.probe.clone()],
                score: e.score,
                before,
                after,
                trimmed,
            }),
        }
    }
    groups.sort_by(|a, b| b.last.cmp(&a.last).then_with(|| a.dest.cmp(&b.dest)));
    groups
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(at: i64, probe: &str, dest: &str, before: &[u32], after: &[u32]) -> RouteChange {
        RouteChange {
            at,
            probe: probe.into(),
            dest: dest.into(),
            score: at as f64 / 1000.0,
            before: before.to_vec(),
            after: after.to_vec(),
        }
    }

    #[test]
    fn one_change_seen_by_several_probes_is_one_group() {
        let events = [
            event(60_000, "UB", "uon", &[9269, 3491, 6453], &[9269, 3356]),
            event(61_000, "UA", "uon", &[4760, 3491, 6453], &[4760, 3356]),
            // Another change to the same place.
            event(62_000, "UC", "uon", &[9304, 3491, 6453], &[9304, 174]),
            // The same change, but hours later: a new event.
            event(9_000_000, "UD", "uon", &[3662, 3491, 6453], &[3662, 3356]),
            // Elsewhere.
            event(61_500, "UA", "mit", &[4760, 3491], &[4760, 3356]),
        ];
        let groups = group_changes(&events);
        assert_eq!(groups.len(), 4);
        assert_eq!(groups[0].probes, ["UD"]);
        let both = groups
            .iter()
            .find(|g| g.probes.len() == 2)
            .expect("the shared change");
        assert_eq!(both.probes, ["UA", "UB"]);
        assert_eq!((both.first, both.last), (60_000, 61_000));
        assert_eq!(both.before, [3491, 6453]);
        assert_eq!(both.after, [3356]);
        assert!(both.trimmed);
        assert!((both.score - 61.0).abs() < 1e-9);
    }

    #[test]
    fn a_path_with_nothing_in_common_is_kept_whole() {
        let (b, a, trimmed) = changed_part(&[1, 2], &[3, 2]);
        assert_eq!((b, a, trimmed), (vec![1, 2], vec![3, 2], false));
        let (b, a, trimmed) = changed_part(&[], &[3]);
        assert_eq!((b, a, trimmed), (vec![], vec![3], false));
    }
}
