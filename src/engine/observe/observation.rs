//! The engine's view of one accepted feedback record: identifiers interned, location
//! resolved, duplicates already removed. Everything downstream works on these.

use crate::engine::aggregate::bucket::ReportSums;
use crate::engine::aggregate::qoe::QoeParams;
use crate::engine::geography::location::Location;
use crate::engine::record::Payload;

/// The message's identifiers as interned ids and its location; the event time is the
/// payload's `recv` (the server's clock at acceptance, ms since epoch).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Observation {
    pub peer: u32,
    pub session: u32,
    pub channel: u32,
    pub ip: u32,
    pub location: Location,
    pub payload: Payload,
}

impl Payload {
    /// This record's contribution to the sums, were it a report.
    pub fn report_sums(&self, qoe: &QoeParams) -> ReportSums {
        ReportSums {
            period_s: self.period_s,
            up_kbps: self.up_kbps,
            down_kbps: self.down_kbps,
            server_kbps: self.server_kbps,
            play_s: self.play_s,
            stall_s: self.stall_s,
            mos: qoe.mos(self.bitrate_kbps, self.play_s, self.stall_s),
        }
    }

    /// The first instant at which this record no longer keeps its peer online:
    /// online while t − recv < 2 × `period_s` (DESIGN §5).
    pub fn online_until(&self) -> i64 {
        #[allow(clippy::cast_precision_loss, clippy::cast_possible_truncation)]
        let end = (self.recv as f64 + 2000.0 * self.period_s).ceil();
        #[allow(clippy::cast_possible_truncation)]
        let end = end.min(i64::MAX as f64) as i64;
        end.max(self.recv.saturating_add(1))
    }
}
