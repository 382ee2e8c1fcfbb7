//! The clock the views follow: the wall clock (`watch`), or a replay clock that keys
//! move and a speed drives (`replay`). Stepping lives here, apart from the terminal loop,
//! so it is plain code with plain tests.
//!
//! At ×N the replay clock moves N times the wall time that passed. At the fastest speed
//! it moves as fast as the engine computes frames: by a step of recording each time the
//! frame for the current instant is in, the step doubling (up to an hour) while frames
//! come back faster than the screen redraws and halving (down to a minute) when they do
//! not — so the engine never idles, and a frame already in (after a pause, a seek back
//! to a moment shown before) moves the clock at once instead of waiting for another.
//! At the recording's end the clock stops and says so.

use std::time::Duration;

const MINUTE_MS: i64 = 60_000;
const FASTEST_MIN_STEP_MS: i64 = MINUTE_MS;
const FASTEST_MAX_STEP_MS: i64 = 60 * MINUTE_MS;

/// What a step did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Moved {
    No,
    Yes,
    /// It reached the recording's end and stops there.
    Ended,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReplayClock {
    at: i64,
    start: Option<i64>,
    end: Option<i64>,
    /// The fastest speed's step, in ms of recording.
    step_ms: i64,
    /// The instant the fastest speed last stepped from: a frame moves it once.
    stepped_from: Option<i64>,
}

impl ReplayClock {
    /// A clock at `at`, kept within the recording's span.
    pub fn new(at: i64, start: Option<i64>, end: Option<i64>) -> Self {
        let mut c = ReplayClock {
            at,
            start,
            end,
            step_ms: FASTEST_MIN_STEP_MS,
            stepped_from: None,
        };
        c.at = c.clamp(at);
        c
    }

    pub fn at(&self) -> i64 {
        self.at
    }

    /// At the recording's last instant.
    pub fn ended(&self) -> bool {
        self.end.is_some_and(|e| self.at >= e)
    }

    fn clamp(&self, t: i64) -> i64 {
        let t = self.start.map_or(t, |s| t.max(s));
        self.end.map_or(t, |e| t.min(e))
    }

    fn move_to(&mut self, t: i64) -> Moved {
        let t = self.clamp(t);
        if t == self.at {
            return if self.ended() {
                Moved::Ended
            } else {
                Moved::No
            };
        }
        self.at = t;
        if self.ended() {
            Moved::Ended
        } else {
            Moved::Yes
        }
    }

    /// A seek by `delta` ms (keys `←` `→` `[` `]`).
    pub fn seek_by(&mut self, delta: i64) {
        self.seek_to(self.at.saturating_add(delta));
    }

    /// A seek to an instant (key `g`): the fastest speed steps from there once its
    /// frame is in, even if it stepped from there before.
    pub fn seek_to(&mut self, t: i64) {
        self.stepped_from = None;
        self.move_to(t);
    }

    /// `elapsed` of wall time at ×`speed`.
    pub fn run(&mut self, elapsed: Duration, speed: u32) -> Moved {
        let step = (elapsed.as_secs_f64() * f64::from(speed) * 1000.0) as i64;
        self.move_to(self.at.saturating_add(step))
    }

    /// At the fastest speed, with the latest frame in being the one for `frame_at` and
    /// asked for `took` ago: steps once per frame for the current instant, sizing the
    /// step so that a frame takes about one screen `redraw`.
    pub fn fastest(&mut self, frame_at: i64, took: Duration, redraw: Duration) -> Moved {
        if frame_at != self.at || self.stepped_from == Some(self.at) {
            return if self.ended() {
                Moved::Ended
            } else {
                Moved::No
            };
        }
        self.step_ms = if took < redraw {
            (self.step_ms * 2).min(FASTEST_MAX_STEP_MS)
        } else {
            (self.step_ms / 2).max(FASTEST_MIN_STEP_MS)
        };
        self.stepped_from = Some(self.at);
        self.move_to(self.at.saturating_add(self.step_ms))
    }
}

/// The clock the views follow: a replay clock, or the wall.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Clock {
    Replay(ReplayClock),
    Live,
}

impl Clock {
    pub fn now(&self) -> i64 {
        match self {
            Clock::Replay(c) => c.at(),
            Clock::Live => chrono::Utc::now().timestamp_millis(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const START: i64 = 1_000_000;
    const END: i64 = START + 3 * 3_600_000;

    fn clock() -> ReplayClock {
        ReplayClock::new(START, Some(START), Some(END))
    }

    #[test]
    fn a_speed_moves_that_many_times_the_wall_time_and_stops_at_the_end() {
        let mut c = clock();
        assert_eq!(c.run(Duration::from_millis(100), 60), Moved::Yes);
        assert_eq!(c.at(), START + 6_000);
        c.seek_to(END - 1_000);
        assert_eq!(c.run(Duration::from_secs(1), 3600), Moved::Ended);
        assert_eq!(c.at(), END);
        assert_eq!(c.run(Duration::from_secs(1), 3600), Moved::Ended);
        c.seek_by(-3_600_000);
        assert!(!c.ended());
        c.seek_by(-10 * 3_600_000);
        assert_eq!(c.at(), START);
    }

    #[test]
    fn the_fastest_speed_steps_once_per_frame_and_never_waits_for_another() {
        let mut c = clock();
        let redraw = Duration::from_millis(100);
        let quick = Duration::from_millis(5);
        // A frame for another instant moves nothing.
        assert_eq!(c.fastest(START - 1, quick, redraw), Moved::No);
        assert_eq!(c.fastest(START, quick, redraw), Moved::Yes);
        let first = c.at();
        assert!(first > START);
        // The same frame again (no new one yet) moves nothing more.
        assert_eq!(c.fastest(START, quick, redraw), Moved::No);
        // Quick frames double the step, up to an hour; slow ones halve it.
        let mut last = first;
        let mut steps = Vec::new();
        for _ in 0..5 {
            c.fastest(c.at(), quick, redraw);
            steps.push(c.at() - last);
            last = c.at();
        }
        assert!(steps.windows(2).all(|w| w[1] >= w[0]), "{steps:?}");
        assert!(steps.iter().all(|s| *s <= 3_600_000), "{steps:?}");
        let before = c.at();
        c.fastest(c.at(), Duration::from_secs(1), redraw);
        assert!(c.at() - before < *steps.last().expect("steps"));
        // Back to an instant it stepped from before: it steps from there again.
        let mut c = clock();
        let from = c.at();
        c.fastest(from, quick, redraw);
        c.seek_to(from);
        assert_eq!(c.fastest(from, quick, redraw), Moved::Yes);
        // Paused at an instant whose frame is already in: unpaused, it moves at once.
        let mut c = clock();
        c.seek_to(START + 600_000);
        assert_eq!(
            c.fastest(START + 600_000, Duration::from_secs(30), redraw),
            Moved::Yes
        );
        // Up to the end, then it says so.
        let mut moves = 0;
        while c.fastest(c.at(), quick, redraw) != Moved::Ended {
            moves += 1;
            assert!(moves < 1000, "never ended");
        }
        assert_eq!(c.at(), END);
    }
}
