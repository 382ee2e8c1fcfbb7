//! Snapshots of every view (ratatui's `TestBackend` buffer, via the same `render` the
//! terminal uses) at 80×24 and 160×48: normal, filtered, paused, an empty recording,
//! and with and without colour. The data is the shipped sample recording at 09:35 on
//! 2012-08-07, five minutes into the flash crowd.

use std::path::Path;

use peerscope::config::{Config, Settings, validate};
use peerscope::engine::calendar::Calendar;
use peerscope::source::frames::{FrameData, FrameSource};
use peerscope::source::replay_frames::ReplayFrames;
use peerscope::ui::frame;
use peerscope::ui::request::frame_request;
use peerscope::ui::state::{Mode, UiState, View};
use peerscope::ui::theme::{Palette, Theme};
use ratatui::Terminal;
use ratatui::backend::TestBackend;

const SIZES: [(u16, u16); 2] = [(80, 24), (160, 48)];

fn tz() -> chrono_tz::Tz {
    chrono_tz::Asia::Hong_Kong
}

fn at() -> i64 {
    Calendar::new(tz())
        .parse_time("2012-08-07 09:35")
        .expect("time")
}

fn settings() -> Settings {
    validate(Config::default(), None).expect("the built-in settings")
}

/// The frame `peerscope replay` would show for `ui` at 09:35.
fn sample_frame(ui: &UiState) -> FrameData {
    sample_frame_at(ui, at())
}

fn sample_frame_at(ui: &UiState, at: i64) -> FrameData {
    let dir = Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/recordings/olympics-2012-sample"
    ));
    let mut frames = ReplayFrames::open(dir, &settings()).expect("the sample");
    frames.read_index(None, false);
    let (start, _) = frames.span();
    frames.frame(&frame_request(ui, at, start))
}

/// What a replay of a recording with nothing in it shows.
fn empty_frame(ui: &UiState) -> FrameData {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("empty-recording");
    std::fs::create_dir(&dir).expect("mkdir");
    let mut frames = ReplayFrames::open(&dir, &settings()).expect("an empty recording");
    frames.frame(&frame_request(ui, at(), None))
}

fn draw(
    data: &FrameData,
    ui: &UiState,
    (w, h): (u16, u16),
    palette: Palette,
) -> Terminal<TestBackend> {
    let mut terminal = Terminal::new(TestBackend::new(w, h)).expect("terminal");
    terminal
        .draw(|f| {
            let area = f.area();
            frame::render(
                Some(data),
                ui,
                data.snapshot.at,
                area,
                f.buffer_mut(),
                Theme::color(palette),
            );
        })
        .expect("draw");
    terminal
}

fn text(data: &FrameData, ui: &UiState, size: (u16, u16)) -> String {
    frame::to_text(draw(data, ui, size, Palette::None).backend().buffer())
}

fn ui_for(view: View) -> UiState {
    let mut ui = UiState::new(Mode::Replay, 60_000, tz());
    ui.view = view;
    ui
}

#[test]
fn views_normal() {
    for view in View::ALL {
        let ui = ui_for(view);
        let data = sample_frame(&ui);
        for size in SIZES {
            insta::assert_snapshot!(
                format!("{}_{}x{}", view.name(), size.0, size.1),
                text(&data, &ui, size)
            );
        }
    }
}

#[test]
fn views_filtered_to_one_isp() {
    for view in View::ALL {
        let mut ui = ui_for(view);
        ui.filter.isps.insert("PCCW".into());
        let data = sample_frame(&ui);
        for size in SIZES {
            insta::assert_snapshot!(
                format!("{}_pccw_{}x{}", view.name(), size.0, size.1),
                text(&data, &ui, size)
            );
        }
    }
}

#[test]
fn views_paused() {
    for view in View::ALL {
        let mut ui = ui_for(view);
        ui.paused = true;
        let data = sample_frame(&ui);
        for size in SIZES {
            let screen = text(&data, &ui, size);
            assert!(screen.contains(" PAUSED "), "{screen}");
            insta::assert_snapshot!(
                format!("{}_paused_{}x{}", view.name(), size.0, size.1),
                screen
            );
        }
    }
}

#[test]
fn views_of_an_empty_recording() {
    for view in View::ALL {
        let ui = ui_for(view);
        let data = empty_frame(&ui);
        for size in SIZES {
            insta::assert_snapshot!(
                format!("{}_empty_{}x{}", view.name(), size.0, size.1),
                text(&data, &ui, size)
            );
        }
    }
}

/// With colour the cells carry colours (the buffer's Debug keeps them); with
/// `NO_COLOR` not one cell does, and the text is the same — but for the maps, where
/// shading characters take the colours' place.
#[test]
fn views_with_and_without_colour() {
    for view in View::ALL {
        let ui = ui_for(view);
        let data = sample_frame(&ui);
        let coloured = draw(&data, &ui, (80, 24), Palette::Full);
        let plain = draw(&data, &ui, (80, 24), Palette::None);
        let buffer = coloured.backend().buffer();
        assert!(
            buffer
                .content()
                .iter()
                .any(|c| c.fg != ratatui::style::Color::Reset),
            "no colour in {}",
            view.name()
        );
        assert!(
            plain
                .backend()
                .buffer()
                .content()
                .iter()
                .all(|c| c.fg == ratatui::style::Color::Reset
                    && c.bg == ratatui::style::Color::Reset),
            "colour under NO_COLOR in {}",
            view.name()
        );
        let plain_text = frame::to_text(plain.backend().buffer());
        if matches!(view, View::District | View::Map) {
            // Maps carry the value in colour, or without colour in shading characters.
            assert!(
                plain_text.contains('▒') || plain_text.contains('▓'),
                "{plain_text}"
            );
            assert!(!plain_text.contains('▀'), "{plain_text}");
        } else if view == View::Timeline {
            // The usual line is told from the figures by its dots, not its colour.
            assert!(plain_text.contains("•• usual"), "{plain_text}");
            assert!(frame::to_text(buffer).contains("── usual"));
        } else {
            assert_eq!(frame::to_text(buffer), plain_text);
        }
        insta::assert_snapshot!(
            format!("{}_colour_80x24", view.name()),
            format!("{buffer:?}")
        );
    }
}

#[test]
fn a_small_terminal_is_told_so() {
    let ui = ui_for(View::Overview);
    let data = empty_frame(&ui);
    let screen = text(&data, &ui, (60, 20));
    let words = screen.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(
        words.contains("at least 80×24; this one is 60×20"),
        "{screen}"
    );
}

#[test]
fn the_first_frame_before_any_data_shows_the_configured_zone() {
    // It showed UTC until the first data came.
    let ui = ui_for(View::Overview);
    let screen = peerscope::ui::app::render_text(None, &ui, at(), 160, 48);
    let status = screen.lines().last().expect("a status bar");
    assert!(status.contains("2012-08-07 09:35:00 HKT"), "{status}");
}

#[test]
fn overlays_help_and_filters() {
    let mut ui = ui_for(View::Overview);
    let data = sample_frame(&ui);
    ui.overlay = peerscope::ui::state::Overlay::Help { scroll: 0 };
    insta::assert_snapshot!("help_80x24", text(&data, &ui, (80, 24)));
    ui.overlay = peerscope::ui::state::Overlay::Filters {
        facet: peerscope::ui::state::Facet::Isp,
        row: 1,
    };
    ui.filter.isps.insert("PCCW".into());
    insta::assert_snapshot!("filters_160x48", text(&data, &ui, (160, 48)));
}

/// Views 4 and 5 with a selection moved down the ranking, then filtered to it: the
/// status bar shows the filter and the Overview's figures change.
#[test]
fn district_and_area_selection_and_filter() {
    use peerscope::ui::keys::Action;
    use peerscope::ui::update::update;
    for (view, facet) in [(View::District, "district="), (View::Map, "area=")] {
        let mut ui = ui_for(view);
        let data = sample_frame(&ui);
        update(&mut ui, Action::Down, Some(&data));
        update(&mut ui, Action::Down, Some(&data));
        for size in SIZES {
            insta::assert_snapshot!(
                format!("{}_selected_{}x{}", view.name(), size.0, size.1),
                text(&data, &ui, size)
            );
        }
        update(&mut ui, Action::Enter, Some(&data));
        assert!(!ui.filter.is_empty());
        let filtered = sample_frame(&ui);
        let screen = text(&filtered, &ui, (160, 48));
        assert!(screen.contains(facet), "{screen}");
        insta::assert_snapshot!(format!("{}_filtered_160x48", view.name()), screen);
        assert!(
            filtered.snapshot.current.online < data.snapshot.current.online,
            "the filter narrows the figures"
        );
        // Enter again undoes the filter.
        update(&mut ui, Action::Enter, Some(&filtered));
        assert!(ui.filter.is_empty());
    }
}

/// The choropleths in colour at the larger size too (the buffer's Debug keeps the
/// colours of every half-block).
#[test]
fn maps_in_colour_at_160x48() {
    for view in [View::District, View::Map] {
        let ui = ui_for(view);
        let data = sample_frame(&ui);
        let coloured = draw(&data, &ui, (160, 48), Palette::Full);
        insta::assert_snapshot!(
            format!("{}_colour_160x48", view.name()),
            format!("{:?}", coloured.backend().buffer())
        );
    }
}

/// View 6 after the cable repair at 10:20: the matrix with the route changes, a
/// destination selected and opened as a probe × time heatmap over six hours (the
/// recording's three), the next metric, with and without colour.
#[test]
fn probes_matrix_events_and_time_heatmap() {
    use peerscope::ui::keys::Action;
    use peerscope::ui::update::update;
    let t = Calendar::new(tz())
        .parse_time("2012-08-07 10:40")
        .expect("time");
    let mut ui = ui_for(View::Probes);
    let data = sample_frame_at(&ui, t);
    assert_eq!(data.probes.events.len(), 8, "one repair per probe");
    for size in SIZES {
        insta::assert_snapshot!(
            format!("probes_events_{}x{}", size.0, size.1),
            text(&data, &ui, size)
        );
    }
    // Down to uon, the last destination, and open it.
    for _ in 0..60 {
        update(&mut ui, Action::Down, Some(&data));
    }
    assert_eq!(ui.probe_row, data.probes.rows.len() - 1);
    let matrix = text(&data, &ui, (80, 24));
    assert!(
        matrix.contains("uon"),
        "the selection scrolls into view: {matrix}"
    );
    update(&mut ui, Action::Enter, Some(&data));
    assert_eq!(ui.probe_dest.as_deref(), Some("uon"));
    ui.range = 2;
    let detail = sample_frame_at(&ui, t);
    for size in SIZES {
        insta::assert_snapshot!(
            format!("probes_detail_{}x{}", size.0, size.1),
            text(&detail, &ui, size)
        );
    }
    let coloured = draw(&detail, &ui, (80, 24), Palette::Full);
    insta::assert_snapshot!(
        "probes_detail_colour_80x24",
        format!("{:?}", coloured.backend().buffer())
    );
    update(&mut ui, Action::Close, Some(&detail));
    assert_eq!(ui.probe_dest, None);
    update(&mut ui, Action::NextMetric, Some(&data));
    let loss = sample_frame_at(&ui, t);
    insta::assert_snapshot!("probes_loss_fwd_160x48", text(&loss, &ui, (160, 48)));
    let coloured = draw(&loss, &ui, (160, 48), Palette::Full);
    insta::assert_snapshot!(
        "probes_loss_fwd_colour_160x48",
        format!("{:?}", coloured.backend().buffer())
    );
}

/// The Timeline at the recording's first minutes: the hour before it is no data, not a
/// cliff from 0, in the chart and in its export; in UTC the range crosses midnight, so
/// the axis says which day; alert markers say what they mark.
#[test]
fn timeline_at_the_recording_start() {
    let mut ui = ui_for(View::Timeline);
    ui.utc = true;
    let at = Calendar::new(tz())
        .parse_time("2012-08-07 08:20")
        .expect("time");
    let data = sample_frame_at(&ui, at);
    let screen = text(&data, &ui, (80, 24));
    assert!(screen.contains("08-06 23:21"), "{screen}");
    assert!(screen.contains("▼startup"), "{screen}");
    insta::assert_snapshot!("timeline_recording_start_utc_80x24", screen);

    let csv = peerscope::ui::export::csv(&data, &ui);
    let value = |time: &str| {
        csv.lines()
            .find(|l| l.starts_with(time))
            .and_then(|l| l.rsplit(',').next())
            .map(str::to_owned)
    };
    assert_eq!(value("2012-08-06T23:50:00"), Some(String::new()), "{csv}");
    assert!(value("2012-08-07T00:10:00").is_some_and(|v| v.parse::<i64>().is_ok_and(|n| n > 0)));
}

/// Continuity close to 1 never puts 1.0044 on the axis: axes stop at what the metric
/// can take.
#[test]
fn timeline_axes_stay_inside_the_metric_domain() {
    let mut ui = ui_for(View::Timeline);
    ui.metric = peerscope::engine::query::metric::Metric::ALL
        .iter()
        .position(|m| *m == peerscope::engine::query::metric::Metric::Continuity)
        .expect("continuity");
    let at = Calendar::new(tz())
        .parse_time("2012-08-07 08:50")
        .expect("time");
    let data = sample_frame_at(&ui, at);
    let screen = text(&data, &ui, (80, 24));
    let top = screen.lines().nth(2).expect("the top label");
    let label: f64 = top
        .split('│')
        .next()
        .and_then(|l| l.trim().parse().ok())
        .unwrap_or_else(|| panic!("a number on {top:?}"));
    assert!(label <= 1.0, "{screen}");
}

/// `m` ranks the Overview's ISPs and channels by the chosen metric, worst first, with
/// its value; `Enter` then filters to the row shown first.
#[test]
fn overview_lists_rank_by_the_chosen_metric() {
    use peerscope::engine::query::metric::Metric;
    let mut ui = ui_for(View::Overview);
    ui.metric = Metric::ALL
        .iter()
        .position(|m| *m == Metric::Qoe)
        .expect("QoE");
    let data = sample_frame(&ui);
    let screen = text(&data, &ui, (80, 24));
    assert!(screen.contains("ISPs · QoE"), "{screen}");
    let worst = data
        .snapshot
        .by_isp
        .iter()
        .filter(|b| b.point.figures.qoe.is_some())
        .min_by(|a, b| {
            a.point
                .figures
                .qoe
                .partial_cmp(&b.point.figures.qoe)
                .expect("numbers")
        })
        .expect("an ISP");
    let first_row = screen
        .lines()
        .find(|l| l.contains("ISPs · QoE"))
        .and_then(|_| {
            screen
                .lines()
                .skip_while(|l| !l.contains("ISPs · QoE"))
                .nth(1)
        })
        .expect("a row");
    assert!(
        first_row.contains(&worst.name),
        "{first_row} should be {}",
        worst.name
    );
    assert_eq!(
        peerscope::ui::update::ranked_rows(Some(&data), &ui).first(),
        Some(&worst.name)
    );
    insta::assert_snapshot!("overview_by_qoe_80x24", screen);
}

/// A timeline split by ISP without colour: each series is told apart by its marker,
/// and the legend shows those same markers.
#[test]
fn split_timeline_without_colour_has_a_legend() {
    let mut ui = ui_for(View::Timeline);
    ui.split = peerscope::ui::state::Split::Isp;
    let data = sample_frame(&ui);
    let screen = text(&data, &ui, (100, 30));
    insta::assert_snapshot!("timeline_split_isp_no_colour_100x30", screen);
}

/// The time cursor: `l` puts it on the newest point, `N` on the start of the latest
/// alert in the range, and the line below the chart reads every figure there; the
/// alert's band runs from its start to when it cleared. In replay, `n` past the last
/// alert of the range moves the clock to the next alert of the recording.
#[test]
fn timeline_cursor_reads_every_figure_and_jumps_between_alerts() {
    use peerscope::engine::query::metric::Metric;
    use peerscope::ui::keys::Action;
    use peerscope::ui::state::Cursor;
    use peerscope::ui::update::{Effect, update};
    let mut ui = ui_for(View::Timeline);
    ui.metric = Metric::ALL
        .iter()
        .position(|m| *m == Metric::Qoe)
        .expect("QoE");
    let at = Calendar::new(tz())
        .parse_time("2012-08-07 10:15")
        .expect("time");
    let data = sample_frame_at(&ui, at);
    assert_eq!(update(&mut ui, Action::Right, Some(&data)), Effect::None);
    let newest = data.snapshot.timeline.last().expect("points").at;
    assert_eq!(ui.cursor, Some(Cursor::Newest));
    // On the newest point, the cursor follows the clock.
    let later = sample_frame_at(&ui, at + 300_000);
    assert_eq!(
        peerscope::ui::model::cursor_point(&later, ui.cursor),
        Some(later.snapshot.timeline.len() - 1)
    );

    let first = data.snapshot.timeline[0].at - data.snapshot.timeline_step_ms;
    let latest = data
        .alerts
        .iter()
        .filter(|a| a.at >= first && a.at <= newest)
        .map(|a| a.at)
        .max()
        .expect("an alert in the range");
    assert_eq!(
        update(&mut ui, Action::JumpAlert(-1), Some(&data)),
        Effect::None
    );
    assert_eq!(ui.cursor, Some(Cursor::At(latest)));
    let screen = text(&data, &ui, (80, 24));
    let hhmm = peerscope::ui::format::clock(latest, tz(), false, "%H:%M");
    let readout: String = screen
        .lines()
        .skip_while(|l| !l.starts_with('▏'))
        .take_while(|l| !l.contains("REPLAY"))
        .collect::<Vec<_>>()
        .join(" ");
    assert!(readout.starts_with(&format!("▏{hhmm} QoE ")), "{screen}");
    for m in Metric::ALL {
        assert!(
            readout.contains(m.info().short),
            "{} in {readout}",
            m.label()
        );
    }
    assert!(screen.contains("▼QoE━"), "{screen}");
    assert!(
        screen.contains("── usual") || screen.contains("•• usual"),
        "{screen}"
    );
    insta::assert_snapshot!("timeline_cursor_80x24", screen);
    // The export holds the usual line as drawn, a value per point.
    let csv = peerscope::ui::export::csv(&data, &ui);
    let usual = csv.lines().filter(|l| l.contains(",usual,")).count();
    assert_eq!(usual, data.snapshot.timeline.len(), "{csv}");

    // Esc hides it.
    let mut hidden = ui.clone();
    update(&mut hidden, Action::Close, Some(&data));
    assert_eq!(hidden.cursor, None);

    // Forward past the range: the clock goes to the next alert, the cursor to its start.
    update(&mut ui, Action::Right, Some(&data));
    let next = data
        .next_alert
        .clone()
        .expect("a later alert in the sample");
    let Effect::SeekTo(clock) = update(&mut ui, Action::JumpAlert(1), Some(&data)) else {
        panic!("n past the range must seek");
    };
    assert!(clock >= next.fired_at);
    assert_eq!(ui.cursor, Some(Cursor::At(next.at)));
    let later = sample_frame_at(&ui, clock);
    assert!(
        later
            .alerts
            .iter()
            .any(|a| a.at == next.at && a.kind == next.kind)
    );
    let screen = text(&later, &ui, (80, 24));
    assert!(
        screen.contains(&format!("▼{}", next.kind.short())),
        "{screen}"
    );
}

/// The eight probes' repairs of the path to Nairobi are one change, named with every
/// probe and the whole segment that changed; against its own usual value (`b`) the
/// repaired path stands out although every probe sees the same.
#[test]
fn probes_own_history_and_grouped_route_changes() {
    use peerscope::engine::probes::snapshot::Comparison;
    use peerscope::ui::keys::Action;
    use peerscope::ui::update::update;
    let t = Calendar::new(tz())
        .parse_time("2012-08-07 10:40")
        .expect("time");
    let mut ui = ui_for(View::Probes);
    let data = sample_frame_at(&ui, t);
    assert_eq!(data.probes.changes.len(), 1, "{:#?}", data.probes.changes);
    let change = &data.probes.changes[0];
    assert_eq!(change.dest, "uon");
    assert_eq!(change.probes.len(), 8);
    assert!(change.trimmed, "each probe's own network is not the change");
    let screen = text(&data, &ui, (80, 24));
    assert!(screen.contains("uon UA UB UC UD UE UF UG UH"), "{screen}");
    let after = peerscope::engine::probes::snapshot::format_as_path(&change.after);
    assert!(
        screen
            .replace("│\n│", " ")
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
            .contains(&after),
        "the whole new path {after} is shown: {screen}"
    );

    let uon = data
        .probes
        .rows
        .iter()
        .find(|r| r.dest == "uon")
        .expect("uon");
    let cells: Vec<_> = uon.cells.iter().flatten().collect();
    assert_eq!(cells.len(), 8);
    assert!(
        cells
            .iter()
            .all(|c| c.comparison != Some(Comparison::MuchBetter)),
        "every probe sees the same: nothing stands out against the others"
    );
    assert!(
        cells
            .iter()
            .all(|c| c.vs_usual == Some(Comparison::MuchBetter)
                && c.usual.is_some_and(|u| u > 1.5 * c.value)),
        "the repaired path is far better than its usual: {cells:?}"
    );
    update(&mut ui, Action::ToggleBasis, Some(&data));
    assert_eq!(ui.probe_basis, peerscope::ui::state::ProbeBasis::OwnUsual);
    for _ in 0..60 {
        update(&mut ui, Action::Down, Some(&data));
    }
    let screen = text(&data, &ui, (80, 24));
    assert!(screen.contains("vs its usual"), "{screen}");
    let row = screen
        .lines()
        .find(|l| l.contains("uon"))
        .expect("uon in view");
    assert_eq!(row.matches("++").count(), 8, "{row}");
    insta::assert_snapshot!("probes_vs_usual_80x24", screen);
}

/// View 7 on the sample's injected fault (PCCW × main stalling from 09:05): continuity
/// at 09:12 against the hour before names the pair, the cause's row filters every view.
#[test]
fn explain_locates_the_injected_fault_and_enter_filters_to_it() {
    use peerscope::ui::keys::Action;
    use peerscope::ui::update::update;
    let t = Calendar::new(tz())
        .parse_time("2012-08-07 09:12")
        .expect("time");
    let mut ui = ui_for(View::Explain);
    ui.focus(peerscope::engine::query::metric::Metric::from_key("continuity").expect("continuity"));
    let data = sample_frame_at(&ui, t);
    let e = data.explanation.as_ref().expect("an explanation");
    assert_eq!(
        e.contributors
            .iter()
            .map(peerscope::engine::explain::Contributor::name)
            .collect::<Vec<_>>(),
        ["PCCW × main"]
    );
    for size in SIZES {
        insta::assert_snapshot!(
            format!("explain_fault_{}x{}", size.0, size.1),
            text(&data, &ui, size)
        );
    }
    insta::assert_debug_snapshot!(
        "explain_fault_colour_80x24",
        draw(&data, &ui, (80, 24), Palette::Full).backend().buffer()
    );
    update(&mut ui, Action::Enter, Some(&data));
    assert_eq!(ui.filter.isps.iter().collect::<Vec<_>>(), ["PCCW"]);
    assert_eq!(ui.filter.channels.iter().collect::<Vec<_>>(), ["main"]);
    assert!(ui.filter.districts.is_empty() && ui.filter.areas.is_empty());
    // The day before has no data in a three-hour recording: said so, not guessed.
    update(&mut ui, Action::ToggleBasis, Some(&data));
    ui.filter = peerscope::engine::query::filter::Filter::default();
    let data = sample_frame_at(&ui, t);
    let e = data.explanation.as_ref().expect("an explanation");
    assert_eq!(e.verdict, peerscope::engine::explain::Verdict::NoBaseline);
    assert!(text(&data, &ui, (80, 24)).contains("no baseline to compare with"));
}
