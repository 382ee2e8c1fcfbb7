//! The Olympic scenario's views as CMCD v2 event-mode players report them
//! (`simulate --format cmcd`): the same viewers, channels, bitrates, stalls and
//! faults as the feedback format, told as states and timestamps.
//!
//! Each view sends `e=ps,sta=s` when it starts and `e=ps,sta=p` with `msd` once
//! playing; each 30-second report becomes `e=ps,sta=r` when the stall began (stalls are
//! placed at the end of the period) and an `e=t,sta=p` time-interval report with `br`,
//! `mtp` and `bl`; a leave is `e=ps,sta=q`. A view that vanishes sends nothing more, as
//! in the feedback format. Read back through `CmcdSessions`, each period gives play and
//! stall seconds as a feedback record of it would; the stalls are drawn from the same
//! distributions but in this format's own draws, so the values differ from the
//! feedback format's.

use super::emit::{Event, Kind, Playback, REPORT_MS, playback};
use super::faults::Effect;
use super::olympics::{CHANNELS, View};
use super::rng::Rng;
use crate::engine::cmcd::{Bare, Item, Report, Value};

/// The longest start-up the scenario gives a view, so its first report still finds it
/// playing.
const MAX_STARTUP_MS: f64 = 25_000.0;

/// The reports of one scenario event: (player-clock time, report), in time order;
/// `clock` is added to every `ts` (the player's skew, or a shift into the present).
pub(super) fn reports(
    rng: &mut Rng,
    e: &Event,
    v: &View,
    effect: Effect,
    clock: i64,
) -> Vec<(i64, Report)> {
    let sid = format!("s{:016x}", v.id);
    let (channel, _, bitrate) = CHANNELS[usize::from(v.channel)];
    let mut out = Vec::with_capacity(2);
    let mut report = |at: i64, members: Vec<(&'static str, Bare)>| {
        let mut r = Report::default();
        r.members.push(("v".into(), one(Bare::Int(2))));
        r.members.push(("sid".into(), one(Bare::Text(sid.clone()))));
        for (key, value) in members {
            let value = if matches!(key, "br" | "mtp" | "bl") {
                // v2 sends these as inner lists, one item per object type.
                Value::List(vec![Item::plain(value)])
            } else {
                one(value)
            };
            r.members.push((key.into(), value));
        }
        r.members.push(("ts".into(), one(Bare::Int(at + clock))));
        out.push((at, r));
    };
    let text = |s: &str| Bare::Text(s.to_owned());
    match e.kind {
        Kind::Join => {
            let startup = startup_ms(v, effect);
            report(
                e.at,
                vec![
                    ("e", text("ps")),
                    ("cid", text(channel)),
                    ("sf", text("d")),
                    ("st", text("l")),
                    ("sta", text("s")),
                ],
            );
            report(
                e.at + startup,
                vec![
                    ("e", text("ps")),
                    ("sta", text("p")),
                    ("msd", Bare::Int(startup)),
                ],
            );
        }
        Kind::Report(k) => {
            let Playback {
                bitrate,
                stall_chance,
            } = playback(v, bitrate, e.at, effect);
            let down = bitrate * rng.uniform(1.85, 2.25);
            let chance_stall = if rng.chance(stall_chance) {
                rng.uniform(0.5, 12.0)
            } else {
                0.0
            };
            let period = REPORT_MS as f64 / 1000.0;
            // The first period also holds the start-up; a stall fits after it.
            let room = if k == 1 {
                period - MAX_STARTUP_MS / 1000.0 - 0.5
            } else {
                period - 1.0
            };
            let stall_ms =
                ((chance_stall + effect.stall * period).min(room) * 1000.0).round() as i64;
            if stall_ms > 0 {
                report(e.at - stall_ms, vec![("e", text("ps")), ("sta", text("r"))]);
            }
            report(
                e.at,
                vec![
                    ("e", text("t")),
                    ("cid", text(channel)),
                    ("sta", text("p")),
                    ("br", Bare::Int(bitrate.round() as i64)),
                    // CTA-5004 rounds throughput to 100 kbps and buffers to 100 ms.
                    ("mtp", Bare::Int((down / 100.0).round() as i64 * 100)),
                    (
                        "bl",
                        Bare::Int((rng.uniform(4.0, 30.0) * 10.0).round() as i64 * 100),
                    ),
                ],
            );
        }
        Kind::Leave => report(e.at, vec![("e", text("ps")), ("sta", text("q"))]),
    }
    out
}

fn one(value: Bare) -> Value {
    Value::Item(Item::plain(value))
}

/// The view's start-up delay, drawn from the view alone so that its start and its first
/// report agree on it.
fn startup_ms(v: &View, effect: Effect) -> i64 {
    let mut rng = Rng::new(v.id, 0x5747_2750);
    let mean = if v.crowd { 6000.0 } else { 2500.0 };
    (rng.lognormal(mean, 0.6) * effect.startup).clamp(100.0, MAX_STARTUP_MS) as i64
}
