//! The status bar (DESIGN §6): mode, clock, window, active filters, source health and
//! lag, skipped lines, damaged files — always, on every view — and the last message.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Widget};

use crate::source::frames::{FrameData, SourceState};
use crate::ui::format;
use crate::ui::model::{filter_label, mode_label};
use crate::ui::state::{UiState, span_label};
use crate::ui::theme::Theme;

pub fn render(
    data: Option<&FrameData>,
    ui: &UiState,
    clock: i64,
    area: Rect,
    buf: &mut Buffer,
    theme: Theme,
) {
    let tz = ui.tz;
    let when = format!(
        "{} {}",
        format::clock(clock, tz, ui.utc, "%Y-%m-%d %H:%M:%S"),
        format::zone(clock, tz, ui.utc)
    );
    let filter = filter_label(ui);
    let at_end = data.and_then(|d| d.end).is_some_and(|end| clock >= end);
    let filter_style = if ui.filter.is_empty() {
        theme.dim()
    } else {
        theme.highlight()
    };
    let mut spans = vec![
        Span::styled(format!(" {} ", mode_label(ui, at_end)), theme.selected()),
        Span::raw(format!(" {when} │ W {} │ ", span_label(ui.window_ms()))),
        Span::styled(filter, filter_style),
    ];
    if let Some(d) = data {
        let count = |state: SourceState| d.sources.iter().filter(|s| s.state == state).count();
        let (down, stale) = (count(SourceState::Down), count(SourceState::Stale));
        let lag = d.sources.iter().filter_map(|s| s.lag_ms).max();
        let health = if down + stale > 0 {
            let mut parts = Vec::new();
            if down > 0 {
                parts.push(format!("{down}/{} sources down", d.sources.len()));
            }
            if stale > 0 {
                parts.push(format!("{stale}/{} stale", d.sources.len()));
            }
            Span::styled(format!(" │ {}", parts.join(", ")), theme.alert())
        } else {
            Span::raw(format!(
                " │ {} ok{}",
                d.sources.len(),
                lag.map_or_else(String::new, |l| format!(" lag {:.0}s", l as f64 / 1000.0))
            ))
        };
        spans.push(health);
        spans.push(Span::raw(format!(
            " │ skipped {}",
            format::thousands(d.skipped as i64)
        )));
        if !d.damaged.is_empty() {
            let n = d.damaged.len();
            spans.push(Span::styled(
                format!(" │ {n} damaged file{}", if n == 1 { "" } else { "s" }),
                theme.alert(),
            ));
        }
        if let Some(l) = &d.loading {
            spans.push(Span::styled(format!(" │ {l}"), theme.dim()));
        }
    }
    if let Some(m) = &ui.message {
        spans.push(Span::styled(format!(" │ {m}"), theme.highlight()));
    } else {
        spans.push(Span::styled(" │ ? help", theme.dim()));
    }
    Paragraph::new(Line::from(spans)).render(area, buf);
}
