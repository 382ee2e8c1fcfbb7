//! A cube for [`explain`](crate::engine::explain): each cell's sums of the explained
//! measure over a span, from the history the engine keeps.

use super::{CellKey, Monitor};
use crate::engine::aggregate::bucket::BucketStats;
use crate::engine::aggregate::tiers::{ALL, CellId};
use crate::engine::alerts::Alert;
use crate::engine::explain::{Baseline, CellSums, Cube, Sums, Target};
use crate::engine::query::filter::Filter;

const MINUTE_MS: i64 = 60_000;

/// What to explain: a measure in the window `[moment − window, moment)` under a filter,
/// against a baseline.
#[derive(Debug, Clone, PartialEq)]
pub struct ExplainQuery {
    pub target: Target,
    pub moment: i64,
    pub window_ms: i64,
    pub baseline: Baseline,
    pub filter: Filter,
}

/// An alert's explanation looks at its first quarter of an hour at most.
const ALERT_WINDOW_MAX_MS: i64 = 15 * MINUTE_MS;

impl ExplainQuery {
    /// What explains `alert` as it stood at `clock`: the minutes it has held (from the
    /// start of a flash crowd's rise; a quarter of an hour at most) against the hour
    /// before them, over the whole service.
    pub fn for_alert(alert: &Alert, clock: i64) -> Option<ExplainQuery> {
        let target = alert.kind.target()?;
        let start = alert.at - MINUTE_MS * i64::from(alert.rise_min.max(1));
        let held_until = alert.until.map_or(clock, |u| u - MINUTE_MS).min(clock);
        let end = held_until
            .div_euclid(MINUTE_MS)
            .saturating_mul(MINUTE_MS)
            .clamp(start + MINUTE_MS, start + ALERT_WINDOW_MAX_MS);
        Some(ExplainQuery {
            target,
            moment: end,
            window_ms: end - start,
            baseline: Baseline::TrailingHour,
            filter: Filter::default(),
        })
    }

    /// Where the history it reads begins.
    pub fn reads_from(&self) -> i64 {
        let (from, _) = self.window();
        let (base_from, _) = self.baseline.span(self.moment, self.window_ms);
        from.min(base_from)
    }

    /// The window's span: for online peers, the moment itself.
    pub fn window(&self) -> (i64, i64) {
        let span = if self.target.is_count() {
            MINUTE_MS
        } else {
            self.window_ms
        };
        (self.moment - span, self.moment)
    }
}

impl Monitor {
    /// The window against the baseline, both from this engine's history; a startup
    /// slower than `slow_startup_ms` is slow (the alert rule's threshold).
    pub fn explain_cube(&self, q: &ExplainQuery, slow_startup_ms: i64) -> Cube {
        let window = q.window();
        let baseline = q.baseline.span(q.moment, q.window_ms);
        Cube::pair(
            &self.cell_sums(q, window, slow_startup_ms, Some(q.moment)),
            &self.cell_sums(q, baseline, slow_startup_ms, None),
        )
    }

    /// Each cell the filter takes with its sums of the query's measure over `[from,
    /// to)`: a ratio's numerator and denominator from the buckets starting in it, or
    /// for online peers their mean over the minute instants `to`, `to` − 1 min, … after
    /// `from` (den 1); and its online peers at `peers_at`, if asked (else 0).
    pub fn cell_sums(
        &self,
        q: &ExplainQuery,
        (from, to): (i64, i64),
        slow_startup_ms: i64,
        peers_at: Option<i64>,
    ) -> Vec<CellSums> {
        let matching = self.matching_cells(&q.filter);
        let taken = |c: CellId| c != ALL && matching.get(c as usize).copied().unwrap_or(false);
        let cells = self.cell_keys.len();
        let peers = peers_at.map_or_else(|| vec![0; cells], |t| self.online_per_cell(&[t], &taken));
        // Per cell (by id): its sums, `None` where the span holds nothing of it.
        let mut sums: Vec<Option<Sums>> = vec![None; cells];
        if q.target.is_count() {
            let count = (to - from + MINUTE_MS - 1).div_euclid(MINUTE_MS).max(0);
            let instants: Vec<i64> = (0..count).map(|k| to - k * MINUTE_MS).collect();
            let n = instants.len().max(1) as f64;
            for (cell, total) in self
                .online_per_cell(&instants, &taken)
                .into_iter()
                .enumerate()
            {
                if taken(cell as CellId) {
                    sums[cell] = Some(Sums {
                        num: total as f64 / n,
                        den: 1.0,
                    });
                }
            }
        } else {
            for (slot, _) in self.history.slots() {
                if slot.start < from || slot.start >= to {
                    continue;
                }
                for (cell, stats) in slot.cells.iter().filter(|(c, _)| taken(**c)) {
                    sums[*cell as usize]
                        .get_or_insert_with(Sums::default)
                        .add(measure(q.target, stats, slow_startup_ms));
                }
            }
        }
        let mut out: Vec<CellSums> = sums
            .into_iter()
            .enumerate()
            .filter_map(|(cell, sums)| {
                Some(CellSums {
                    names: self.cell_names(&self.cell_keys[cell]),
                    sums: sums?,
                    peers: peers[cell],
                })
            })
            .collect();
        out.sort_by(|a, b| a.names.cmp(&b.names));
        out
    }

    fn cell_names(&self, k: &CellKey) -> [String; 4] {
        let geo = &self.catalog.geo;
        [
            geo.isp_name(k.isp).to_owned(),
            self.catalog.channels.name(k.channel).to_owned(),
            geo.district_name(k.district).to_owned(),
            self.area_name(k.area).to_owned(),
        ]
    }

    /// Online peers per cell (by id; 0 for cells not taken), summed over `instants`:
    /// from per-peer state for an instant at or after the newest record, else from the
    /// buckets' running sums (a cell's own count is exact; a point inside a coarse
    /// bucket is read at its start).
    fn online_per_cell(&self, instants: &[i64], taken: &dyn Fn(CellId) -> bool) -> Vec<i64> {
        let mut total = vec![0i64; self.cell_keys.len()];
        let mut past: Vec<i64> = Vec::new();
        for &t in instants {
            if t >= self.latest_recv {
                for (c, n) in self.online_cells.online_by(t, &|c| taken(c).then_some(c)) {
                    total[c as usize] += n;
                }
            } else {
                past.push(t);
            }
        }
        if past.is_empty() {
            return total;
        }
        past.sort_unstable();
        let mut running = vec![0i64; self.cell_keys.len()];
        let mut next = past.iter().peekable();
        for (slot, width) in self.history.slots() {
            // Instants before this slot's end count the slots before it.
            while next.next_if(|t| slot.start + width > **t).is_some() {
                for (t, r) in total.iter_mut().zip(&running) {
                    *t += r;
                }
            }
            for (cell, stats) in slot.cells.iter().filter(|(c, _)| taken(**c)) {
                running[*cell as usize] += i64::from(stats.online_delta);
            }
        }
        for _ in next {
            for (t, r) in total.iter_mut().zip(&running) {
                *t += r;
            }
        }
        total
    }
}

/// One bucket's sums of the measure (online peers are read elsewhere).
fn measure(target: Target, b: &BucketStats, slow_ms: i64) -> Sums {
    let (num, den) = match target {
        Target::Qoe => (b.mos_sum, f64::from(b.mos_n)),
        Target::Continuity => (b.play_s, b.play_s + b.stall_s),
        Target::Startup => (
            b.startups.iter().filter(|s| **s > slow_ms).count() as f64,
            b.startups.len() as f64,
        ),
        Target::Up => (b.up, b.period_s),
        Target::Down => (b.down, b.period_s),
        Target::Online => (0.0, 0.0),
    };
    Sums { num, den }
}
