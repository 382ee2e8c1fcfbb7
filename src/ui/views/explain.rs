//! View 7, Explain: where the change of the metric in focus is — which ISP, channel,
//! district or area, or which combination of them — in the window ending at the
//! Timeline's cursor (or the clock), against a baseline (`b`: the hour before, or the
//! same time the day before). The cause comes first, then the single places with the
//! largest shares beside it; `↑`/`↓` select, `Enter` filters every view to the row.
//!
//! ```text
//! QoE (MOS) · window 1 min · at 09:12:00 · vs the hour before (08:11–09:11)
//! 3.75 against 3.82 expected · the cause is 1 place
//!
//!   place                            share                actual  expected  peers
//! ▸ PCCW × main                      ██████████   96 %      2.59      3.59     17
//!   beside it, one dimension at a time
//!   PCCW                             ████████░░   82 %      3.41      3.80     88
//! ```

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Widget, Wrap};

use crate::engine::explain::{Contributor, Explanation, Target, Verdict};
use crate::source::frames::FrameData;
use crate::ui::format;
use crate::ui::model;
use crate::ui::state::{UiState, span_label};
use crate::ui::theme::Theme;

/// The share bar's cells.
const BAR: usize = 10;
/// Columns right of the name: bar, share ("104 %"), actual, expected, peers.
const FIGURES: usize = BAR + 7 + 10 + 10 + 7;

pub fn render(data: &FrameData, ui: &UiState, area: Rect, buf: &mut Buffer, theme: Theme) {
    let width = usize::from(area.width);
    let Some(e) = &data.explanation else {
        let text = format!(
            "{} cannot be explained by place: press m for QoE, continuity, startup, online \
             peers, upload or download.",
            ui.metric().label()
        );
        Paragraph::new(text)
            .wrap(Wrap { trim: true })
            .render(area, buf);
        return;
    };
    let mut lines = vec![
        heading(data, ui, e, theme),
        summary(e, theme),
        Line::raw(""),
    ];
    // Names fit whole up to a "district × channel × area" with its label.
    let name_width = width.saturating_sub(FIGURES + 2).clamp(12, 48);
    if !e.contributors.is_empty() || !e.others.is_empty() {
        lines.push(Line::styled(
            format!(
                "  {:<name_width$}{:<w$}{:>10}{:>10}{:>7}",
                "place",
                "share",
                "actual",
                "expected",
                "peers",
                w = BAR + 7
            ),
            theme.dim(),
        ));
    }
    let selected = ui.explain_row;
    let line = |row: usize, c: &Contributor| {
        contributor_line(data, c, e.target, name_width, row == selected, theme)
    };
    lines.extend(
        e.contributors
            .iter()
            .enumerate()
            .map(|(row, c)| line(row, c)),
    );
    if !e.others.is_empty() {
        let caption = if e.contributors.is_empty() {
            "  the largest shares, one dimension at a time"
        } else {
            "  beside it, one dimension at a time"
        };
        lines.push(Line::styled(caption, theme.dim()));
    }
    // Rows are numbered as Enter counts them: the cause's, then the others'.
    let room = usize::from(area.height).saturating_sub(lines.len() + 1);
    let first = e.contributors.len();
    lines.extend(
        e.others
            .iter()
            .take(room)
            .enumerate()
            .map(|(i, c)| line(first + i, c)),
    );
    let hint_at = area.height.saturating_sub(1);
    Paragraph::new(lines).render(
        Rect {
            height: hint_at,
            ..area
        },
        buf,
    );
    let hint = "Enter filters every view to the row · b baseline · m metric · Timeline h/l: time";
    Paragraph::new(Line::styled(format::fit(hint, width), theme.dim())).render(
        Rect {
            y: area.y + hint_at,
            height: 1,
            ..area
        },
        buf,
    );
}

/// What is compared with what: metric, window, moment, baseline.
fn heading<'a>(data: &FrameData, ui: &UiState, e: &Explanation, theme: Theme) -> Line<'a> {
    let moment = model::explain_moment(ui, data.snapshot.at);
    let time = |t: i64| format::clock(t, data.tz, ui.utc, "%H:%M");
    let window = ui.window_ms();
    let (from, to) = ui.explain_baseline.span(moment, window);
    Line::from(vec![
        Span::styled(e.target.label(), theme.title()),
        Span::raw(format!(
            " · window {} · at {} · vs {} ({}–{})",
            span_label(window),
            format::clock(moment, data.tz, ui.utc, "%H:%M:%S"),
            ui.explain_baseline.describe(),
            time(from),
            time(to)
        )),
    ])
}

/// The whole's value against what was expected, and the verdict.
fn summary<'a>(e: &Explanation, theme: Theme) -> Line<'a> {
    let verdict = match e.verdict {
        Verdict::Located => {
            let n = e.contributors.len();
            let places = if n == 1 { "place" } else { "places" };
            format!("the cause is {n} {places}")
        }
        other => other.describe().to_owned(),
    };
    let style = if e.verdict == Verdict::Located {
        theme.alert()
    } else {
        Style::default()
    };
    match (e.actual, e.expected) {
        (Some(a), Some(x)) => Line::from(vec![
            Span::raw(format!(
                "{} against {} expected · ",
                value(e.target, Some(a)),
                value(e.target, Some(x))
            )),
            Span::styled(verdict, style),
        ]),
        _ => Line::styled(verdict, style),
    }
}

fn contributor_line<'a>(
    data: &FrameData,
    c: &Contributor,
    target: Target,
    name_width: usize,
    selected: bool,
    theme: Theme,
) -> Line<'a> {
    let share = c.share.clamp(0.0, 1.0);
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let filled = (share * BAR as f64).round() as usize;
    let bar = format!("{}{}", "█".repeat(filled), "░".repeat(BAR - filled));
    let marker = if selected { "▸ " } else { "  " };
    let name = format::fit(&cause_label(data, c), name_width);
    let figures = format!(
        "{:>5} %{:>10}{:>10}{:>7}",
        format!("{:.0}", c.share * 100.0),
        value(target, c.actual),
        value(target, c.expected),
        format::thousands(c.peers)
    );
    let name_style = if selected {
        theme.selected()
    } else {
        Style::default()
    };
    Line::from(vec![
        Span::raw(marker),
        Span::styled(format!("{name:<name_width$}"), name_style),
        Span::styled(bar, theme.alert()),
        Span::raw(figures),
    ])
}

/// The cause's names, an area with the districts it covers ("Area 30 Sha Tin/Tai Po").
fn cause_label(data: &FrameData, c: &Contributor) -> String {
    let area_label = |name: &str| -> Option<String> {
        let g = data.geography.as_ref().ok()?;
        let a = g.areas.iter().find(|a| a.name == name)?;
        Some(format!("{name} {}", a.label))
    };
    let parts: Vec<String> = c
        .cause
        .iter()
        .enumerate()
        .filter_map(|(d, n)| {
            let n = n.as_deref()?;
            Some(if d == 3 {
                area_label(n).unwrap_or_else(|| n.to_owned())
            } else {
                n.to_owned()
            })
        })
        .collect();
    parts.join(" × ")
}

/// A value of the explained measure as the screen prints it.
fn value(target: Target, v: Option<f64>) -> String {
    let Some(v) = v else { return "–".into() };
    match target {
        Target::Startup => format!("{:.1} %", v * 100.0),
        Target::Online => format::thousands(v.round() as i64),
        other => format!("{v:.*}", other.decimals()),
    }
}
