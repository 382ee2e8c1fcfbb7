//! A batch `raw` holds only some days of: ClickHouse stopped in the middle of its
//! INSERT and the shipper stopped too before it could send the rest. The next shipper
//! reads again what lies before its cursor, as always, and this keeps the facts of the
//! last batch's missing days, to be sent under the same batch number before anything new.

use super::commit::Last;
use super::rows::Rows;
use crate::engine::calendar::{Calendar, Day};
use crate::engine::cube::Fact;
use crate::engine::geography::areas::Areas;
use crate::engine::observe::catalog::Catalog;

pub struct Repair<'a> {
    pub last: Last,
    pub rows: Rows<'a>,
}

impl<'a> Repair<'a> {
    /// The repair of `last`, when `raw` lacks some of its days.
    pub fn of(last: &Last, shipper: &'a str) -> Option<Repair<'a>> {
        (!last.whole()).then(|| {
            eprintln!(
                "batch {} is in ClickHouse for {} of its {} days only (ClickHouse stopped in the middle of its INSERT): sending the others again",
                last.batch,
                last.landed.len(),
                last.parts
            );
            Repair {
                last: last.clone(),
                rows: Rows::new(shipper, last.batch),
            }
        })
    }

    fn missing(&self, day: Day) -> bool {
        !self.last.landed.contains(&day)
    }

    /// A fact of the batch, kept if its day is missing.
    pub fn fact(&mut self, fact: &Fact, catalog: &Catalog, areas: &Areas) {
        if self.missing(fact.day()) {
            self.rows.fact(fact, catalog, areas);
        }
    }

    /// Lines of the batch skipped on `day`, kept if that day is missing.
    pub fn skipped(&mut self, day: Day, reason: &str, lines: u64) {
        if self.missing(day) {
            self.rows.skipped(day, reason, lines);
        }
    }

    /// Says on stderr which days it sends again.
    pub fn say(&mut self) {
        let days: Vec<String> = self
            .rows
            .days()
            .into_iter()
            .map(Calendar::day_label)
            .collect();
        eprintln!(
            "sending batch {} again for {}",
            self.last.batch,
            days.join(", ")
        );
    }
}
