//! What a source says about itself, shown in the status bar and on the Overview.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SourceState {
    /// Reading its backlog.
    Loading,
    Ok,
    /// Connected, but nothing new for longer than the alert threshold.
    Stale,
    /// Not reachable; retrying with back-off.
    Down,
}

impl SourceState {
    pub fn label(self) -> &'static str {
        match self {
            SourceState::Loading => "loading",
            SourceState::Ok => "ok",
            SourceState::Stale => "stale",
            SourceState::Down => "down",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct SourceHealth {
    pub name: String,
    pub state: SourceState,
    /// How far the newest record is behind the clock.
    pub lag_ms: Option<i64>,
    pub last_error: Option<String>,
    pub bytes: u64,
}

/// What a source thread sends.
#[derive(Debug)]
pub enum SourceEvent {
    /// Complete JSON lines, in the order the source gave them, and the cursor just
    /// after them (`None` from a server without `tail`, read by polling): the lines are
    /// the content that ends there.
    Lines {
        source: usize,
        stream: crate::recording::layout::Stream,
        bytes: Vec<u8>,
        next: Option<crate::recording::tail::Cursor>,
    },
    /// The backlog of a source's other stream (probes, cmcd) has been read, or cannot be.
    StreamCaughtUp {
        source: usize,
        stream: crate::recording::layout::Stream,
    },
    /// A change of state; `caught_up` once the backlog has been read.
    State {
        source: usize,
        state: SourceState,
        error: Option<String>,
        caught_up: bool,
    },
}

/// Exponential back-off with a cap and jitter, so many watchers do not retry in step.
#[derive(Debug, Clone)]
pub struct Backoff {
    next_ms: u64,
    seed: u64,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff {
            next_ms: 500,
            seed: u64::from(std::process::id()),
        }
    }
}

impl Backoff {
    const MAX_MS: u64 = 30_000;

    pub fn reset(&mut self) {
        self.next_ms = 500;
    }

    /// The next wait: doubling from 0.5 s to 30 s, ±25 %.
    pub fn next_wait(&mut self) -> std::time::Duration {
        self.seed = self
            .seed
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1);
        let jitter = (self.seed >> 33) % (self.next_ms / 2 + 1);
        let wait = self.next_ms - self.next_ms / 4 + jitter;
        self.next_ms = (self.next_ms * 2).min(Self::MAX_MS);
        std::time::Duration::from_millis(wait)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_to_a_cap_and_resets() {
        let mut b = Backoff::default();
        let waits: Vec<u64> = (0..10).map(|_| b.next_wait().as_millis() as u64).collect();
        assert!(waits[0] >= 375 && waits[0] <= 625, "{waits:?}");
        assert!(waits[3] >= 3000 && waits[3] <= 5000, "{waits:?}");
        assert!(waits.iter().all(|w| *w <= 37_500), "{waits:?}");
        b.reset();
        assert!(b.next_wait().as_millis() <= 625);
    }
}
