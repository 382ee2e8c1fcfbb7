//! What the engine computes with from a feedback message: its [`Payload`] — the event,
//! identity and numbers of one message, `Copy` — and [`FeedbackCore`], that payload with
//! the message's identifiers borrowed from wherever the record lives (a parsed line, a
//! reader's batch arena). Every stage embeds the one payload rather than copying its
//! fields one by one.

use super::{Event, Feedback};

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Payload {
    pub seq: u64,
    /// Server clock at acceptance, ms since epoch; 0 for a record straight from a peer.
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

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FeedbackCore<'a> {
    pub peer: &'a str,
    pub session: &'a str,
    pub channel: &'a str,
    pub ip: &'a str,
    pub payload: Payload,
}

impl<'a> Feedback<'a> {
    pub fn core(&'a self) -> FeedbackCore<'a> {
        FeedbackCore {
            peer: &self.peer,
            session: &self.session,
            channel: &self.channel,
            ip: self.ip.as_deref().unwrap_or(""),
            payload: self.payload,
        }
    }
}
