//! View 1, Overview: a tile per KPI with its value, its change against the trailing
//! hour's median and a sparkline over the last windows; below, the ISPs and channels
//! ranked by the chosen metric, worst first (Enter filters to the selected row), then
//! the service's alerts and source health.
//!
//! ```text
//! ┌online──────┐┌new peers───┐┌up──────────┐┌down────────┐┌contrib.────┐
//! │ 5,640 ↑12% ││ 120 ↓5%    ││ 815 kbps → ││ 858 kbps → ││ 0.950 →    │
//! │▁▂▃▄▅▆▇█    ││            ││            ││            ││            │
//! └────────────┘└────────────┘└────────────┘└────────────┘└────────────┘
//!   (second row: P2P share, startup p50, startup p90, continuity, QoE; a value past
//!   its alert threshold is marked: !3.21 ↓16%)
//! ┌ISPs · online─────┐┌Channels · online─┐┌Alerts · sources──────────────┐
//! │PCCW      1,804 ██││main     5,000 ███││!09:29 QoE 3.40 < 3.50        │
//! └──────────────────┘└──────────────────┘└──────────────────────────────┘
//! ```

use crate::ui::panels::sources;
use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph, Sparkline, Widget};

use crate::engine::alerts::Alert;
use crate::engine::query::metric::{Better, Metric};
use crate::engine::query::snapshot::Breakdown;
use crate::source::frames::FrameData;
use crate::ui::state::UiState;
use crate::ui::theme::Theme;
use crate::ui::{format, model};

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
    let metric = ui.metric();
    ranked(
        "ISPs",
        &data.snapshot.by_isp,
        metric,
        selected(0),
        isps,
        buf,
        theme,
    );
    ranked(
        "Channels",
        &data.snapshot.by_channel,
        metric,
        selected(1),
        channels,
        buf,
        theme,
    );
    alerts_and_sources(data, ui, side, buf, theme);
}

/// The trend against the baseline (the trailing hour's median): an arrow with the
/// change in percent, coloured by whether that is better or worse for the metric.
fn trend(metric: Metric, change_pct: Option<f64>, theme: Theme) -> Span<'static> {
    let Some(pct) = change_pct else {
        return Span::raw("");
    };
    if pct.abs() < 1.0 {
        return Span::styled("→", theme.dim());
    }
    let arrow = if pct > 0.0 { "↑" } else { "↓" };
    let text = if pct.abs() >= 1000.0 {
        format!("{arrow}>999%")
    } else {
        format!("{arrow}{:.0}%", pct.abs())
    };
    let style = match (metric.info().better, pct > 0.0) {
        (Better::Neither, _) => theme.dim(),
        (Better::Higher, true) | (Better::Lower, false) => theme.up(),
        _ => theme.down(),
    };
    Span::styled(text, style)
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
    let current = metric.of(&snap.current);
    let change = model::change_pct(current, model::baseline(data, metric));
    // Past its alert threshold: marked, so it does not look healthy without colour.
    let breached = current.is_some_and(|v| data.rules.breached(metric, v));
    let value = format::value(metric, current);
    let unit = format::unit(metric);
    let mut spans = if breached {
        vec![Span::styled(format!("!{value}"), theme.alert())]
    } else {
        vec![Span::styled(value, theme.title())]
    };
    spans.push(Span::raw(" "));
    if !unit.is_empty() {
        spans.push(Span::raw(format!("{unit} ")));
    }
    spans.push(trend(metric, change, theme));
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

/// ISPs or channels by the chosen metric, worst first, with bars over the values'
/// span.
fn ranked(
    title: &str,
    rows: &[Breakdown],
    metric: Metric,
    selected: Option<usize>,
    area: Rect,
    buf: &mut Buffer,
    theme: Theme,
) {
    let block = Block::bordered()
        .title(Span::styled(
            format!("{title} · {}", format::short(metric)),
            theme.title(),
        ))
        .border_style(if selected.is_some() {
            theme.highlight()
        } else {
            theme.dim()
        });
    let inner = block.inner(area);
    block.render(area, buf);
    let rows = model::ranked_groups(rows, metric);
    let span = model::span_of(rows.iter().filter_map(|r| metric.of(&r.point)));
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
            let value = metric.of(&r.point);
            let bar = value.map_or(0, |v| model::bar_len(metric, v, span, bar_w));
            let name: String = r.name.chars().take(name_w).collect();
            let line = Line::from(vec![
                Span::raw(format!(
                    "{name:<name_w$} {:>6} ",
                    format::value(metric, value)
                )),
                Span::styled("█".repeat(bar), theme.up()),
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
    let width = usize::from(inner.width);
    let damage = sources::damaged_lines(data, ui, theme, width);
    let source_lines = sources::source_lines(data, theme, width);
    let room = usize::from(inner.height)
        .saturating_sub(source_lines.len() + damage.len().min(3))
        .max(1);
    let active = data.alerts.iter().filter(|a| a.active);
    let recent = data.alerts.iter().rev().filter(|a| !a.active);
    // Whole alerts only, active first, then the latest cleared; what does not fit is
    // counted rather than cut in the middle.
    let mut lines: Vec<Line> = Vec::new();
    let mut shown = 0;
    for a in active.chain(recent) {
        let alert = alert_lines(a, data, ui, width, theme);
        let left_over = data.alerts.len() - shown - 1;
        let reserve = usize::from(left_over > 0);
        if lines.len() + alert.len() + reserve > room {
            break;
        }
        lines.extend(alert);
        shown += 1;
    }
    if shown < data.alerts.len() {
        let more = data.alerts.len() - shown;
        let text = format!("+{more} earlier alert{}", if more == 1 { "" } else { "s" });
        lines.push(Line::styled(text, theme.dim()));
    }
    if data.alerts.is_empty() {
        lines.push(Line::styled("no alerts so far", theme.dim()));
    }
    lines.truncate(room);
    lines.extend(source_lines);
    lines.extend(damage);
    Paragraph::new(lines).render(inner, buf);
}

/// One alert in lines of at most `width`: when, what, the reading and, once cleared,
/// how long it lasted.
fn alert_lines(
    a: &Alert,
    data: &FrameData,
    ui: &UiState,
    width: usize,
    theme: Theme,
) -> Vec<Line<'static>> {
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
    // The reading goes on lines of its own when the panel is too narrow for both:
    // the figures are the point of the line, and they come last.
    let (what, reading) = a.describe_parts();
    let head = format!("{mark}{when} {what}");
    // Where the change is, after the figures: on their line if it fits, else below.
    let cause = a.cause.as_ref().map(|c| format!("· {c}"));
    let one_line = format!("{head} {reading}{lasted}");
    if one_line.chars().count() <= width {
        let mut lines = vec![Line::styled(one_line.clone(), style)];
        if let Some(cause) = cause {
            if one_line.chars().count() + 1 + cause.chars().count() <= width {
                lines[0] = Line::styled(format!("{one_line} {cause}"), style);
            } else {
                lines.extend(
                    format::wrap(&cause, width.saturating_sub(3), 2)
                        .into_iter()
                        .map(|l| Line::styled(format!("   {l}"), style)),
                );
            }
        }
        return lines;
    }
    let mut lines: Vec<Line> = format::wrap(&head, width, 3)
        .into_iter()
        .map(|l| Line::styled(l, style))
        .collect();
    // The duration stays whole: beside the reading if it fits, else below.
    let mut reading = format::wrap(&reading, width.saturating_sub(3), 0);
    if let Some(last) = reading.last_mut() {
        if last.chars().count() + lasted.chars().count() + 3 <= width {
            last.push_str(&lasted);
        } else if !lasted.is_empty() {
            reading.push(lasted.trim_start().to_owned());
        }
    }
    if let Some(cause) = cause {
        reading.extend(format::wrap(&cause, width.saturating_sub(3), 2));
    }
    lines.extend(
        reading
            .into_iter()
            .map(|l| Line::styled(format!("   {l}"), style)),
    );
    lines
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ui::theme::Palette;

    #[test]
    fn a_trend_is_coloured_by_better_or_worse_not_by_direction() {
        let theme = Theme::color(Palette::Full);
        let style = |metric, pct| trend(metric, Some(pct), theme).style;
        // Startup falling is better; QoE falling is worse; online is neither.
        assert_eq!(style(Metric::StartupP90, -20.0), theme.up());
        assert_eq!(style(Metric::StartupP90, 20.0), theme.down());
        assert_eq!(style(Metric::Qoe, -20.0), theme.down());
        assert_eq!(style(Metric::Online, 140.0), theme.dim());
        assert_eq!(trend(Metric::Qoe, Some(-16.4), theme).content, "↓16%");
        assert_eq!(trend(Metric::Qoe, Some(0.4), theme).content, "→");
        assert_eq!(
            trend(Metric::NewPeers, Some(f64::INFINITY), theme).content,
            "↑>999%"
        );
        assert_eq!(trend(Metric::Qoe, None, theme).content, "");
    }
}
