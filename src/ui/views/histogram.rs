//! View 3, Histogram: how a metric is spread across the peers of the window — the
//! share of peers per bin, bins labelled, the median and p90 marked under the bars.
//!
//! ```text
//! QoE (MOS) across 5,210 peers · window 1 min · median 3.95 · p90 4.12
//!  38% ┤              ██
//!      ┤           ██ ██ ██
//!      └──────────────────────
//!       1.0 1.5 2.0 … 4.5 5.0
//!                      ▲p50 ▲p90
//! ```

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Widget, Wrap};

use crate::engine::query::metric::Metric;
use crate::source::frames::FrameData;
use crate::ui::format;
use crate::ui::state::{UiState, span_label};
use crate::ui::theme::{Palette, Theme};

/// A bin's edge as a short label.
fn edge(metric: Metric, v: f64) -> String {
    match metric {
        Metric::UpKbps | Metric::DownKbps | Metric::StartupP50 | Metric::StartupP90 => {
            if v >= 1000.0 {
                format!("{:.1}k", v / 1000.0)
            } else {
                format!("{v:.0}")
            }
        }
        _ => format!("{v:.2}"),
    }
}

/// What the histogram is of: per peer, startup is one delay, not a percentile.
pub fn title(metric: Metric) -> &'static str {
    match metric {
        Metric::StartupP50 | Metric::StartupP90 => "startup delay ms",
        _ => metric.label(),
    }
}

pub fn render(data: &FrameData, ui: &UiState, area: Rect, buf: &mut Buffer, theme: Theme) {
    let h = &data.snapshot.histogram;
    let metric = h.metric.unwrap_or_else(|| ui.histogram_metric());
    if let Some(why) = data.unanswered.histogram {
        Paragraph::new(vec![
            Line::styled(title(metric), theme.title()),
            Line::raw(""),
            Line::styled(why, theme.dim()),
        ])
        .wrap(Wrap { trim: true })
        .render(area, buf);
        return;
    }
    let [head, body] = Layout::vertical([Constraint::Length(1), Constraint::Min(6)]).areas(area);
    let stat = |v: Option<f64>| format::value(metric, v);
    Paragraph::new(Line::from(vec![
        Span::styled(title(metric), theme.title()),
        Span::raw(format!(
            " across {} peers · window {} · median {} · p90 {} {}",
            format::thousands(h.peers as i64),
            span_label(ui.window_ms()),
            stat(h.median),
            stat(h.p90),
            format::unit(metric)
        )),
    ]))
    .render(head, buf);
    if h.peers == 0 || h.bins.is_empty() {
        Paragraph::new(Span::styled("no peer reported in this window", theme.dim()))
            .render(body, buf);
        return;
    }
    // Axis column, bars, then a label row and a marker row.
    let axis_w: u16 = 6;
    let bars_h = body.height.saturating_sub(3);
    let plot_w = body.width.saturating_sub(axis_w + 1);
    let n = h.bins.len() as u16;
    let col_w = (plot_w / n).max(1);
    let bar_w = col_w.saturating_sub(1).max(1);
    let top = h.bins.iter().map(|b| b.2).fold(0.0, f64::max).max(1e-9);
    let x0 = body.x + axis_w + 1;
    for row in 0..bars_h {
        let y = body.y + row;
        let label = if row == 0 {
            format!("{:>4.0}% ┤", top * 100.0)
        } else if row + 1 == bars_h {
            "   0% ┤".to_owned()
        } else {
            "      │".to_owned()
        };
        buf.set_string(body.x, y, label, theme.dim());
    }
    let bar_style = match theme.palette {
        Palette::None => Style::default(),
        _ => theme.up(),
    };
    for (i, (_, _, share)) in h.bins.iter().enumerate() {
        let height = (share / top * f64::from(bars_h)).round() as u16;
        let x = x0 + i as u16 * col_w;
        for k in 0..height.min(bars_h) {
            let y = body.y + bars_h - 1 - k;
            for dx in 0..bar_w {
                if let Some(c) = buf.cell_mut((x + dx, y)) {
                    c.set_symbol("█").set_style(bar_style);
                }
            }
        }
    }
    // Bin labels wherever they fit without touching.
    let label_y = body.y + bars_h;
    let mut free_from = x0;
    for (i, (lo, _, _)) in h.bins.iter().enumerate() {
        let x = x0 + i as u16 * col_w;
        let text = edge(metric, *lo);
        if x >= free_from && x + text.len() as u16 <= body.right() {
            buf.set_string(x, label_y, &text, theme.dim());
            free_from = x + text.len() as u16 + 1;
        }
    }
    // Median and p90 under the bins that hold them.
    let (lo, hi) = (h.bins[0].0, h.bins[h.bins.len() - 1].1);
    let at = |v: f64| {
        let f = ((v - lo) / (hi - lo)).clamp(0.0, 0.999);
        x0 + (f * f64::from(n)).floor() as u16 * col_w
    };
    let mark_y = label_y + 1;
    if let Some(m) = h.median {
        buf.set_string(at(m), mark_y, "▲p50", theme.highlight());
    }
    if let Some(p) = h.p90 {
        let x = at(p).max(h.median.map_or(0, |m| at(m) + 5));
        buf.set_string(x, mark_y, "▲p90", theme.alert());
    }
}
