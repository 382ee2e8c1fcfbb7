//! View 6, Probes: the destination × probe matrix of the chosen metric, each cell
//! coloured by how its path compares with the other probes' paths to the same
//! destination, or (`b`) with its own usual value (blue better, orange worse; marks
//! `++ + - --` without colour), grouped by destination group; the route changes beside
//! or below it, one per change of the network with the probes that saw it and the
//! segment that changed, wrapped rather than cut. `Enter` on a destination opens its
//! probe × time heatmap ([`super::probe_detail`]).
//!
//! ```text
//! RTT ms · latest round per path vs other probes · 8 × 43   ┌Route changes (1 · 8 events)┐
//! dest          UA     UB     UC     UD …                   │08-07 10:21 uon, 8 probes   │
//! ── HKIX                                                    │  score 11: … 3491 6453 5511│
//! hku          1.9    2.0    2.5+   1.7                     │    37100 36914 → … 3356    │
//! ```

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph, Widget, Wrap};

use crate::engine::probes::ProbeMetric;
use crate::engine::probes::snapshot::{Comparison, ProbeSnapshot, format_as_path};
use crate::source::frames::FrameData;
use crate::ui::format;
use crate::ui::state::{ProbeBasis, UiState};
use crate::ui::theme::{Palette, Theme};

use super::probe_detail;

const DEST_WIDTH: u16 = 10;
const MIN_CELL: u16 = 6;
const MAX_CELL: u16 = 9;

pub fn render(data: &FrameData, ui: &UiState, area: Rect, buf: &mut Buffer, theme: Theme) {
    let p = &data.probes;
    if p.accepted == 0 {
        let why = data.unanswered.probes.unwrap_or(
            "No probe records up to this moment. Probe records come from `peerscope probe` agents or `peerscope simulate` (the probes stream of a recording).",
        );
        Paragraph::new(Span::styled(why, theme.dim()))
            .wrap(Wrap { trim: true })
            .block(
                Block::bordered()
                    .title(" Probes ")
                    .border_style(theme.dim()),
            )
            .render(area, buf);
        return;
    }
    // Wide screens put the events beside the matrix, narrow ones below it.
    let wide = area.width >= 140;
    let (main, events) = if wide {
        let [m, e] = Layout::horizontal([Constraint::Min(80), Constraint::Length(54)]).areas(area);
        (m, e)
    } else {
        let rows = (area.height / 3).clamp(4, 8);
        let [m, e] = Layout::vertical([Constraint::Min(8), Constraint::Length(rows)]).areas(area);
        (m, e)
    };
    if p.detail.is_some() {
        probe_detail::render(data, ui, main, buf, theme);
    } else {
        render_matrix(data, ui, main, buf, theme);
    }
    render_events(data, ui, events, buf, theme, wide);
}

/// A value as the matrix prints it: RTT in ms, rates in percent.
pub fn value_text(metric: ProbeMetric, v: f64) -> String {
    if metric.is_rate() {
        format!("{:.1}", v * 100.0)
    } else if v < 100.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.0}")
    }
}

fn mark(c: Option<Comparison>) -> &'static str {
    match c {
        Some(Comparison::MuchBetter) => "++",
        Some(Comparison::Better) => "+",
        Some(Comparison::Worse) => "-",
        Some(Comparison::MuchWorse) => "--",
        Some(Comparison::Similar) | None => "",
    }
}

/// Which matrix line the selected destination is on, counting group headings.
fn lines_of(p: &ProbeSnapshot) -> Vec<Option<usize>> {
    let mut out = Vec::new();
    let mut group: Option<&str> = None;
    for (i, r) in p.rows.iter().enumerate() {
        if group != Some(r.group.as_str()) {
            group = Some(&r.group);
            out.push(None);
        }
        out.push(Some(i));
    }
    out
}

fn render_matrix(data: &FrameData, ui: &UiState, area: Rect, buf: &mut Buffer, theme: Theme) {
    let p = &data.probes;
    let metric = p.metric;
    let basis = ui.probe_basis.label();
    let block = Block::bordered()
        .title(format!(
            " {} · latest round {basis} · {} probes × {} destinations ",
            metric.label(),
            p.probes.len(),
            p.rows.len()
        ))
        .border_style(theme.dim());
    let inner = block.inner(area);
    block.render(area, buf);
    if inner.height < 4 || inner.width < DEST_WIDTH + MIN_CELL {
        return;
    }
    let cell = ((inner.width - DEST_WIDTH) / u16::try_from(p.probes.len().max(1)).unwrap_or(1))
        .clamp(MIN_CELL, MAX_CELL);
    let fit = usize::from((inner.width - DEST_WIDTH) / cell).max(1);
    let first = ui.probe_column.min(p.probes.len().saturating_sub(fit));
    let shown = first..(first + fit).min(p.probes.len());
    // Header.
    let mut head = vec![Span::styled(
        format!("{:<w$}", "dest", w = usize::from(DEST_WIDTH)),
        theme.title(),
    )];
    for name in &p.probes[shown.clone()] {
        head.push(Span::styled(
            format!("{name:>w$}  ", w = usize::from(cell) - 2),
            theme.title(),
        ));
    }
    if shown.end < p.probes.len() {
        head.push(Span::styled(" ▶", theme.dim()));
    }
    if shown.start > 0 {
        head[0] = Span::styled(
            format!("{:<w$}", "◀ dest", w = usize::from(DEST_WIDTH)),
            theme.title(),
        );
    }
    Paragraph::new(Line::from(head)).render(Rect { height: 1, ..inner }, buf);
    // Rows: legend at the bottom.
    let body_h = usize::from(inner.height - 2);
    let lines = lines_of(p);
    let selected = ui.probe_row.min(p.rows.len().saturating_sub(1));
    let sel_line = lines.iter().position(|l| *l == Some(selected)).unwrap_or(0);
    let offset = (sel_line + 1).saturating_sub(body_h);
    for (k, line) in lines.iter().skip(offset).take(body_h).enumerate() {
        let rect = Rect {
            y: inner.y + 1 + u16::try_from(k).unwrap_or(0),
            height: 1,
            ..inner
        };
        let Some(i) = line else {
            let group = lines[offset + k + 1..]
                .iter()
                .find_map(|l| *l)
                .map_or("", |i| p.rows[i].group.as_str());
            Paragraph::new(Span::styled(format!("── {group}"), theme.dim())).render(rect, buf);
            continue;
        };
        let row = &p.rows[*i];
        let name_style = if *i == selected {
            theme.selected()
        } else {
            Style::default()
        };
        let mut spans = vec![Span::styled(
            format!("{:<w$.w$}", row.dest, w = usize::from(DEST_WIDTH) - 1),
            name_style,
        )];
        spans.push(Span::raw(" "));
        for c in &row.cells[shown.clone()] {
            let w = usize::from(cell) - 2;
            let (text, style) = match c {
                None => (format!("{:>w$}  ", "·"), theme.dim()),
                Some(c) => {
                    let against = match ui.probe_basis {
                        ProbeBasis::OwnUsual => c.vs_usual,
                        ProbeBasis::OtherProbes => c.comparison,
                    };
                    (
                        format!("{:>w$}{:<2}", value_text(metric, c.value), mark(against)),
                        comparison_style(theme, against),
                    )
                }
            };
            spans.push(Span::styled(text, style));
        }
        Paragraph::new(Line::from(spans)).render(rect, buf);
    }
    legend(
        Rect {
            y: inner.bottom() - 1,
            height: 1,
            ..inner
        },
        basis,
        buf,
        theme,
    );
}

/// Background colour for a comparison (diverging blue–orange), black text on it.
pub fn comparison_style(theme: Theme, c: Option<Comparison>) -> Style {
    use ratatui::style::Color;
    let Some(c) = c else {
        return Style::default();
    };
    match theme.palette {
        Palette::None => Style::default(),
        Palette::Basic => match c {
            Comparison::MuchBetter => Style::default().bg(Color::Blue).fg(Color::White),
            Comparison::Better => Style::default().bg(Color::Cyan).fg(Color::Black),
            Comparison::Similar => Style::default(),
            Comparison::Worse => Style::default().bg(Color::Yellow).fg(Color::Black),
            Comparison::MuchWorse => Style::default().bg(Color::Red).fg(Color::White),
        },
        Palette::Full | Palette::Indexed => {
            let (bg, fg) = match c {
                Comparison::MuchBetter => ((0, 90, 160), (255, 255, 255)),
                Comparison::Better => ((140, 190, 230), (0, 0, 0)),
                Comparison::Similar => ((60, 60, 60), (230, 230, 230)),
                Comparison::Worse => ((245, 190, 110), (0, 0, 0)),
                Comparison::MuchWorse => ((200, 90, 0), (255, 255, 255)),
            };
            Style::default()
                .bg(theme.rgb(bg.0, bg.1, bg.2))
                .fg(theme.rgb(fg.0, fg.1, fg.2))
        }
    }
}

fn legend(area: Rect, basis: &str, buf: &mut Buffer, theme: Theme) {
    let mut spans = vec![Span::styled(format!("{basis}: "), theme.dim())];
    for c in Comparison::ALL {
        let m = mark(Some(c));
        let text = if m.is_empty() {
            format!(" {} ", c.label())
        } else {
            format!(" {m} {} ", c.label())
        };
        spans.push(Span::styled(text, comparison_style(theme, Some(c))));
    }
    // What "·" means, where there is room for it whole.
    let used: usize = spans.iter().map(|s| s.content.chars().count()).sum();
    let dot = "  · no recent round";
    if used + dot.chars().count() <= usize::from(area.width) {
        spans.push(Span::styled(dot, theme.dim()));
    }
    Paragraph::new(Line::from(spans)).render(area, buf);
}

fn render_events(
    data: &FrameData,
    ui: &UiState,
    area: Rect,
    buf: &mut Buffer,
    theme: Theme,
    wide: bool,
) {
    let p = &data.probes;
    let title = if p.changes.len() == p.events.len() {
        format!(" Route changes ({}) ", p.changes.len())
    } else {
        format!(
            " Route changes ({} · {} events) ",
            p.changes.len(),
            p.events.len()
        )
    };
    let block = Block::bordered().title(title).border_style(theme.dim());
    let inner = block.inner(area);
    block.render(area, buf);
    if p.changes.is_empty() {
        Paragraph::new(Span::styled(
            "none: every path's AS sequence is as usual",
            theme.dim(),
        ))
        .render(inner, buf);
        return;
    }
    let width = usize::from(inner.width);
    let time = |ms| format::clock(ms, data.tz, ui.utc, "%m-%d %H:%M");
    let mut lines = Vec::new();
    for g in &p.changes {
        let when = time(g.first);
        let until = format::clock(g.last, data.tz, ui.utc, "%H:%M");
        let when = if when.ends_with(&until) {
            when
        } else {
            format!("{when}–{until}")
        };
        // The probes by name where they fit on the line, else how many.
        let names = g.probes.join(" ");
        let head = format!("{when} {} ", g.dest);
        let seen = if head.chars().count() + names.chars().count() < width {
            names
        } else {
            format!("{} probes", g.probes.len())
        };
        lines.push(Line::from(vec![
            Span::raw(format!("{when} ")),
            Span::styled(format!("{} ", g.dest), theme.title()),
            Span::raw(seen),
        ]));
        let part = |path: &[u32]| {
            let text = format_as_path(path);
            if g.trimmed {
                format!("… {text}")
            } else {
                text
            }
        };
        let change = format!(
            "  score {:.0}: {} → {}",
            g.score,
            part(&g.before),
            part(&g.after)
        );
        // The AS paths wrap: a cut path hides where the route went.
        let indent = if wide { 4 } else { 2 };
        lines.extend(
            format::wrap(&change, width, indent)
                .into_iter()
                .map(|l| Line::styled(l, theme.dim())),
        );
        if lines.len() >= usize::from(inner.height) {
            break;
        }
    }
    Paragraph::new(lines).render(inner, buf);
}
