//! View 2, Timeline: the chosen metric over the chosen range (15 min … whole
//! recording), optionally one line per ISP or channel; its usual value (the median of
//! the hour before each point) as a faint line; alerts as labelled bands along the
//! top, from their start to when they cleared; a time cursor (h/l, n/N) with every
//! figure at its point read out below.
//!
//! ```text
//! QoE (MOS) · 1 h · step 1 min · no split                               ── usual
//! 3.9 ┤⠉⠉⠒⠒⠤⠤⣀       ▼QoE━━━━━━━
//! 3.5 ┤        ⠑⠢⡀   │  ⢀⠔⠊
//! 3.1 ┤           ⠈⠉⠉
//!     └┬──────────────┬──────────────┬
//!    08:31          09:01          09:31
//! ▏09:16 QoE 3.42 (usual 3.85) · online 412 · new 35 · …
//! ```

use ratatui::buffer::Buffer;
use ratatui::layout::{Alignment, Constraint, Layout, Rect};
use ratatui::symbols::Marker;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Axis, Block, Chart, Dataset, GraphType, Paragraph, Widget};

use ratatui::style::Modifier;

use crate::engine::query::metric::Metric;
use crate::engine::query::snapshot::Point;
use crate::source::frames::FrameData;
use crate::ui::request::BASELINE_LINE_MAX_STEP_MS;
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
    let step = snap.timeline_step_ms;
    // One series, or one per group: (name, points). Without colour a series is told
    // apart by its marker, and there are only so many distinct ones.
    let most = if theme.palette == Palette::None {
        PLAIN_MARKERS.len()
    } else {
        usize::MAX
    };
    let split = ui.split != Split::None && !snap.split.is_empty();
    let series: Vec<(String, &[Point])> = if split {
        snap.split
            .iter()
            .take(most)
            .map(|(n, p)| (n.clone(), p.as_slice()))
            .collect()
    } else {
        vec![("all".to_owned(), snap.timeline.as_slice())]
    };
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
    // The usual value of each point, against the whole (a split's groups have none).
    let usual: Vec<(f64, f64)> = if split || step > BASELINE_LINE_MAX_STEP_MS {
        Vec::new()
    } else {
        snap.timeline
            .iter()
            .filter_map(|p| model::baseline_at(data, metric, p.at, step).map(|v| (p.at as f64, v)))
            .collect()
    };
    let (Some(first), Some(last)) = (snap.timeline.first(), snap.timeline.last()) else {
        return;
    };
    let (x0, x1) = (first.at as f64, (last.at as f64).max(first.at as f64 + 1.0));
    // A range that crosses midnight says which day each time is.
    let day = |t: f64| format::clock(t as i64, data.tz, ui.utc, "%F");
    let pattern = match (day(x0) == day(x1), step < 60_000) {
        (true, false) => "%H:%M",
        (true, true) => "%H:%M:%S",
        (false, _) => "%m-%d %H:%M",
    };
    let time = |t: i64| format::clock(t, data.tz, ui.utc, pattern);

    let cursor = model::cursor_point(data, ui.cursor);
    let readout = cursor.map_or_else(Vec::new, |i| {
        let text = readout(data, ui, &series, i, &time(snap.timeline[i].at));
        format::wrap(&text, usize::from(area.width), 2)
    });
    let [head, chart_area, readout_area] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Min(4),
        Constraint::Length(readout.len() as u16),
    ])
    .areas(area);
    title(ui, metric, step, &series, !usual.is_empty(), theme).render(head, buf);
    Paragraph::new(
        readout
            .into_iter()
            .map(|l| Line::styled(l, theme.highlight()))
            .collect::<Vec<_>>(),
    )
    .render(readout_area, buf);

    let all = points.iter().flatten().chain(&usual).map(|p| p.1);
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
    // The usual line first, so the figures are drawn over it.
    let mut datasets = Vec::new();
    if !usual.is_empty() {
        datasets.push(
            Dataset::default()
                .marker(usual_marker(theme))
                .graph_type(GraphType::Line)
                .style(theme.dim())
                .data(&usual),
        );
    }
    datasets.extend(points.iter().enumerate().map(|(i, pts)| {
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
    }));
    let x_label = |t: f64| Span::raw(time(t as i64));
    let y_texts = [lo, f64::midpoint(lo, hi), hi].map(|v| format::value(metric, Some(v)));
    let label_w = y_texts.iter().map(|t| t.chars().count()).max().unwrap_or(0) as u16;
    let chart = Chart::new(datasets)
        .x_axis(
            Axis::default()
                .bounds([x0, x1])
                .labels([x_label(x0), x_label(f64::midpoint(x0, x1)), x_label(x1)])
                // The first time starts at the axis, so the y labels alone set where
                // the plot starts (and the bands and the cursor line up with it).
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
    let plot = Plot::new(chart_area, label_w, (x0, x1));
    if let Some(i) = cursor {
        plot.cursor(snap.timeline[i].at, buf, theme);
    }
    plot.alert_bands(data, buf, theme);
}

/// The marker of the usual line: the series' own without colour would look alike.
fn usual_marker(theme: Theme) -> Marker {
    if theme.palette == Palette::None {
        Marker::Dot
    } else {
        Marker::Braille
    }
}

/// "QoE (MOS) · 1 h · step 1 min · by ISP", then the legend: the series when there are
/// several, and the usual line when it is drawn.
fn title<'a>(
    ui: &UiState,
    metric: Metric,
    step: i64,
    series: &[(String, &[Point])],
    usual: bool,
    theme: Theme,
) -> Line<'a> {
    let range = ui
        .range_ms()
        .map_or_else(|| "whole recording".to_owned(), span_label);
    let mut title = vec![
        Span::styled(metric.label(), theme.title()),
        Span::raw(format!(
            " · {range} · step {} · {}",
            span_label(step),
            ui.split.label()
        )),
    ];
    let plain = theme.palette == Palette::None;
    if series.len() > 1 {
        for (i, (name, _)) in series.iter().enumerate() {
            let mark = if plain { PLAIN_MARKERS[i].1 } else { "──" };
            title.push(Span::styled(format!("  {mark} {name}"), theme.series(i)));
        }
    }
    if usual {
        let mark = if plain { "••" } else { "──" };
        title.push(Span::styled(format!("  {mark} usual"), theme.dim()));
    }
    Line::from(title)
}

/// Every figure at the cursor's point: the chosen metric first with its usual value,
/// then the others; split, the chosen metric of each series.
fn readout(
    data: &FrameData,
    ui: &UiState,
    series: &[(String, &[Point])],
    index: usize,
    time: &str,
) -> String {
    let metric = ui.metric();
    let step = data.snapshot.timeline_step_ms;
    let show = |m: Metric, p: &Point| {
        let v = format::value(m, model::timeline_value(data, m, p, step));
        match format::unit(m) {
            "" => v,
            unit => format!("{v} {unit}"),
        }
    };
    let mut parts = Vec::new();
    if series.len() > 1 {
        for (name, points) in series {
            if let Some(p) = points.get(index) {
                parts.push(format!("{name} {}", show(metric, p)));
            }
        }
        return format!("▏{time} {}: {}", metric.info().short, parts.join(" · "));
    }
    let point = &data.snapshot.timeline[index];
    let usual = model::baseline_at(data, metric, point.at, step)
        .map(|u| format!(" (usual {})", format::value(metric, Some(u))))
        .unwrap_or_default();
    parts.push(format!(
        "▏{time} {} {}{usual}",
        metric.info().short,
        show(metric, point)
    ));
    for m in Metric::ALL.into_iter().filter(|m| *m != metric) {
        parts.push(format!("{} {}", m.info().short, show(m, point)));
    }
    parts.join(" · ")
}

/// Rows at the top of the plot that alert bands may take.
const BAND_ROWS: usize = 4;

/// Where the chart put its plot: times to columns.
struct Plot {
    area: Rect,
    left: u16,
    width: u16,
    x: (f64, f64),
}

impl Plot {
    fn new(area: Rect, label_w: u16, x: (f64, f64)) -> Self {
        // The plot starts after the y labels and the axis line.
        let left = area.x + label_w + 1;
        let width = area.right().saturating_sub(left + 1);
        Plot {
            area,
            left,
            width,
            x,
        }
    }

    fn column(&self, t: i64) -> u16 {
        let (x0, x1) = self.x;
        let share = ((t as f64 - x0) / (x1 - x0)).clamp(0.0, 1.0);
        self.left + (share * f64::from(self.width.saturating_sub(1))).round() as u16
    }

    /// The rows the lines are drawn on (the x axis and its labels are the last two).
    fn rows(&self) -> std::ops::Range<u16> {
        self.area.y..self.area.bottom().saturating_sub(2)
    }

    /// A vertical line at `t`: over the lines' cells the cell is reversed instead, so
    /// the figure under the cursor stays visible.
    fn cursor(&self, t: i64, buf: &mut Buffer, theme: Theme) {
        if self.width == 0 {
            return;
        }
        let x = self.column(t);
        for y in self.rows() {
            if let Some(cell) = buf.cell_mut((x, y)) {
                if cell.symbol() == " " {
                    cell.set_symbol("│").set_style(theme.highlight());
                } else {
                    cell.modifier.insert(Modifier::REVERSED);
                }
            }
        }
    }

    /// Each alert inside the range as a band along the top: ▼ where it started, its
    /// label, then ━ until it cleared (or to the end while it holds) wherever no line
    /// is drawn. Overlapping
    /// alerts take the next row (a QoE dip often comes with a flash crowd and slow
    /// startups).
    fn alert_bands(&self, data: &FrameData, buf: &mut Buffer, theme: Theme) {
        if self.width == 0 {
            return;
        }
        let (x0, x1) = self.x;
        let right = self.left + self.width;
        let mut bands: Vec<(u16, u16, &'static str)> = data
            .alerts
            .iter()
            .filter(|a| (x0..=x1).contains(&(a.at as f64)))
            .map(|a| {
                let end = a.until.map_or(right - 1, |u| self.column(u));
                (self.column(a.at), end, a.kind.short())
            })
            .collect();
        bands.sort_unstable();
        // Where each row is free from.
        let rows = self.rows().take(BAND_ROWS).collect::<Vec<_>>();
        let mut free_from = vec![0u16; rows.len()];
        for (i, &(start, end, label)) in bands.iter().enumerate() {
            let Some(row) = (0..rows.len())
                .find(|&r| free_from[r] <= start)
                .or(rows.len().checked_sub(1))
            else {
                return;
            };
            let y = rows[row];
            let next_start = bands.get(i + 1).map_or(right, |b| b.0);
            let end = end.max(start).min(right - 1);
            buf.set_string(start, y, "▼", theme.alert());
            let room = next_start.max(end + 1).saturating_sub(start + 1);
            let mut x = start + 1;
            if room > label.chars().count() as u16 {
                buf.set_string(x, y, label, theme.alert());
                x += label.chars().count() as u16;
            }
            // The band gives way to the lines: the figures matter more inside it.
            while x <= end {
                if let Some(cell) = buf.cell_mut((x, y))
                    && cell.symbol() == " "
                {
                    cell.set_symbol("━").set_style(theme.alert());
                }
                x += 1;
            }
            free_from[row] = x.max(start + 1) + 1;
        }
    }
}
