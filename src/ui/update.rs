//! Keys → actions → state: `on_key` finds a key's action in the key table, `update`
//! changes [`UiState`] and says what the app loop must do beyond that (move the replay
//! clock, write an export). Key events are plain values and nothing here draws, so
//! "press f, select PCCW" is a plain unit test.

use crossterm::event::{KeyCode, KeyEvent};

use super::keys::{Action, dispatch};
use super::state::{
    Cursor, Facet, HISTOGRAM_METRICS, Mode, Overlay, RANGES_MS, SPEEDS, Split, UiState, View,
    WINDOWS_MS,
};
use crate::engine::calendar::Calendar;
use crate::engine::explain::Baseline;
use crate::engine::geography::Layer;
use crate::engine::probes::ProbeMetric;
use crate::engine::query::metric::Metric;
use crate::source::frames::FrameData;

use super::model;

/// What the app loop does after an update.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    None,
    /// Move the replay clock by this many ms.
    Seek(i64),
    /// Put the replay clock here.
    SeekTo(i64),
    Export,
}

/// The names and counts of a filter facet, as the panel lists them.
pub fn facet_rows(data: Option<&FrameData>, facet: Facet) -> Vec<(String, i64)> {
    let Some(d) = data else { return Vec::new() };
    let s = &d.snapshot;
    match facet {
        Facet::Isp => s.isp_counts.clone(),
        Facet::Channel => s.channel_counts.clone(),
        Facet::District => s.district_counts.clone(),
    }
}

/// The Overview's ranked lists: ISPs (0) and channels (1).
pub fn ranked_rows(data: Option<&FrameData>, ui: &UiState) -> Vec<String> {
    let Some(d) = data else { return Vec::new() };
    let rows = if ui.ranked.0 == 0 {
        &d.snapshot.by_isp
    } else {
        &d.snapshot.by_channel
    };
    super::model::ranked_groups(rows, ui.metric())
        .into_iter()
        .map(|b| b.name.clone())
        .collect()
}

/// Handles one key; `now` is the clock, from which `g` steps and whose day it reads a
/// bare time on.
pub fn on_key(ui: &mut UiState, key: KeyEvent, data: Option<&FrameData>, now: i64) -> Effect {
    if let Overlay::GoTo { text, error } = &mut ui.overlay {
        match key.code {
            KeyCode::Esc => ui.overlay = Overlay::None,
            KeyCode::Backspace => {
                text.pop();
                *error = None;
            }
            KeyCode::Enter => {
                // In the zone the clock is shown in: after `t`, UTC.
                let zone = if ui.utc { chrono_tz::UTC } else { ui.tz };
                match Calendar::new(zone).parse_go_to(text, now) {
                    Some(t) => {
                        ui.overlay = Overlay::None;
                        return Effect::SeekTo(t);
                    }
                    None => *error = Some(format!("not a time: {text:?}")),
                }
            }
            KeyCode::Char(c) if text.len() < 40 => {
                text.push(c);
                *error = None;
            }
            _ => {}
        }
        return Effect::None;
    }
    match dispatch(key, ui.mode, &ui.overlay) {
        Some(action) => update(ui, action, data),
        None => Effect::None,
    }
}

pub fn update(ui: &mut UiState, action: Action, data: Option<&FrameData>) -> Effect {
    ui.message = None;
    if let Overlay::Filters { facet, row } = ui.overlay.clone() {
        return update_filters(ui, action, data, facet, row);
    }
    let views = View::ALL.len();
    let current = View::ALL.iter().position(|v| *v == ui.view).unwrap_or(0);
    if ui.view == View::Probes && update_probes(ui, action, data) {
        return Effect::None;
    }
    if ui.view == View::Explain && update_explain(ui, action, data) {
        return Effect::None;
    }
    if let Some(layer) = map_layer(ui.view) {
        match action {
            Action::Up => return move_region(ui, data, layer, -1),
            Action::Down => return move_region(ui, data, layer, 1),
            Action::Enter => return filter_region(ui, data, layer),
            _ => {}
        }
    }
    if ui.view == View::Timeline && ui.overlay == Overlay::None {
        match action {
            Action::Left | Action::Right => {
                let steps = if action == Action::Left { -1 } else { 1 };
                if let Some(d) = data {
                    ui.cursor = model::move_cursor(d, ui.cursor, steps);
                }
                return Effect::None;
            }
            Action::Close => {
                ui.cursor = None;
                return Effect::None;
            }
            _ => {}
        }
    }
    match action {
        Action::JumpAlert(direction) => {
            ui.view = View::Timeline;
            let Some(d) = data else { return Effect::None };
            let forward = direction > 0;
            match model::jump_alert(d, ui.cursor, forward, ui.mode == Mode::Replay) {
                model::AlertJump::Cursor(at) => ui.cursor = Some(Cursor::At(at)),
                model::AlertJump::Seek { clock, cursor } => {
                    ui.cursor = Some(Cursor::At(cursor));
                    return Effect::SeekTo(clock);
                }
                model::AlertJump::Nothing => {
                    let which = if forward { "later" } else { "earlier" };
                    let place = match (ui.mode, &d.loading) {
                        (Mode::Live, _) => " in this range",
                        (Mode::Replay, None) => " in the recording",
                        (Mode::Replay, Some(_)) => " yet (still reading the recording)",
                    };
                    ui.message = Some(format!("no {which} alert{place}"));
                }
            }
        }
        Action::NextView => ui.view = View::ALL[(current + 1) % views],
        Action::PrevView => ui.view = View::ALL[(current + views - 1) % views],
        Action::ShowView(i) => ui.view = View::ALL[i.min(views - 1)],
        Action::NextMetric => {
            if ui.view == View::Histogram {
                ui.histogram_metric = (ui.histogram_metric + 1) % HISTOGRAM_METRICS.len();
            } else {
                ui.metric = (ui.metric + 1) % Metric::ALL.len();
            }
        }
        Action::NextWindow => ui.window = (ui.window + 1) % WINDOWS_MS.len(),
        Action::ZoomIn => ui.range = ui.range.saturating_sub(1),
        Action::ZoomOut => ui.range = (ui.range + 1).min(RANGES_MS.len() - 1),
        Action::NextSplit => {
            ui.split = match ui.split {
                Split::None => Split::Isp,
                Split::Isp => Split::Channel,
                Split::Channel => Split::None,
            }
        }
        Action::OpenFilters => {
            ui.overlay = Overlay::Filters {
                facet: Facet::Isp,
                row: 0,
            }
        }
        Action::ClearFilters => ui.filter = crate::engine::query::filter::Filter::default(),
        Action::Help => ui.overlay = Overlay::Help { scroll: 0 },
        Action::ScrollHelp(lines) => {
            if let Overlay::Help { scroll } = &mut ui.overlay {
                *scroll = super::panels::help::scrolled(ui.mode, ui.screen, *scroll, lines);
            }
        }
        Action::Close => ui.overlay = Overlay::None,
        Action::Quit => ui.quit = true,
        Action::Up => ui.ranked.1 = ui.ranked.1.saturating_sub(1),
        Action::Down => {
            let n = ranked_rows(data, ui).len();
            ui.ranked.1 = (ui.ranked.1 + 1).min(n.saturating_sub(1));
        }
        Action::Left | Action::Right => ui.ranked = (1 - ui.ranked.0.min(1), 0),
        Action::Enter => {
            if let Some(name) = ranked_rows(data, ui).get(ui.ranked.1) {
                let facet = if ui.ranked.0 == 0 {
                    Facet::Isp
                } else {
                    Facet::Channel
                };
                let set = facet.values(&mut ui.filter);
                // Enter on the row that is the whole filter undoes it.
                if set.len() == 1 && set.contains(name) {
                    set.clear();
                } else {
                    set.clear();
                    set.insert(name.clone());
                }
            }
        }
        Action::Export => return Effect::Export,
        Action::ToggleUtc => ui.utc = !ui.utc,
        Action::Pause if ui.mode == Mode::Replay => ui.paused = !ui.paused,
        Action::Slower => ui.speed = ui.speed.saturating_sub(1),
        Action::Faster => ui.speed = (ui.speed + 1).min(SPEEDS.len() - 1),
        Action::SeekMinutes(m) => return Effect::Seek(m * 60_000),
        Action::GoTo => {
            ui.overlay = Overlay::GoTo {
                text: String::new(),
                error: None,
            }
        }
        Action::Pause | Action::Toggle | Action::ToggleBasis => {}
    }
    Effect::None
}

fn update_filters(
    ui: &mut UiState,
    action: Action,
    data: Option<&FrameData>,
    facet: Facet,
    row: usize,
) -> Effect {
    let column = Facet::ALL.iter().position(|f| *f == facet).unwrap_or(0);
    let rows = facet_rows(data, facet);
    let (facet, row) = match action {
        Action::Up => (facet, row.saturating_sub(1)),
        Action::Down => (facet, (row + 1).min(rows.len().saturating_sub(1))),
        Action::Left => (Facet::ALL[(column + 2) % 3], 0),
        Action::Right => (Facet::ALL[(column + 1) % 3], 0),
        Action::Toggle => {
            if let Some((name, _)) = rows.get(row) {
                let set = facet.values(&mut ui.filter);
                if !set.remove(name) {
                    set.insert(name.clone());
                }
            }
            (facet, row)
        }
        Action::ClearFilters => {
            ui.filter = crate::engine::query::filter::Filter::default();
            (facet, row)
        }
        Action::Close | Action::Quit => {
            ui.overlay = Overlay::None;
            return Effect::None;
        }
        _ => (facet, row),
    };
    ui.overlay = Overlay::Filters { facet, row };
    Effect::None
}

/// View 6's own keys; false when `action` is not one of them.
fn update_probes(ui: &mut UiState, action: Action, data: Option<&FrameData>) -> bool {
    let rows: Vec<&str> = data.map_or_else(Vec::new, |d| {
        d.probes.rows.iter().map(|r| r.dest.as_str()).collect()
    });
    let probes = data.map_or(0, |d| d.probes.probes.len());
    match action {
        Action::NextMetric => ui.probe_metric = (ui.probe_metric + 1) % ProbeMetric::ALL.len(),
        Action::ToggleBasis => ui.probe_basis = ui.probe_basis.other(),
        Action::Up if ui.probe_dest.is_none() => ui.probe_row = ui.probe_row.saturating_sub(1),
        Action::Down if ui.probe_dest.is_none() => {
            ui.probe_row = (ui.probe_row + 1).min(rows.len().saturating_sub(1));
        }
        Action::Left => ui.probe_column = ui.probe_column.saturating_sub(1),
        Action::Right => ui.probe_column = (ui.probe_column + 1).min(probes.saturating_sub(1)),
        Action::Enter => {
            ui.probe_dest = match ui.probe_dest {
                Some(_) => None,
                None => rows.get(ui.probe_row).map(|d| (*d).to_owned()),
            };
        }
        Action::Close if ui.probe_dest.is_some() => ui.probe_dest = None,
        _ => return false,
    }
    true
}

/// View 7's own keys; false when `action` is not one of them.
fn update_explain(ui: &mut UiState, action: Action, data: Option<&FrameData>) -> bool {
    let explanation = data.and_then(|d| d.explanation.as_ref());
    let rows = explanation.map_or(0, |e| model::explain_rows(e).count());
    match action {
        Action::NextMetric => {
            // Only the metrics a place can explain.
            for _ in 0..Metric::ALL.len() {
                ui.metric = (ui.metric + 1) % Metric::ALL.len();
                if model::explain_target(ui.metric()).is_some() {
                    break;
                }
            }
            ui.explain_row = 0;
        }
        Action::ToggleBasis => {
            ui.explain_baseline = match ui.explain_baseline {
                Baseline::TrailingHour => Baseline::DayBefore,
                _ => Baseline::TrailingHour,
            };
            ui.explain_row = 0;
        }
        Action::Up => ui.explain_row = ui.explain_row.saturating_sub(1),
        Action::Down => ui.explain_row = (ui.explain_row + 1).min(rows.saturating_sub(1)),
        Action::Enter => {
            let Some(c) = explanation.and_then(|e| model::explain_rows(e).nth(ui.explain_row))
            else {
                return true;
            };
            // The place joins the filter: each of its dimensions to that one name.
            let f = &mut ui.filter;
            for (set, name) in [&mut f.isps, &mut f.channels, &mut f.districts, &mut f.areas]
                .into_iter()
                .zip(&c.cause)
            {
                if let Some(name) = name {
                    set.clear();
                    set.insert(name.clone());
                }
            }
            ui.message = Some(format!("filtered to {}", c.name()));
            ui.explain_row = 0;
        }
        _ => return false,
    }
    true
}

fn map_layer(view: View) -> Option<Layer> {
    match view {
        View::District => Some(Layer::Districts),
        View::Map => Some(Layer::Areas),
        _ => None,
    }
}

fn move_region(ui: &mut UiState, data: Option<&FrameData>, layer: Layer, steps: isize) -> Effect {
    let Some(d) = data else { return Effect::None };
    let ranking = model::ranking(d, layer, ui.metric());
    let slot = match layer {
        Layer::Districts => &mut ui.district,
        Layer::Areas => &mut ui.area,
    };
    *slot = model::step(&ranking, slot.as_deref(), steps);
    Effect::None
}

/// Enter on a region: filter every view to it; on the region that is the whole
/// filter already, undo.
fn filter_region(ui: &mut UiState, data: Option<&FrameData>, layer: Layer) -> Effect {
    let Some(d) = data else { return Effect::None };
    let ranking = model::ranking(d, layer, ui.metric());
    let current = match layer {
        Layer::Districts => ui.district.clone(),
        Layer::Areas => ui.area.clone(),
    };
    let Some(name) = model::selected(&ranking, current.as_deref()).map(|r| r.name.to_owned())
    else {
        return Effect::None;
    };
    let set = match layer {
        Layer::Districts => &mut ui.filter.districts,
        Layer::Areas => &mut ui.filter.areas,
    };
    if set.len() == 1 && set.contains(&name) {
        set.clear();
    } else {
        set.clear();
        set.insert(name.clone());
    }
    match layer {
        Layer::Districts => ui.district = Some(name),
        Layer::Areas => ui.area = Some(name),
    }
    Effect::None
}
