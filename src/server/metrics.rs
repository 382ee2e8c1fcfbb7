//! `GET /metrics` (DESIGN §4): Prometheus text exposition, generated from one table of
//! metrics (name, help, type, where the value comes from).

use std::fmt::Write as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::state::AppState;
use super::writer::WriterStats;
use crate::recording::layout::Stream;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Type {
    Counter,
    Gauge,
}

/// One metric: its rows are (labels, value).
struct Metric {
    name: &'static str,
    help: &'static str,
    kind: Type,
    rows: fn(&AppState) -> Vec<(String, u64)>,
}

fn one(v: &AtomicU64) -> Vec<(String, u64)> {
    vec![(String::new(), v.load(Ordering::Relaxed))]
}

fn per_stream(s: &AppState, field: fn(&WriterStats) -> &AtomicU64) -> Vec<(String, u64)> {
    Stream::ALL
        .into_iter()
        .map(|st| {
            (
                format!("{{stream=\"{st}\"}}"),
                field(&s.writer(st).stats).load(Ordering::Relaxed),
            )
        })
        .collect()
}

const METRICS: &[Metric] = &[
    Metric {
        name: "peerscope_records_accepted_total",
        help: "Records stored and acknowledged.",
        kind: Type::Counter,
        rows: |s| {
            Stream::ALL
                .into_iter()
                .map(|st| {
                    (
                        format!("{{stream=\"{st}\"}}"),
                        s.counters.accepted(st).load(Ordering::Relaxed),
                    )
                })
                .collect()
        },
    },
    Metric {
        name: "peerscope_records_rejected_total",
        help: "Records refused, by reason.",
        kind: Type::Counter,
        rows: |s| {
            s.counters
                .rejected
                .lock()
                .map(|m| {
                    m.iter()
                        .map(|((st, r), n)| {
                            (format!("{{stream=\"{st}\",reason=\"{}\"}}", r.name()), *n)
                        })
                        .collect()
                })
                .unwrap_or_default()
        },
    },
    Metric {
        name: "peerscope_bodies_refused_total",
        help: "Requests refused whole, by reason.",
        kind: Type::Counter,
        rows: |s| {
            s.counters
                .refused
                .lock()
                .map(|m| {
                    m.iter()
                        .map(|(r, n)| (format!("{{reason=\"{r}\"}}"), *n))
                        .collect()
                })
                .unwrap_or_default()
        },
    },
    Metric {
        name: "peerscope_bytes_written_total",
        help: "Bytes appended to log files.",
        kind: Type::Counter,
        rows: |s| per_stream(s, |w| &w.bytes),
    },
    Metric {
        name: "peerscope_fsyncs_total",
        help: "fdatasync calls.",
        kind: Type::Counter,
        rows: |s| per_stream(s, |w| &w.fsyncs),
    },
    Metric {
        name: "peerscope_fsync_microseconds_total",
        help: "Time spent in fdatasync.",
        kind: Type::Counter,
        rows: |s| per_stream(s, |w| &w.fsync_micros),
    },
    Metric {
        name: "peerscope_commit_groups_total",
        help: "Groups of requests written together.",
        kind: Type::Counter,
        rows: |s| per_stream(s, |w| &w.groups),
    },
    Metric {
        name: "peerscope_late_records_total",
        help: "Records filed into a later minute than their stamp.",
        kind: Type::Counter,
        rows: |s| per_stream(s, |w| &w.late_records),
    },
    Metric {
        name: "peerscope_write_errors_total",
        help: "Failed writes or syncs (answered 503).",
        kind: Type::Counter,
        rows: |s| per_stream(s, |w| &w.write_errors),
    },
    Metric {
        name: "peerscope_rotations_total",
        help: "Minute files closed.",
        kind: Type::Counter,
        rows: |s| per_stream(s, |w| &w.rotations),
    },
    Metric {
        name: "peerscope_compress_failures_total",
        help: "Failed attempts to compress a closed minute (each is retried).",
        kind: Type::Counter,
        rows: |s| per_stream(s, |w| &w.compress_failures),
    },
    Metric {
        name: "peerscope_uncompressed_closed_minutes",
        help: "Closed minutes waiting for another try at compression.",
        kind: Type::Gauge,
        rows: |s| per_stream(s, |w| &w.uncompressed_closed),
    },
    Metric {
        name: "peerscope_unauthorized_total",
        help: "Read requests without a valid token.",
        kind: Type::Counter,
        rows: |s| one(&s.counters.unauthorized),
    },
    Metric {
        name: "peerscope_bad_names_total",
        help: "Downloads or streams refused by name.",
        kind: Type::Counter,
        rows: |s| one(&s.counters.bad_names),
    },
    Metric {
        name: "peerscope_odd_files_total",
        help: "Links, FIFOs, devices or directories met where a minute file should be, and skipped.",
        kind: Type::Counter,
        rows: |s| one(&s.counters.odd_files),
    },
    Metric {
        name: "peerscope_expired_cursors_total",
        help: "Tail requests answered 410.",
        kind: Type::Counter,
        rows: |s| one(&s.counters.expired_cursors),
    },
    Metric {
        name: "peerscope_connections_refused_total",
        help: "Connections closed on accept: over --max-connections.",
        kind: Type::Counter,
        rows: |s| one(&s.connections.refused),
    },
    Metric {
        name: "peerscope_accept_errors_total",
        help: "Failed accepts (for example out of file descriptors).",
        kind: Type::Counter,
        rows: |s| one(&s.connections.accept_errors),
    },
    Metric {
        name: "peerscope_store_errors_total",
        help: "Ingest requests answered 503.",
        kind: Type::Counter,
        rows: |s| one(&s.counters.store_errors),
    },
    Metric {
        name: "peerscope_connections_open",
        help: "Connections open now.",
        kind: Type::Gauge,
        rows: |s| one(&s.connections.open),
    },
    Metric {
        name: "peerscope_tail_waiting",
        help: "Tail requests open now (reading or waiting).",
        kind: Type::Gauge,
        rows: |s| {
            vec![(
                String::new(),
                (s.max_tail_requests - s.tail_slots.available_permits()) as u64,
            )]
        },
    },
];

fn exposition(s: &AppState) -> String {
    let mut out = String::new();
    for m in METRICS {
        let kind = match m.kind {
            Type::Counter => "counter",
            Type::Gauge => "gauge",
        };
        let _ = writeln!(
            out,
            "# HELP {} {}\n# TYPE {} {kind}",
            m.name, m.help, m.name
        );
        for (labels, v) in (m.rows)(s) {
            let _ = writeln!(out, "{}{labels} {v}", m.name);
        }
    }
    out
}

pub async fn metrics(State(s): State<Arc<AppState>>) -> Response {
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        exposition(&s),
    )
        .into_response()
}
