//! View 1, Overview: a tile per KPI with its value, trend and sparkline over the last
//! windows; below, the ISPs and channels ranked by online peers (Enter filters to the
//! selected row), then alerts and source health.
//!
//! ```text
//! ┌online──────┐┌new peers───┐┌up──────────┐┌down────────┐┌contrib.────┐
//! │ 5,640 ↑    ││ 120 ↓      ││ 815 kbps → ││ 858 kbps → ││ 0.950 →    │
//! │▁▂▃▄▅▆▇█    ││            ││            ││            ││            │
//! └────────────┘└────────────┘└────────────┘└────────────┘└────────────┘
//!   (second row: P2P share, startup p50, startup p90, continuity, QoE)
//! ┌ISPs──────────────┐┌Channels──────────┐┌Alerts · sources──────────────┐
//! │PCCW      1,804 ██││main     5,000 ███││09:31 flash crowd +62 %       │
//! └──────────────────┘└──────────────────┘└──────────────────────────────┘
//! ```

use crate::ui::panels::sources;
use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph, Sparkline, Widget};

use crate::engine::query::metric::Metric;
use crate::engine::query::snapshot::{Breakdown, Point};
use crate::source::frames::FrameData;
use crate::ui::format;
use crate::ui::state::UiState;
use crate::ui::theme::Theme;

pub fn render(data: &FrameData, ui: &UiState, area: Rect, buf: &mut Buffer, theme: Theme) {
    let [tiles, lists] = Layout::vertical([Constraint::Length(10), Constraint::Min(3)]).areas(area);
    let rows = Layout::vertical([Constraint::Length(5), Constraint::Length(5)]).split(tiles);
    for (r, row) in rows.iter().enumerate() {
        let cells = Layout::horizontal([Constraint::Ratio(1, 5); 5]).split(*row);
        for (c, cell) in cells.iter().enumerate() {
            let metric = Metric::ALL[r * 5 + c];
            tile(data, metric, metric == ui.metric(), *cell, buf, theme);
        }
    }
    let [isps, channels, side] = Layout::horizontal([
        Constraint::Percentage(30),
        Constraint::Percentage(30),
        Constraint::Percentage(40),
    ])
    .areas(lists);
    let selected = |list: usize| (ui.ranked.0 == list).then_some(ui.ranked.1);
    ranked("ISPs", &data.snapshot.by_isp, selected(0), isps, buf, theme);
    ranked(
        "Channels",
        &data.snapshot.by_channel,
        selected(1),
        channels,
        buf,
        theme,
    );
    alerts_and_sources(data, ui, side, buf, theme);
}

/// The trend from the previous window to this one.
fn trend(metric: Metric, recent: &[Point]) -> (&'static str, i8) {
    let [.., before, now] = recent else {
        return (" ", 0);
    };
    match (metric.of(before), metric.of(now)) {
        (Some(a), Some(b)) => {
            let scale = a.abs().max(b.abs()).max(f64::EPSILON);
            if (b - a).abs() / scale < 0.01 {
                ("→", 0)
            } else if b > a {
                ("↑", 1)
            } else {
                ("↓", -1)
            }
        }
        _ => (" ", 0),
    }
}

fn tile(
    data: &FrameData,
    metric: Metric,
    chosen: bool,
    area: Rect,
    buf: &mut Buffer,
    theme: Theme,
) {
    let snap = &data.snapshot;
    let title_style = if chosen {
        theme.highlight()
    } else {
        theme.title()
    };
    let block = Block::bordered()
        .title(Span::styled(format::short(metric), title_style))
        .border_style(if chosen {
            theme.highlight()
        } else {
            theme.dim()
        });
    let inner = block.inner(area);
    block.render(area, buf);
    let (arrow, direction) = trend(metric, &snap.recent);
    let arrow_style = match direction {
        1 => theme.up(),
        -1 => theme.down(),
        _ => theme.dim(),
    };
    let value = format::value(metric, metric.of(&snap.current));
    let unit = format::unit(metric);
    let mut spans = vec![Span::styled(value, theme.title()), Span::raw(" ")];
    if !unit.is_empty() {
        spans.push(Span::raw(format!("{unit} ")));
    }
    spans.push(Span::styled(arrow, arrow_style));
    let line = Line::from(spans);
    Paragraph::new(line).render(Rect { height: 1, ..inner }, buf);
    let spark_area = Rect {
        y: inner.y + 1,
        height: inner.height.saturating_sub(1),
        ..inner
    };
    let values: Vec<Option<f64>> = snap.recent.iter().map(|p| metric.of(p)).collect();
    let lo = values
        .iter()
        .flatten()
        .copied()
        .fold(f64::INFINITY, f64::min);
    let hi = values
        .iter()
        .flatten()
        .copied()
        .fold(f64::NEG_INFINITY, f64::max);
    // Scaled to the spread of the values shown: a flat line means flat, not zero.
    let bars: Vec<Option<u64>> = values
        .iter()
        .rev()
        .take(usize::from(spark_area.width))
        .rev()
        .map(|v| {
            v.map(|v| {
                if hi > lo {
                    1 + ((v - lo) / (hi - lo) * 99.0) as u64
                } else {
                    50
                }
            })
        })
        .collect();
    Sparkline::default()
        .data(bars)
        .max(100)
        .style(theme.up())
        .render(spark_area, buf);
}

fn ranked(
    title: &str,
    rows: &[Breakdown],
    selected: Option<usize>,
    area: Rect,
    buf: &mut Buffer,
    theme: Theme,
) {
    let block = Block::bordered()
        .title(Span::styled(format!("{title} · online"), theme.title()))
        .border_style(if selected.is_some() {
            theme.highlight()
        } else {
            theme.dim()
        });
    let inner = block.inner(area);
    block.render(area, buf);
    let total: i64 = rows.iter().map(|r| r.point.online).sum::<i64>().max(1);
    let width = usize::from(inner.width);
    let name_w = width.saturating_sub(11).min(16);
    let bar_w = width.saturating_sub(name_w + 8);
    let height = usize::from(inner.height);
    // Keep the selection in sight.
    let first = selected.map_or(0, |s| s.saturating_sub(height.saturating_sub(1)));
    let lines: Vec<Line> = rows
        .iter()
        .enumerate()
        .skip(first)
        .take(height)
        .map(|(i, r)| {
            let share = r.point.online as f64 / total as f64;
            let bar = "█".repeat((share * bar_w as f64).round() as usize);
            let name: String = r.name.chars().take(name_w).collect();
            let line = Line::from(vec![
                Span::raw(format!(
                    "{name:<name_w$} {:>6} ",
                    format::thousands(r.point.online)
                )),
                Span::styled(bar, theme.up()),
            ]);
            if selected == Some(i) {
                line.style(theme.selected())
            } else {
                line
            }
        })
        .collect();
    if lines.is_empty() {
        Paragraph::new(Span::styled("nobody online", theme.dim())).render(inner, buf);
    } else {
        Paragraph::new(lines).render(inner, buf);
    }
}

fn alerts_and_sources(data: &FrameData, ui: &UiState, area: Rect, buf: &mut Buffer, theme: Theme) {
    let block = Block::bordered()
        .title(Span::styled("Alerts · sources", theme.title()))
        .border_style(theme.dim());
    let inner = block.inner(area);
    block.render(area, buf);
    let mut lines: Vec<Line> = Vec::new();
    let active: Vec<_> = data.alerts.iter().filter(|a| a.active).collect();
    let recent: Vec<_> = data.alerts.iter().rev().filter(|a| !a.active).collect();
    for a in active.iter().chain(recent.iter()) {
        let clock = |t: i64| format::clock(t, data.tz, ui.utc, "%H:%M");
        // A cleared alert says when it ended and how long it lasted.
        let (when, lasted) = match a.until {
            Some(until) => (
                format!("{}–{}", clock(a.at), clock(until)),
                format!(" ({} min)", (until - a.at) / 60_000),
            ),
            None => (clock(a.at), String::new()),
        };
        let style = if a.active {
            theme.alert()
        } else {
            ratatui::style::Style::default()
        };
        let mark = if a.active { "!" } else { " " };
        // The reading goes on a line of its own when the panel is too narrow for both:
        // the figures are the point of the line, and they come last.
        let (what, reading) = a.describe_parts();
        let head = format!("{mark}{when} {what}");
        let tail = format!("{reading}{lasted}");
        if head.chars().count() + 1 + tail.chars().count() <= usize::from(inner.width) {
            lines.push(Line::styled(format!("{head} {tail}"), style));
        } else {
            lines.push(Line::styled(head, style));
            lines.push(Line::styled(format!("   {tail}"), style));
        }
    }
    if data.alerts.is_empty() {
        lines.push(Line::styled("no alerts so far", theme.dim()));
    }
    let damage = sources::damaged_lines(data, ui, theme);
    let room = usize::from(inner.height).saturating_sub(data.sources.len() + damage.len().min(3));
    lines.truncate(room.max(1));
    lines.extend(sources::source_lines(data, theme));
    lines.extend(damage);
    Paragraph::new(lines).render(inner, buf);
}
