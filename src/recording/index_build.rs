//! The one pass that builds a recording's index, as a state fed minute by minute: kept
//! at the start of a minute near the recording's end, it is taken up again there when
//! the recording has grown, so that the index of a live recording reads its new minutes
//! only, and comes out as a whole build would, byte for byte (the same code, fed the
//! same minutes in the same order).

use serde::{Deserialize, Serialize};

use super::batch::FeedbackBatch;
use super::skipped::Skipped;
use crate::engine::aggregate::bucket::{BucketStats, Series};
use crate::engine::aggregate::qoe::QoeParams;
use crate::engine::aggregate::service::{Block, Buckets, ServiceHistory};
use crate::engine::aggregate::{Aggregator, SessionTrack};
use crate::engine::calendar::{Calendar, MINUTE_MS};
use crate::engine::cmcd::sessions::CmcdSessions;
use crate::engine::geography::location::IpGeo;
use crate::engine::observe::catalog::Catalog;
use crate::engine::query::snapshot::Point;

/// How far before the recording's last minute the build's state is kept: a live
/// server writes its open minute and compresses the closed ones within a minute or
/// two, so the minutes before this are those that no longer change.
pub const UNSETTLED_MS: i64 = 5 * MINUTE_MS;

/// A quarter hour: the index's unit for views (every time zone's midnight is on one).
pub const SLOT_MS: i64 = 15 * 60_000;

/// A view: its lines' span and, if one of them was accepted, its (start, length).
pub type ViewSpan = ((i64, i64), Option<(i64, i64)>);

/// The views of one quarter hour: when the earliest with a record in it began, and the
/// summed length of those that began in it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SlotViews {
    pub earliest_start: i64,
    pub begun_ms: i64,
}

/// One block of the service's history ([`BLOCK_MS`](crate::engine::aggregate::service::BLOCK_MS)),
/// its buckets kept in postcard's encoding: loading the index copies the bytes, and a
/// frame decodes only the blocks it reads (the history is two thirds of a long
/// recording's index).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ServiceBlock {
    /// The start of its first bucket.
    pub first: i64,
    /// The peers online then.
    pub online_at_start: i64,
    #[serde(with = "as_bytes")]
    pub buckets: Vec<u8>,
}

impl ServiceBlock {
    /// The history's block, decoded when a frame first reads it. (The index's bytes
    /// are checked whole when it is loaded: they are those written.)
    pub fn into_block(self) -> Block {
        fn decode(bytes: &[u8]) -> Buckets {
            postcard::from_bytes(bytes).expect("a block the index wrote decodes")
        }
        Block::kept(
            self.first,
            self.online_at_start,
            self.buckets.into_boxed_slice(),
            decode,
        )
    }
}

/// A byte vector as one run of bytes, not a sequence of numbers: postcard reads it
/// back with one copy.
mod as_bytes {
    pub fn serialize<S: serde::Serializer>(bytes: &[u8], serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_bytes(bytes)
    }

    pub fn deserialize<'de, D: serde::Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Vec<u8>, D::Error> {
        struct Bytes;
        impl serde::de::Visitor<'_> for Bytes {
            type Value = Vec<u8>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("bytes")
            }
            fn visit_bytes<E: serde::de::Error>(self, v: &[u8]) -> Result<Vec<u8>, E> {
                Ok(v.to_vec())
            }
            fn visit_byte_buf<E: serde::de::Error>(self, v: Vec<u8>) -> Result<Vec<u8>, E> {
                Ok(v)
            }
        }
        deserializer.deserialize_byte_buf(Bytes)
    }
}

/// Everything the pass has learnt so far.
#[derive(Debug, Serialize, Deserialize)]
pub struct IndexBuilder {
    /// CMCD sessions, followed from the recording's first minute.
    cmcd: CmcdSessions,
    /// Locations play no part here: an empty table saves the lookups.
    catalog: Catalog,
    service: Aggregator,
    first_recv: Vec<i64>,
    /// Per view, by its id: the span of all its lines, duplicates too (a view's every
    /// record is read with it), and its extent as `report` counts it.
    views: Vec<((i64, i64), Option<SessionTrack>)>,
    online_span_ms: i64,
    skipped: Skipped,
    skipped_by_minute: Vec<(i64, u64)>,
}

/// What the pass found, once every minute is read: most of the index.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Built {
    /// Peers by the `recv` of their first accepted record, earliest first.
    pub first_seen: Vec<(Box<str>, i64)>,
    /// Every channel of an accepted record, sorted.
    pub channels: Vec<Box<str>>,
    /// The whole service's one-minute points, every minute from the recording's first
    /// to its last, exactly as `report --by minute` counts them.
    pub minutes: Vec<Point>,
    /// The whole service's sums in the live engine's finest buckets, in blocks (a
    /// replay's `ServiceHistory`).
    pub service: Vec<ServiceBlock>,
    /// (start, lines) of every minute where lines were skipped.
    pub skipped_by_minute: Vec<(i64, u64)>,
    /// Start of `slots[0]`, a multiple of [`SLOT_MS`].
    pub first_slot: i64,
    pub slots: Vec<SlotViews>,
    /// The longest a record keeps its peer online (2 × its period).
    pub online_span_ms: i64,
    pub skipped: Skipped,
}

impl IndexBuilder {
    pub fn new(qoe: QoeParams) -> IndexBuilder {
        IndexBuilder {
            cmcd: CmcdSessions::new(),
            catalog: Catalog::new(IpGeo::empty()),
            service: Aggregator::new(qoe, Calendar::new(chrono_tz::UTC), MINUTE_MS).keep_finest(),
            first_recv: Vec::new(),
            views: Vec::new(),
            online_span_ms: 0,
            skipped: Skipped::default(),
            skipped_by_minute: Vec::new(),
        }
    }

    /// Takes the next minute (minutes come in order, none twice).
    pub fn take(&mut self, mut batch: FeedbackBatch) {
        batch.derive_cmcd(&mut self.cmcd);
        self.skipped.merge(&batch.skipped);
        let lines = batch.skipped.total();
        if lines > 0 {
            self.skipped_by_minute.push((batch.start_ms, lines));
        }
        for record in batch.records() {
            let recv = record.payload.recv;
            let session = self.catalog.sessions.intern(record.session) as usize;
            // Ids are handed out in order, and only here before `observe` sees one.
            debug_assert!(session <= self.views.len());
            if session == self.views.len() {
                self.views.push(((recv, recv), None));
            }
            let view = &mut self.views[session];
            view.0 = (view.0.0.min(recv), view.0.1.max(recv));
            self.online_span_ms = self
                .online_span_ms
                .max(record.payload.online_until() - recv);
            let Some(obs) = self.catalog.observe(&record) else {
                continue;
            };
            self.service.ingest(&obs);
            view.1
                .get_or_insert(SessionTrack::begin(obs.peer, recv))
                .extend(recv, obs.payload.event);
            let peer = obs.peer as usize;
            if peer >= self.first_recv.len() {
                self.first_recv.resize(peer + 1, i64::MAX);
            }
            self.first_recv[peer] = self.first_recv[peer].min(recv);
        }
    }

    /// What was learnt from the minutes `[start, end)` (whole minutes) of the recording.
    pub fn finish(mut self, start: i64, end: i64) -> Built {
        let catalog = &self.catalog;
        let mut first_seen: Vec<(Box<str>, i64)> = self
            .first_recv
            .iter()
            .enumerate()
            .filter(|(_, recv)| **recv != i64::MAX)
            .map(|(id, &recv)| {
                let id = u32::try_from(id).expect("peer ids are u32");
                (catalog.peers.name(id).into(), recv)
            })
            .collect();
        first_seen.sort_unstable_by(|a, b| a.1.cmp(&b.1).then_with(|| a.0.cmp(&b.0)));
        let mut channels: Vec<Box<str>> = catalog.channels.names().map(Into::into).collect();
        channels.sort_unstable();
        self.service.close();
        let minutes = if start < end {
            minute_points(self.service.buckets(), start, end)
        } else {
            Vec::new()
        };
        let (first_slot, slots) = slot_views(
            self.views
                .iter()
                .map(|(span, track)| (*span, track.map(|t| (t.start, t.length_ms())))),
        );
        Built {
            first_seen,
            channels,
            minutes,
            service: ServiceHistory::blocks_of(
                self.service
                    .take_finest()
                    .map(Series::into_by_start)
                    .unwrap_or_default(),
            )
            .into_iter()
            .map(|(first, online_at_start, buckets)| ServiceBlock {
                first,
                online_at_start,
                buckets: postcard::to_stdvec(&buckets).expect("buckets encode"),
            })
            .collect(),
            skipped_by_minute: self.skipped_by_minute,
            first_slot,
            slots,
            online_span_ms: self.online_span_ms,
            skipped: self.skipped,
        }
    }
}

/// A point per minute of `[start, end)` (whole minutes): each minute's figures and the
/// peers online at its end.
fn minute_points(minutes: &Series, start: i64, end: i64) -> Vec<Point> {
    let mut points = Vec::new();
    let mut online = 0i64;
    let mut filed = minutes.iter().peekable();
    let mut index = start.div_euclid(MINUTE_MS);
    while index * MINUTE_MS < end {
        let mut figures = BucketStats::default().figures();
        // Online changes filed before the recording's first minute count too.
        while let Some((i, stats)) = filed.next_if(|(i, _)| *i <= index) {
            online += i64::from(stats.online_delta);
            if *i == index {
                figures = stats.figures();
            }
        }
        index += 1;
        points.push(Point {
            at: index * MINUTE_MS,
            online,
            figures,
        });
    }
    points
}

/// Every quarter hour between the first view's start and the last one's end, with the
/// views that have a record in it — taken as every view whose span covers it, a
/// superset that only ever makes the part read larger — and the length of those that
/// began in it.
pub fn slot_views(views: impl Iterator<Item = ViewSpan> + Clone) -> (i64, Vec<SlotViews>) {
    let Some(first) = views.clone().map(|((s, _), _)| s).min() else {
        return (0, Vec::new());
    };
    let last = views.clone().map(|((_, e), _)| e).max().unwrap_or(first);
    let first_slot = first.div_euclid(SLOT_MS) * SLOT_MS;
    let count = usize::try_from((last - first_slot).div_euclid(SLOT_MS) + 1).unwrap_or(0);
    let mut slots = vec![
        SlotViews {
            earliest_start: i64::MAX,
            begun_ms: 0,
        };
        count
    ];
    let slot_of = |t: i64| usize::try_from((t - first_slot).div_euclid(SLOT_MS)).unwrap_or(0);
    for ((start, end), counted) in views {
        for slot in &mut slots[slot_of(start)..=slot_of(end)] {
            slot.earliest_start = slot.earliest_start.min(start);
        }
        if let Some((start, length)) = counted {
            slots[slot_of(start)].begun_ms += length;
        }
    }
    (first_slot, slots)
}
