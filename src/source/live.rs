//! Live records into the engine: lines from several sources, put in `recv` order.
//!
//! Sources deliver at their own pace (a backlog in big chunks, then a trickle), and
//! two feedback servers' records interleave. Lines wait in a heap keyed by `recv` and
//! go into the engine once the merge has settled past them (the sources' watermarks,
//! at most a short hold-back behind the clock: `LiveFrames` decides), so the engine
//! sees one ordered stream. A line that arrives later than that still goes
//! in (the engine files it in its bucket); nothing is dropped. With `--record`, every
//! line received is also appended to a recording directory, one tree per source.
//! CMCD lines wait beside feedback lines and become feedback records as they go in,
//! through the feed's one [`CmcdSessions`].

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::PathBuf;

use crate::engine::cmcd::json::parse_log_line;
use crate::engine::cmcd::sessions::CmcdSessions;
use crate::engine::monitor::Monitor;
use crate::engine::probes::ProbeBook;
use crate::engine::record::{MAX_LINE, Origin, parse_feedback, parse_probe};
use crate::recording::decode::lines;
use crate::recording::layout::{self, Stream};

/// The longest a line waits for earlier lines from other sources.
pub const HOLD_BACK_MS: i64 = 2_000;

/// A line waiting for its turn: (`recv`, arrival number, its stream, the line).
type Waiting = Reverse<(i64, u64, Stream, Box<[u8]>)>;

pub struct LiveFeed {
    monitor: Monitor,
    waiting: BinaryHeap<Waiting>,
    probes: ProbeBook,
    probes_waiting: BinaryHeap<Waiting>,
    cmcd: CmcdSessions,
    arrivals: u64,
    /// Newest `recv` per source, for its lag.
    pub newest: Vec<Option<i64>>,
    pub bytes: Vec<u64>,
    pub skipped: u64,
    recorder: Option<Recorder>,
}

impl LiveFeed {
    pub fn new(
        monitor: Monitor,
        probes: ProbeBook,
        sources: usize,
        record: Option<(PathBuf, Vec<String>)>,
    ) -> Self {
        LiveFeed {
            monitor,
            waiting: BinaryHeap::new(),
            probes,
            probes_waiting: BinaryHeap::new(),
            cmcd: CmcdSessions::new(),
            arrivals: 0,
            newest: vec![None; sources],
            bytes: vec![0; sources],
            skipped: 0,
            recorder: record.map(|(root, names)| Recorder::new(&root, &names)),
        }
    }

    pub fn monitor(&self) -> &Monitor {
        &self.monitor
    }

    pub fn probes(&self) -> &ProbeBook {
        &self.probes
    }

    /// Takes complete lines of `stream` from `source`. Probe lines wait like feedback
    /// lines, so route changes are scored in `recv` order across servers too.
    pub fn add(&mut self, source: usize, stream: Stream, bytes: &[u8]) -> std::io::Result<()> {
        if let Some(b) = self.bytes.get_mut(source) {
            *b += bytes.len() as u64;
        }
        for (_, line) in lines(bytes) {
            if line.len() > MAX_LINE {
                self.skipped += 1;
                continue;
            }
            let recv = match stream {
                Stream::Feedback => parse_feedback(line, Origin::Log).map(|r| r.payload.recv),
                Stream::Probes => parse_probe(line, Origin::Log).map(|r| r.recv),
                Stream::Cmcd => parse_log_line(line).map(|r| r.recv),
            };
            let Ok(recv) = recv else {
                self.skipped += 1;
                continue;
            };
            if stream != Stream::Probes {
                // A source's lag is that of its viewers' reports: probes come every few
                // minutes.
                if let Some(n) = self.newest.get_mut(source) {
                    *n = Some(n.map_or(recv, |v| v.max(recv)));
                }
            }
            if let Some(rec) = &mut self.recorder {
                rec.write(source, stream, recv, line)?;
            }
            self.arrivals += 1;
            let heap = match stream {
                Stream::Feedback | Stream::Cmcd => &mut self.waiting,
                Stream::Probes => &mut self.probes_waiting,
            };
            heap.push(Reverse((
                recv,
                self.arrivals,
                stream,
                line.to_vec().into_boxed_slice(),
            )));
        }
        Ok(())
    }

    /// Feeds every waiting line with `recv` ≤ `until`, in order, then moves the clock.
    pub fn settle(&mut self, until: i64, clock: i64) {
        for (stream, line) in due(&mut self.waiting, until) {
            if stream == Stream::Cmcd {
                if let Ok(r) = parse_log_line(&line) {
                    let monitor = &mut self.monitor;
                    self.cmcd
                        .push_report(&r.report, r.recv, &r.ip, |core| monitor.ingest(&core));
                }
            } else if let Ok(r) = parse_feedback(&line, Origin::Log) {
                self.monitor.ingest(&r.core());
            }
        }
        self.monitor.advance(clock);
        for (_, line) in due(&mut self.probes_waiting, until) {
            if let Ok(r) = parse_probe(&line, Origin::Log) {
                self.probes.ingest(&r);
            }
        }
        self.probes.advance(clock);
    }

    pub fn waiting(&self) -> usize {
        self.waiting.len()
    }
}

/// The lines of `heap` with `recv` ≤ `until`, oldest first, taken out of it.
fn due(
    heap: &mut BinaryHeap<Waiting>,
    until: i64,
) -> impl Iterator<Item = (Stream, Box<[u8]>)> + '_ {
    std::iter::from_fn(move || {
        let Reverse((recv, _, _, _)) = heap.peek()?;
        if *recv > until {
            return None;
        }
        heap.pop()
            .map(|Reverse((_, _, stream, line))| (stream, line))
    })
}

/// Appends received lines to `root/<source>/<stream>/YYYYMMDD/YYYYMMDD-HHMM.jsonl`.
struct Recorder {
    dirs: Vec<PathBuf>,
    /// The open minute file per source and stream, in [`Stream::ALL`]'s order.
    open: Vec<[Option<(i64, File)>; Stream::ALL.len()]>,
}

impl Recorder {
    fn new(root: &std::path::Path, names: &[String]) -> Self {
        let dirs = names
            .iter()
            .map(|n| {
                let safe: String = n
                    .chars()
                    .map(|c| {
                        if c.is_ascii_alphanumeric() || c == '-' || c == '.' {
                            c
                        } else {
                            '_'
                        }
                    })
                    .collect();
                root.join(safe)
            })
            .collect();
        Recorder {
            dirs,
            open: names.iter().map(|_| [None, None, None]).collect(),
        }
    }

    fn write(
        &mut self,
        source: usize,
        stream: Stream,
        recv: i64,
        line: &[u8],
    ) -> std::io::Result<()> {
        let minute = recv.div_euclid(60_000) * 60_000;
        let Some(slots) = self.open.get_mut(source) else {
            return Ok(());
        };
        let slot = &mut slots[stream as usize];
        if slot.as_ref().is_none_or(|(m, _)| *m != minute) {
            let path = layout::minute_path(&self.dirs[source], stream, minute);
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent)?;
            }
            let file = OpenOptions::new().create(true).append(true).open(&path)?;
            *slot = Some((minute, file));
        }
        if let Some((_, f)) = slot {
            f.write_all(line)?;
            f.write_all(b"\n")?;
        }
        Ok(())
    }
}
