//! View 6, one destination: a probe × time heatmap of the chosen metric over the
//! timeline's range (`+`/`-` zoom it). Columns are time buckets no finer than the
//! rounds; darker is larger (reversed viridis, or denser shading without colour), with
//! the scale in the legend. `Enter` or `Esc` goes back to the matrix.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Color, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph, Widget};

use crate::engine::probes::snapshot::DestDetail;
use crate::source::frames::FrameData;
use crate::ui::format;
use crate::ui::state::{UiState, span_label};
use crate::ui::theme::{Palette, Theme};

use super::probes::value_text;

const LABEL_WIDTH: u16 = 6;

/// Buckets of the detail: (bucket width ms, per probe the mean per bucket).
pub fn buckets(d: &DestDetail, columns: usize) -> (i64, Vec<Vec<Option<f64>>>) {
    let span = (d.to - d.from).max(1);
    // Never finer than the typical gap between a path's points (its rounds).
    let mut gaps: Vec<i64> = d
        .series
        .iter()
        .flat_map(|(_, pts)| pts.windows(2).map(|w| w[1].0 - w[0].0))
        .filter(|g| *g > 0)
        .collect();
    gaps.sort_unstable();
    let gap = gaps.get(gaps.len() / 2).copied().unwrap_or(1);
    let columns = i64::try_from(columns.max(1)).unwrap_or(1);
    let width = (span / columns).max(gap).max(1);
    let n = usize::try_from((span + width - 1) / width)
        .unwrap_or(1)
        .max(1);
    let rows = d
        .series
        .iter()
        .map(|(_, pts)| {
            let mut sums = vec![(0.0, 0u32); n];
            for (at, v) in pts {
                let i = usize::try_from((at - d.from) / width)
                    .unwrap_or(0)
                    .min(n - 1);
                sums[i].0 += v;
                sums[i].1 += 1;
            }
            sums.into_iter()
                .map(|(s, k)| (k > 0).then(|| s / f64::from(k)))
                .collect()
        })
        .collect();
    (width, rows)
}

pub fn render(data: &FrameData, ui: &UiState, area: Rect, buf: &mut Buffer, theme: Theme) {
    let Some(d) = &data.probes.detail else {
        return;
    };
    let metric = data.probes.metric;
    let block = Block::bordered()
        .title(format!(
            " {} · {} · {} over {} · Enter/Esc: back ",
            d.dest,
            d.group,
            metric.label(),
            span_label(d.to - d.from)
        ))
        .border_style(theme.dim());
    let inner = block.inner(area);
    block.render(area, buf);
    if inner.height < 4 || inner.width < LABEL_WIDTH + 10 {
        return;
    }
    let plot_w = usize::from(inner.width - LABEL_WIDTH);
    let (width, rows) = buckets(d, plot_w);
    let cols = rows.first().map_or(1, Vec::len).max(1);
    let cell_w = (plot_w / cols).max(1);
    let (lo, hi) = rows
        .iter()
        .flatten()
        .flatten()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
            (a.min(*v), b.max(*v))
        });
    let level = |v: f64| if hi > lo { (v - lo) / (hi - lo) } else { 0.5 };
    let max_rows = usize::from(inner.height - 3);
    for (k, ((probe, _), values)) in d.series.iter().zip(&rows).take(max_rows).enumerate() {
        let y = inner.y + u16::try_from(k).unwrap_or(0);
        let mut spans = vec![Span::raw(format!(
            "{:<w$.w$}",
            probe,
            w = usize::from(LABEL_WIDTH) - 1
        ))];
        spans.push(Span::raw(" "));
        for v in values {
            spans.push(match v {
                None => Span::styled(" ".repeat(cell_w), theme.dim()),
                Some(v) => heat(theme, level(*v), cell_w),
            });
        }
        Paragraph::new(Line::from(spans)).render(
            Rect {
                y,
                height: 1,
                ..inner
            },
            buf,
        );
    }
    // Time axis and legend.
    let time = |ms| format::clock(ms, data.tz, ui.utc, "%m-%d %H:%M");
    let axis_y = inner.bottom() - 2;
    let from = time(d.from);
    let to = time(d.to);
    let gap =
        usize::from(inner.width).saturating_sub(usize::from(LABEL_WIDTH) + from.len() + to.len());
    Paragraph::new(Line::from(vec![
        Span::raw(" ".repeat(usize::from(LABEL_WIDTH))),
        Span::styled(from, theme.dim()),
        Span::raw(" ".repeat(gap)),
        Span::styled(to, theme.dim()),
    ]))
    .render(
        Rect {
            y: axis_y,
            height: 1,
            ..inner
        },
        buf,
    );
    let mut legend = vec![Span::styled(
        format!("{} per column · ", span_label(width)),
        theme.dim(),
    )];
    if lo.is_finite() {
        legend.push(Span::raw(format!("{} ", value_text(metric, lo))));
        for x in [0.0, 0.25, 0.5, 0.75, 1.0] {
            legend.push(heat(theme, x, 2));
        }
        legend.push(Span::raw(format!(
            " {} {}",
            value_text(metric, hi),
            if metric.is_rate() { "%" } else { "ms" }
        )));
        legend.push(Span::styled(" · darker = larger", theme.dim()));
    } else {
        legend.push(Span::styled("no rounds in this range", theme.dim()));
    }
    Paragraph::new(Line::from(legend)).render(
        Rect {
            y: axis_y + 1,
            height: 1,
            ..inner
        },
        buf,
    );
}

/// `width` cells of intensity `x` in [0, 1]: darker is larger.
fn heat(theme: Theme, x: f64, width: usize) -> Span<'static> {
    if theme.palette == Palette::None {
        // The lightest shade is still a mark: a blank cell means "no round".
        Span::raw(Theme::shade(0.2 + 0.8 * x).to_string().repeat(width))
    } else {
        let c = theme.ramp(1.0 - x).fg.unwrap_or(Color::Reset);
        Span::styled(" ".repeat(width), Style::default().bg(c))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_no_finer_than_the_rounds_and_average_inside() {
        let d = DestDetail {
            dest: "uon".into(),
            group: "Internet(Africa)".into(),
            from: 0,
            to: 3_600_000,
            series: vec![(
                "UA".into(),
                (0..6).map(|k| (k * 600_000, 100.0 * k as f64)).collect(),
            )],
        };
        let (width, rows) = buckets(&d, 70);
        assert_eq!(width, 600_000);
        assert_eq!(rows[0].len(), 6);
        assert_eq!(rows[0][5], Some(500.0));
        let (width, rows) = buckets(&d, 3);
        assert_eq!(width, 1_200_000);
        assert_eq!(rows[0], vec![Some(50.0), Some(250.0), Some(450.0)]);
    }
}
