//! The screen: view tabs on top, the view, the status bar at the bottom, overlays over
//! all of it. Draws one [`FrameData`] under one [`UiState`]; nothing changes while
//! drawing.
//!
//! ```text
//! ┌ 1 Overview │ 2 Timeline │ 3 Histogram ─────────────── peerscope ┐
//! │                                                                 │
//! │                      the view (80×22 and up)                    │
//! │                                                                 │
//! └ REPLAY ×60 │ 2012-08-07 09:31:20 HKT │ W 1 min │ isp=PCCW │ … ──┘
//! ```

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph, Widget, Wrap};

use super::panels::{filters, help, sources, status};
use super::state::{Mode, Overlay, UiState, View};
use super::theme::Theme;
use super::views::{district, explain, histogram, map, overview, probes, timeline};
use crate::engine::calendar::GO_TO_FORMATS;
use crate::source::frames::FrameData;

/// The smallest terminal the layout is made for.
pub const MIN_WIDTH: u16 = 80;
pub const MIN_HEIGHT: u16 = 24;

pub fn render(
    data: Option<&FrameData>,
    ui: &UiState,
    clock: i64,
    area: Rect,
    buf: &mut Buffer,
    theme: Theme,
) {
    if area.width < MIN_WIDTH || area.height < MIN_HEIGHT {
        too_small(area, buf);
        return;
    }
    let [tabs, body, bar] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Min(10),
        Constraint::Length(1),
    ])
    .areas(area);
    render_tabs(ui, tabs, buf, theme);
    match data {
        None => Paragraph::new(Span::styled("reading…", theme.dim())).render(body, buf),
        Some(d) if d.is_empty() && ui.view != View::Probes => empty(d, ui, body, buf, theme),
        Some(d) => match ui.view {
            View::Overview => overview::render(d, ui, body, buf, theme),
            View::Timeline => timeline::render(d, ui, body, buf, theme),
            View::Histogram => histogram::render(d, ui, body, buf, theme),
            View::District => district::render(d, ui, body, buf, theme),
            View::Map => map::render(d, ui, body, buf, theme),
            View::Probes => probes::render(d, ui, body, buf, theme),
            View::Explain => explain::render(d, ui, body, buf, theme),
        },
    }
    status::render(data, ui, clock, bar, buf, theme);
    match &ui.overlay {
        Overlay::Help { scroll } => help::render(ui, *scroll, body, buf, theme),
        Overlay::Filters { .. } => filters::render(data, ui, body, buf, theme),
        Overlay::GoTo { text, error } => go_to(text, error.as_deref(), body, buf, theme),
        Overlay::None => {}
    }
}

/// The views by key, the one shown named; then the metric chosen. Where all of that
/// does not fit (80 columns), the other views are only their keys.
fn render_tabs(ui: &UiState, area: Rect, buf: &mut Buffer, theme: Theme) {
    // The metric the view shows: the histogram and probes have their own.
    let metric = match ui.view {
        View::Probes => ui.probe_metric().label(),
        View::Histogram => histogram::title(ui.histogram_metric()),
        _ => ui.metric().label(),
    };
    let tabs = |named_all: bool| -> Vec<(String, bool)> {
        View::ALL
            .iter()
            .enumerate()
            .map(|(i, v)| {
                let shown = *v == ui.view;
                let text = if shown || named_all {
                    format!(" {} {} ", i + 1, v.title())
                } else {
                    format!(" {} ", i + 1)
                };
                (text, shown)
            })
            .collect()
    };
    let width = |tabs: &[(String, bool)]| {
        tabs.iter()
            .map(|(t, _)| t.chars().count() + 1)
            .sum::<usize>()
    };
    let room = usize::from(area.width);
    let title = format!(" peerscope · {metric} ");
    let mut chosen = tabs(true);
    if width(&chosen) + title.chars().count() > room {
        chosen = tabs(false);
    }
    let mut spans = Vec::new();
    for (text, shown) in &chosen {
        let style = if *shown {
            theme.selected()
        } else {
            theme.dim()
        };
        spans.push(Span::styled(text.clone(), style));
        spans.push(Span::raw("│"));
    }
    let left = room.saturating_sub(width(&chosen));
    let title = if title.chars().count() <= left {
        title
    } else {
        format!(" {metric} ")
    };
    spans.push(Span::styled(title, theme.title()));
    Paragraph::new(Line::from(spans)).render(area, buf);
}

fn empty(data: &FrameData, ui: &UiState, area: Rect, buf: &mut Buffer, theme: Theme) {
    let text = match (ui.mode, data.start) {
        (Mode::Replay, None) => "This recording holds no feedback records yet. Point replay at a directory written by `peerscope serve` or `peerscope simulate --out`.".to_owned(),
        (Mode::Replay, Some(_)) => "No records up to this moment of the recording: press → or ] to move forward, or g to go to a time.".to_owned(),
        (Mode::Live, _) => "Waiting for records from the sources:".to_owned(),
    };
    let mut lines = vec![Line::styled(text, theme.dim())];
    if ui.mode == Mode::Live || !data.damaged.is_empty() {
        lines.push(Line::raw(""));
        let width = usize::from(area.width.saturating_sub(2));
        lines.extend(sources::source_lines(data, theme, width));
        lines.extend(sources::damaged_lines(data, ui, theme, width));
    }
    Paragraph::new(lines)
        .wrap(Wrap { trim: false })
        .block(Block::bordered().border_style(theme.dim()))
        .render(area, buf);
}

fn go_to(text: &str, error: Option<&str>, area: Rect, buf: &mut Buffer, theme: Theme) {
    let rect = Rect {
        x: area.x + 2,
        y: area.bottom().saturating_sub(5),
        width: area.width.saturating_sub(4).min(70),
        height: 4,
    };
    Clear.render(rect, buf);
    let prompt = Line::from(vec![
        Span::raw("go to: "),
        Span::styled(format!("{text}▏"), theme.highlight()),
    ]);
    // The error, or what can be typed, on a line of its own: it fits at 80 columns.
    let below = match error {
        Some(e) => Line::styled(format!("{e}; try {GO_TO_FORMATS}"), theme.alert()),
        None => Line::styled(GO_TO_FORMATS, theme.dim()),
    };
    Paragraph::new(vec![prompt, below])
        .block(Block::bordered().title(" g "))
        .render(rect, buf);
}

fn too_small(area: Rect, buf: &mut Buffer) {
    let text = format!(
        "peerscope needs a terminal of at least {MIN_WIDTH}×{MIN_HEIGHT}; this one is {}×{}. Enlarge it, or press q to quit.",
        area.width, area.height
    );
    Paragraph::new(text)
        .wrap(Wrap { trim: true })
        .render(area, buf);
}

/// A frame as plain text, one line per row, trailing spaces trimmed: `--snapshot` and
/// the snapshot tests.
pub fn to_text(buf: &Buffer) -> String {
    let area = buf.area;
    let mut out = String::new();
    for y in area.top()..area.bottom() {
        let mut line = String::new();
        for x in area.left()..area.right() {
            if let Some(cell) = buf.cell((x, y)) {
                line.push_str(cell.symbol());
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}
