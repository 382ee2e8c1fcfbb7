//! View 4, District: the districts as a choropleth of the chosen metric beside the same
//! values as a ranked bar chart, and the figures of the selected district. `↑`/`↓`
//! move the selection along the ranking, `Enter` filters every view to it (again:
//! undo). View 5 (the 38 areas) is the same screen over the other layer.
//!
//! ```text
//! QoE (MOS) by district · window 1 min                ┌Ranked──────────────────────┐
//!        ▄▄▀▀▀▄                                       │Sha Tin       3.91 ████████ │
//!     ▄▀▀ ST  ▀▄▄                                     │Eastern       3.88 ███████  │
//!    ▀▀▀▀▀▀▀▀▀▀▀▀▀                                    └────────────────────────────┘
//! 3.20 ████████████ 3.91 · QoE (MOS)                  ┌Sha Tin (ST)────────────────┐
//! ```

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph, Widget, Wrap};

use crate::engine::geography::Layer;
use crate::engine::query::metric::Metric;
use crate::source::frames::FrameData;
use crate::ui::format;
use crate::ui::state::{UiState, span_label};
use crate::ui::theme::Theme;

use super::choropleth::Choropleth;
use crate::ui::model::{self, RankedRegion};

pub fn render(data: &FrameData, ui: &UiState, area: Rect, buf: &mut Buffer, theme: Theme) {
    render_layer(data, ui, Layer::Districts, area, buf, theme);
}

pub fn render_layer(
    data: &FrameData,
    ui: &UiState,
    layer: Layer,
    area: Rect,
    buf: &mut Buffer,
    theme: Theme,
) {
    let geography = match &data.geography {
        Ok(g) => g,
        Err(why) => {
            Paragraph::new(format!("No map: {why}"))
                .wrap(Wrap { trim: true })
                .block(Block::bordered().border_style(theme.dim()))
                .render(area, buf);
            return;
        }
    };
    let metric = ui.metric();
    let ranking = model::ranking(data, layer, metric);
    let chosen = match layer {
        Layer::Districts => ui.district.as_deref(),
        Layer::Areas => ui.area.as_deref(),
    };
    let selected = model::selected(&ranking, chosen);
    let count = ranking.len();
    let mut values = vec![None; count];
    for r in &ranking {
        values[r.index] = r.value;
    }
    let [left, right] =
        Layout::horizontal([Constraint::Percentage(58), Constraint::Percentage(42)]).areas(area);
    let [head, map] = Layout::vertical([Constraint::Length(1), Constraint::Min(4)]).areas(left);
    // The areas' explanation only where the header has room for it.
    let window = span_label(ui.window_ms());
    let mut what = match layer {
        Layer::Districts => "district",
        Layer::Areas => "area (38 of equal land)",
    };
    let length = |what: &str| {
        metric.label().chars().count() + format!(" by {what} · window {window}").chars().count()
    };
    if length(what) > usize::from(head.width) && layer == Layer::Areas {
        what = "area";
    }
    Paragraph::new(Line::from(vec![
        Span::styled(metric.label(), theme.title()),
        Span::raw(format!(" by {what} · window {window}")),
    ]))
    .render(head, buf);
    Choropleth {
        geography,
        layer,
        values: &values,
        selected: selected.map(|s| s.index),
        metric,
    }
    .render(map, buf, theme);
    let details_h = 9.min(right.height / 2);
    let [list, details] =
        Layout::vertical([Constraint::Min(4), Constraint::Length(details_h)]).areas(right);
    ranked(
        &ranking,
        selected.map(|s| s.index),
        metric,
        list,
        buf,
        theme,
    );
    if let Some(s) = selected {
        region_details(s, data, details, buf, theme);
    }
}

fn ranked(
    ranking: &[RankedRegion],
    selected: Option<usize>,
    metric: Metric,
    area: Rect,
    buf: &mut Buffer,
    theme: Theme,
) {
    let full = "Ranked · ↑↓ select · Enter filters";
    let title = if full.chars().count() + 2 <= usize::from(area.width) {
        full
    } else {
        "Ranked · ↑↓ · Enter filters"
    };
    let block = Block::bordered()
        .title(Span::styled(title, theme.title()))
        .border_style(theme.dim());
    let inner = block.inner(area);
    block.render(area, buf);
    let height = usize::from(inner.height);
    let at = ranking
        .iter()
        .position(|r| Some(r.index) == selected)
        .unwrap_or(0);
    let first = at.saturating_sub(height.saturating_sub(1));
    let span = model::span_of(ranking.iter().filter_map(|r| r.value));
    let width = usize::from(inner.width);
    // Names whole before long bars: an area is named by its districts.
    let name_w = width.saturating_sub(14).min(24);
    let bar_w = width.saturating_sub(name_w + 10);
    let lines: Vec<Line> = ranking
        .iter()
        .skip(first)
        .take(height)
        .map(|r| {
            let name = format::fit(&r.list_name(), name_w);
            let bar = r
                .value
                .map_or(0, |v| model::bar_len(metric, v, span, bar_w));
            let line = Line::from(vec![
                Span::raw(format!(
                    "{name:<name_w$} {:>8} ",
                    format::value(metric, r.value)
                )),
                Span::styled("█".repeat(bar), theme.up()),
            ]);
            if Some(r.index) == selected {
                line.style(theme.selected())
            } else {
                line
            }
        })
        .collect();
    Paragraph::new(lines).render(inner, buf);
}

fn region_details(r: &RankedRegion, data: &FrameData, area: Rect, buf: &mut Buffer, theme: Theme) {
    let block = Block::bordered()
        .title(Span::styled(r.title(), theme.title()))
        .border_style(theme.highlight());
    let inner = block.inner(area);
    block.render(area, buf);
    let Some(row) = r.row else {
        Paragraph::new(Span::styled(
            "nobody reported here in this window",
            theme.dim(),
        ))
        .render(inner, buf);
        return;
    };
    let p = &row.point;
    let one = |m: Metric| {
        format!(
            "{:<11}{:>9} {:<4}",
            format::short(m),
            format::value(m, m.of(p)),
            format::unit(m)
        )
    };
    let order = [
        Metric::Online,
        Metric::Qoe,
        Metric::Continuity,
        Metric::UpKbps,
        Metric::DownKbps,
        Metric::StartupP50,
        Metric::StartupP90,
        Metric::NewPeers,
    ];
    // Two columns when they fit, else one metric per line.
    let mut lines: Vec<Line> = if inner.width >= 52 {
        order
            .chunks(2)
            .map(|pair| Line::from(pair.iter().map(|m| one(*m)).collect::<Vec<_>>().join("  ")))
            .collect()
    } else {
        order.iter().map(|m| Line::from(one(*m))).collect()
    };
    lines.truncate(usize::from(inner.height).saturating_sub(1));
    let total: i64 = data
        .snapshot
        .by_district
        .iter()
        .map(|b| b.point.online)
        .sum::<i64>()
        .max(1);
    lines.push(Line::styled(
        format!(
            "{:.1} % of online peers",
            p.online as f64 * 100.0 / total as f64
        ),
        theme.dim(),
    ));
    Paragraph::new(lines).render(inner, buf);
}
