//! View 2, Timeline: the chosen metric over the chosen range (15 min … whole
//! recording), optionally one line per ISP or channel, with alert markers along the top.
//!
//! ```text
//! QoE (MOS) · 1 h · step 1 min · by ISP              ▼ alert  ── PCCW ── HKBN
//! 3.9 ┤⠉⠉⠒⠒⠤⠤⣀
//! 3.5 ┤        ⠑⠢⡀   ⢀⠔⠊
//! 3.1 ┤           ⠈⠉⠉
//!     └┬──────────────┬──────────────┬
//!    08:31          09:01          09:31
//! ```

use ratatui::buffer::Buffer;
use ratatui::layout::{Alignment, Constraint, Layout, Rect};
use ratatui::symbols::Marker;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Axis, Block, Chart, Dataset, GraphType, Paragraph, Widget};

use crate::engine::query::snapshot::Point;
use crate::source::frames::FrameData;
use crate::ui::state::{Split, UiState, span_label};
use crate::ui::theme::{Palette, Theme};
use crate::ui::{format, model};

/// The markers that tell series apart without colour, with how each looks in the
/// legend.
const PLAIN_MARKERS: [(Marker, &str); 4] = [
    (Marker::Braille, "⠒"),
    (Marker::Dot, "•"),
    (Marker::Block, "█"),
    (Marker::Bar, "▄"),
];

pub fn render(data: &FrameData, ui: &UiState, area: Rect, buf: &mut Buffer, theme: Theme) {
    let snap = &data.snapshot;
    let metric = ui.metric();
    let [head, chart_area] =
        Layout::vertical([Constraint::Length(1), Constraint::Min(4)]).areas(area);
    let range = ui
        .range_ms()
        .map_or_else(|| "whole recording".to_owned(), span_label);
    let mut title = vec![
        Span::styled(metric.label(), theme.title()),
        Span::raw(format!(
            " · {range} · step {} · {}",
            span_label(snap.timeline_step_ms),
            ui.split.label()
        )),
    ];
    // One series, or one per group: (name, points). Without colour a series is told
    // apart by its marker, and there are only so many distinct ones.
    let most = if theme.palette == Palette::None {
        PLAIN_MARKERS.len()
    } else {
        usize::MAX
    };
    let series: Vec<(String, &[Point])> = if ui.split == Split::None || snap.split.is_empty() {
        vec![("all".to_owned(), snap.timeline.as_slice())]
    } else {
        snap.split
            .iter()
            .take(most)
            .map(|(n, p)| (n.clone(), p.as_slice()))
            .collect()
    };
    if series.len() > 1 {
        for (i, (name, _)) in series.iter().enumerate() {
            let mark = if theme.palette == Palette::None {
                PLAIN_MARKERS[i].1
            } else {
                "──"
            };
            title.push(Span::styled(format!("  {mark} {name}"), theme.series(i)));
        }
    }
    Paragraph::new(Line::from(title)).render(head, buf);

    let step = snap.timeline_step_ms;
    let points: Vec<Vec<(f64, f64)>> = series
        .iter()
        .map(|(_, pts)| {
            pts.iter()
                .filter_map(|p| {
                    model::timeline_value(data, metric, p, step).map(|v| (p.at as f64, v))
                })
                .collect()
        })
        .collect();
    let (Some(first), Some(last)) = (snap.timeline.first(), snap.timeline.last()) else {
        return;
    };
    let (x0, x1) = (first.at as f64, (last.at as f64).max(first.at as f64 + 1.0));
    let all = points.iter().flatten().map(|p| p.1);
    let (mut lo, mut hi) = all.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
        (a.min(v), b.max(v))
    });
    if !lo.is_finite() {
        Paragraph::new(Span::styled("no values in this range", theme.dim()))
            .block(Block::bordered().border_style(theme.dim()))
            .render(chart_area, buf);
        return;
    }
    if (hi - lo).abs() < f64::EPSILON {
        (lo, hi) = (lo - 1.0, hi + 1.0);
    }
    // A margin around the values, but never past what the metric can take: no
    // negative peers, no continuity above 1.
    let info = metric.info();
    let pad = (hi - lo) * 0.05;
    let lo = (lo - pad).max(info.min);
    let hi = info.max.map_or(hi + pad, |max| (hi + pad).min(max));
    let datasets: Vec<Dataset> = points
        .iter()
        .enumerate()
        .map(|(i, pts)| {
            let marker = if theme.palette == Palette::None {
                PLAIN_MARKERS[i % PLAIN_MARKERS.len()].0
            } else {
                Marker::Braille
            };
            Dataset::default()
                .marker(marker)
                .graph_type(GraphType::Line)
                .style(theme.series(i))
                .data(pts)
        })
        .collect();
    // A range that crosses midnight says which day each label is.
    let day = |t: f64| format::clock(t as i64, data.tz, ui.utc, "%F");
    let pattern = if day(x0) == day(x1) {
        "%H:%M"
    } else {
        "%m-%d %H:%M"
    };
    let x_label = |t: f64| Span::raw(format::clock(t as i64, data.tz, ui.utc, pattern));
    let y_texts = [lo, f64::midpoint(lo, hi), hi].map(|v| format::value(metric, Some(v)));
    let label_w = y_texts.iter().map(|t| t.chars().count()).max().unwrap_or(0) as u16;
    let chart = Chart::new(datasets)
        .x_axis(
            Axis::default()
                .bounds([x0, x1])
                .labels([x_label(x0), x_label(f64::midpoint(x0, x1)), x_label(x1)])
                // The first time starts at the axis, so the y labels alone set where
                // the plot starts (and the alert markers line up with it).
                .labels_alignment(Alignment::Right)
                .style(theme.dim()),
        )
        .y_axis(
            Axis::default()
                .bounds([lo, hi])
                .labels(y_texts.map(Span::raw))
                .style(theme.dim()),
        );
    chart.render(chart_area, buf);
    alert_markers(data, chart_area, label_w, (x0, x1), buf, theme);
}

/// A ▼ at the top of the chart at each alert that starts inside the range, so a dip
/// and its alert line up, with what it is about where there is room before the next.
fn alert_markers(
    data: &FrameData,
    area: Rect,
    label_w: u16,
    (x0, x1): (f64, f64),
    buf: &mut Buffer,
    theme: Theme,
) {
    // The plot starts after the y labels and the axis line.
    let left = area.x + label_w + 1;
    let width = area.right().saturating_sub(left + 1);
    if width == 0 {
        return;
    }
    let mut marks: Vec<(u16, &'static str)> = data
        .alerts
        .iter()
        .filter(|a| (x0..=x1).contains(&(a.at as f64)))
        .map(|a| {
            let x = left + ((a.at as f64 - x0) / (x1 - x0) * f64::from(width - 1)).round() as u16;
            (x, a.kind.short())
        })
        .collect();
    marks.sort_unstable();
    marks.dedup_by_key(|m| m.0);
    let right = left + width;
    for (i, &(x, label)) in marks.iter().enumerate() {
        buf.set_string(x, area.y, "▼", theme.alert());
        let room = marks
            .get(i + 1)
            .map_or(right, |next| next.0)
            .saturating_sub(x + 1);
        if room > label.chars().count() as u16 {
            buf.set_string(x + 1, area.y, label, theme.alert());
        }
    }
}
