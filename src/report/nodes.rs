//! `report ACCESS_LOG... --by node`: each CDN node's own figures, from its access log.

use std::collections::BTreeMap;

use super::output::{Cell, Table, names};
use crate::engine::calendar::{Calendar, Day};
use crate::engine::cdn::figures::NodeFigures;
use crate::recording::access_log::MinuteFigures;

/// The name of the row summing every node, when there are several.
pub const ALL_NODES: &str = "(all)";

/// One row per node (by name), and one for all of them when there are several; only
/// the minutes of `day` when given.
pub fn by_node(minutes: &[MinuteFigures], day: Option<(Day, &Calendar)>) -> Table {
    let mut nodes: BTreeMap<&str, NodeFigures> = BTreeMap::new();
    for m in minutes {
        if let Some((day, calendar)) = day {
            if calendar.day_of(m.minute_ms) != day {
                continue;
            }
        }
        nodes.entry(&m.node).or_default().merge(&m.figures);
    }
    let mut rows: Vec<Vec<Cell>> = nodes.iter().map(|(node, f)| row(node, f)).collect();
    if nodes.len() > 1 {
        let mut all = NodeFigures::default();
        for f in nodes.values() {
            all.merge(f);
        }
        rows.push(row(ALL_NODES, &all));
    }
    Table {
        columns: names(&[
            "node",
            "requests",
            "hit_ratio",
            "origin_ttfb_p50_ms",
            "origin_ttfb_p95_ms",
            "request_p95_ms",
            "errors_4xx",
            "errors_5xx",
            "error_rate",
            "bytes",
        ]),
        rows,
    }
}

fn row(node: &str, f: &NodeFigures) -> Vec<Cell> {
    let ms = |v: Option<u32>| v.map_or(Cell::Missing, |v| Cell::Int(i64::from(v)));
    let int = |n: u64| Cell::Int(i64::try_from(n).unwrap_or(i64::MAX));
    vec![
        Cell::Text(node.to_owned()),
        int(f.requests),
        Cell::Num(f.hit_ratio(), 4),
        ms(f.origin_ms.percentile(50.0)),
        ms(f.origin_ms.percentile(95.0)),
        ms(f.request_ms.percentile(95.0)),
        int(f.client_errors),
        int(f.server_errors),
        Cell::Num(f.error_rate(), 4),
        int(f.bytes),
    ]
}
