//! The part of a feedback message the engine computes with, borrowed from wherever the
//! record lives (a parsed line, or a reader's batch arena).

use super::record::{Event, Feedback};

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FeedbackCore<'a> {
    pub peer: &'a str,
    pub session: &'a str,
    pub channel: &'a str,
    pub ip: &'a str,
    pub seq: u64,
    pub recv: i64,
    pub event: Event,
    pub period_s: f64,
    pub up_kbps: f64,
    pub down_kbps: f64,
    pub server_kbps: f64,
    pub bitrate_kbps: f64,
    pub play_s: f64,
    pub stall_s: f64,
    pub startup_ms: Option<i64>,
}

impl<'a> Feedback<'a> {
    pub fn core(&'a self) -> FeedbackCore<'a> {
        FeedbackCore {
            peer: &self.peer,
            session: &self.session,
            channel: &self.channel,
            ip: self.ip.as_deref().unwrap_or(""),
            seq: self.seq,
            recv: self.recv,
            event: self.event,
            period_s: self.period_s,
            up_kbps: self.up_kbps,
            down_kbps: self.down_kbps,
            server_kbps: self.server_kbps,
            bitrate_kbps: self.bitrate_kbps,
            play_s: self.play_s,
            stall_s: self.stall_s,
            startup_ms: self.startup_ms,
        }
    }
}
