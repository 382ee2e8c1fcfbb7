//! The TUI's costs on the shipped sample: a replay seek (the engine rebuilt at a far
//! point from the minutes the views need; goal well under a second), a whole frame
//! after a seek to the end and back (also on any recording, given as
//! `PEERSCOPE_BENCH_RECORDING=DIR`, its index read from the user's cache), a frame's
//! snapshot, a whole frame with and without view 7's explanation, and drawing a view at 160×48 (goal: a small fraction of a 100 ms frame;
//! for the choropleths, under 2 ms once the raster of that size is cached).

use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use criterion::{Criterion, criterion_group, criterion_main};

use peerscope::config::{Config, validate};
use peerscope::engine::aggregate::qoe::QoeParams;
use peerscope::engine::geography::location::IpGeo;
use peerscope::recording::index::{IndexOptions, RecordingIndex, user_cache};
use peerscope::recording::scan::Recording;
use peerscope::source::frames::FrameSource;
use peerscope::source::replay::{FeedbackMinutes, ReplayEngine};
use peerscope::source::replay_frames::ReplayFrames;
use peerscope::ui::frame;
use peerscope::ui::request::frame_request;
use peerscope::ui::state::{Mode, UiState, View};
use peerscope::ui::theme::{Palette, Theme};
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;

fn bench(c: &mut Criterion) {
    let dir = Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/recordings/olympics-2012-sample"
    ));
    let index = Arc::new(FeedbackMinutes::new(Recording::scan(dir).expect("sample")));
    let geo = IpGeo::load(Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/maps/ip-geo.csv"
    )))
    .expect("geo");
    let options = IndexOptions::default();
    let mut recording_index = RecordingIndex::open(dir, index.groups(), &[], &options).0;
    let first_seen = Arc::new(recording_index.first_seen());
    let service = Arc::new(recording_index.take_service_history());
    let start = index.start().expect("start");
    let ui = UiState::new(Mode::Replay, 60_000, chrono_tz::Asia::Hong_Kong);
    let far = [start + 150 * 60_000, start + 70 * 60_000];

    let mut group = c.benchmark_group("replay");
    group.sample_size(10);
    // Every cell read over the lookback, then the same seek once the index is read: the
    // service's older points from it. The moment alternates across samples too, so that
    // every seek is a far one.
    let mut k = 0;
    for (name, service) in [
        ("seek, 1-h range", None),
        (
            "seek, 1-h range, service history from the index",
            Some(&service),
        ),
    ] {
        group.bench_function(name, |b| {
            let mut engine =
                ReplayEngine::new(Arc::clone(&index), geo.clone(), QoeParams::default());
            engine.set_first_seen(Arc::clone(&first_seen));
            if let Some(service) = service {
                engine.set_service_history(Arc::clone(service));
            }
            b.iter(|| {
                k += 1;
                let at = far[k % 2];
                let request = frame_request(&ui, at, Some(start));
                let cells = if service.is_some() {
                    request.cells_lookback_ms
                } else {
                    request.lookback_ms
                };
                engine.seek(at, request.lookback_ms, cells);
                engine.monitor().accepted()
            });
        });
    }
    let mut engine = ReplayEngine::new(Arc::clone(&index), geo, QoeParams::default());
    engine.set_first_seen(first_seen);
    let at = far[0];
    let request = frame_request(&ui, at, Some(start));
    engine.seek(at, request.lookback_ms, request.lookback_ms);
    group.bench_function("snapshot", |b| {
        b.iter(|| engine.monitor().snapshot(black_box(&request.query)));
    });
    // The frame `peerscope replay` draws at that moment.
    let settings = validate(Config::default(), None).expect("settings");
    let mut frames = ReplayFrames::open(dir, &settings).expect("sample");
    frames.read_index(None, false);
    let data = frames.frame(&request);
    // View 7 asks for an explanation of the metric in focus (QoE) besides the frame.
    let mut explain_ui = ui.clone();
    explain_ui.view = View::Explain;
    explain_ui.focus(peerscope::engine::query::metric::Metric::from_key("qoe").expect("qoe"));
    let explain_request = frame_request(&explain_ui, at, Some(start));
    group.bench_function("frame", |b| b.iter(|| frames.frame(black_box(&request))));
    group.bench_function("frame with view 7's explanation", |b| {
        b.iter(|| frames.frame(black_box(&explain_request)));
    });
    let explained = frames.frame(&explain_request);
    for view in View::ALL {
        let mut ui = ui.clone();
        ui.view = view;
        let data = if view == View::Explain {
            ui = explain_ui.clone();
            &explained
        } else {
            &data
        };
        group.bench_function(format!("draw {} 160x48", view.name()), |b| {
            let area = Rect::new(0, 0, 160, 48);
            b.iter(|| {
                let mut buf = Buffer::empty(area);
                frame::render(
                    Some(data),
                    &ui,
                    at,
                    area,
                    &mut buf,
                    Theme::color(Palette::Full),
                );
                buf
            });
        });
    }
    group.finish();
}

/// What the TUI waits for after a far seek: a frame at the recording's end, then one
/// three hours before it (or an hour after the start of a shorter recording), each a
/// rebuilt engine, the probe book from its copy and the frame's queries.
fn seek_far(c: &mut Criterion) {
    let sample = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/recordings/olympics-2012-sample"
    );
    let (dir, cache) = match std::env::var_os("PEERSCOPE_BENCH_RECORDING") {
        Some(dir) => (PathBuf::from(dir), user_cache()),
        None => (PathBuf::from(sample), None),
    };
    let settings = validate(Config::default(), None).expect("settings");
    let mut frames = ReplayFrames::open(&dir, &settings).expect("a recording");
    frames.read_index(cache, false);
    let (Some(start), Some(end)) = frames.span() else {
        panic!("{} holds no minutes", dir.display());
    };
    let ui = UiState::new(Mode::Replay, 60_000, chrono_tz::Asia::Hong_Kong);
    let moments = [end - 1, (end - 3 * 3_600_000).max(start + 3_600_000)];
    let mut group = c.benchmark_group("replay");
    group.sample_size(10);
    // Counted across samples (each runs the routine anew): every frame is a far seek.
    let mut k = 0;
    group.bench_function("frame after a seek to the end and back", |b| {
        b.iter(|| {
            k += 1;
            let at = moments[k % 2];
            frames.frame(&frame_request(&ui, at, Some(start)))
        });
    });
    // The same with every cell read over the whole lookback, as before the index kept
    // the service's history (and as a filter or a split still asks).
    group.bench_function("frame after a seek, every cell over the lookback", |b| {
        b.iter(|| {
            k += 1;
            let mut request = frame_request(&ui, moments[k % 2], Some(start));
            request.cells_lookback_ms = request.lookback_ms;
            let frame = frames.frame(&request);
            assert!(frame.snapshot.accepted > 0);
            frame.snapshot.accepted
        });
    });
    group.finish();
}

criterion_group!(benches, bench, seek_far);
criterion_main!(benches);
