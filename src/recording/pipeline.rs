//! Reading minute groups on several threads while the engine consumes them in order.
//!
//! Workers take the next unread minute from a shared counter and send the parsed batch
//! back; the consumer holds early arrivals until their turn. Each worker holds at most
//! one batch and the channel is bounded, so memory stays at a few minutes of data.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc;

use indicatif::{ProgressBar, ProgressStyle};

use super::batch::FeedbackBatch;
use super::scan::MinuteGroup;
use crate::engine::cmcd::sessions::CmcdSessions;

/// Reads `groups` with `threads` workers, calling `consume` with each batch in order,
/// its CMCD reports turned into feedback rows (sessions are followed from the first
/// group). `consume` returns false to stop early.
pub fn read_in_order(
    groups: &[MinuteGroup],
    threads: usize,
    mut consume: impl FnMut(FeedbackBatch) -> bool,
) {
    let mut sessions = CmcdSessions::new();
    read_raw_in_order(groups, threads, |mut batch| {
        batch.derive_cmcd(&mut sessions);
        consume(batch)
    });
}

/// [`read_in_order`] leaving the CMCD reports as they are: for a reader that follows
/// the sessions itself (the recording index, which resumes them where it stopped).
pub fn read_raw_in_order(
    groups: &[MinuteGroup],
    threads: usize,
    mut consume: impl FnMut(FeedbackBatch) -> bool,
) {
    let threads = threads.max(1).min(groups.len().max(1));
    if threads == 1 {
        for g in groups {
            if !consume(FeedbackBatch::read(g)) {
                return;
            }
        }
        return;
    }
    let next = AtomicUsize::new(0);
    let stop = AtomicBool::new(false);
    let (tx, rx) = mpsc::sync_channel::<(usize, FeedbackBatch)>(threads * 2);
    std::thread::scope(|scope| {
        // Owned here so that stopping early drops it and unblocks the workers' sends.
        let rx = rx;
        for _ in 0..threads {
            let tx = tx.clone();
            let (next, stop) = (&next, &stop);
            scope.spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(group) = groups.get(i) else { break };
                    if tx.send((i, FeedbackBatch::read(group))).is_err() {
                        break;
                    }
                }
            });
        }
        drop(tx);
        let mut pending = BTreeMap::new();
        let mut want = 0;
        for (i, batch) in &rx {
            pending.insert(i, batch);
            while let Some(batch) = pending.remove(&want) {
                want += 1;
                if !consume(batch) {
                    stop.store(true, Ordering::Relaxed);
                    return;
                }
            }
        }
    });
}

/// A bar counting minutes read, for a terminal: "{verb} 120/1440 minutes".
pub fn progress_bar(minutes: usize, verb: &str) -> ProgressBar {
    let bar = ProgressBar::new(minutes as u64);
    bar.set_style(
        ProgressStyle::with_template(&format!(
            "{{spinner}} {verb} {{pos}}/{{len}} minutes {{wide_bar}} {{eta}}"
        ))
        .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar
}
