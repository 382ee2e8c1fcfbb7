//! The status bar (DESIGN §6): mode, clock, window, active filters, source health and
//! lag, skipped lines, damaged files — always, on every view — and the last message.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Widget};

use crate::source::frames::{FrameData, SourceState};
use crate::ui::format;
use crate::ui::model::{filter_label, mode_label};
use crate::ui::state::{UiState, span_label};
use crate::ui::theme::Theme;

/// One part of the bar: its text, a shorter form for narrow terminals, and how long
/// it is kept when even the short forms do not fit (higher stays longer; `ALWAYS`
/// is never dropped).
struct Part {
    text: String,
    short: Option<String>,
    style: Style,
    keep: u8,
}

const ALWAYS: u8 = u8::MAX;

fn part(text: String, short: Option<String>, style: Style, keep: u8) -> Part {
    Part {
        text,
        short,
        style,
        keep,
    }
}

pub fn render(
    data: Option<&FrameData>,
    ui: &UiState,
    clock: i64,
    area: Rect,
    buf: &mut Buffer,
    theme: Theme,
) {
    let tz = ui.tz;
    let zone = format::zone(clock, tz, ui.utc);
    let time = |pattern: &str| format!(" {} {zone}", format::clock(clock, tz, ui.utc, pattern));
    let at_end = data.and_then(|d| d.end).is_some_and(|end| clock >= end);
    let mut parts = vec![
        part(
            format!(" {} ", mode_label(ui, at_end)),
            None,
            theme.selected(),
            ALWAYS,
        ),
        // A message (an export's file name) outranks the clock for the few seconds
        // it is shown.
        part(
            time("%Y-%m-%d %H:%M:%S"),
            Some(time("%m-%d %H:%M")),
            Style::default(),
            9,
        ),
        part(
            format!(" │ W {}", span_label(ui.window_ms())),
            None,
            Style::default(),
            3,
        ),
    ];
    if ui.filter.is_empty() {
        parts.push(part(" │ no filter".into(), None, theme.dim(), 1));
    } else {
        parts.push(part(
            format!(" │ {}", filter_label(ui)),
            None,
            theme.highlight(),
            8,
        ));
    }
    if let Some(d) = data {
        let count = |state: SourceState| d.sources.iter().filter(|s| s.state == state).count();
        let (down, stale) = (count(SourceState::Down), count(SourceState::Stale));
        let lag = d.sources.iter().filter_map(|s| s.lag_ms).max();
        if down + stale > 0 {
            let mut parts_down = Vec::new();
            if down > 0 {
                parts_down.push(format!("{down}/{} sources down", d.sources.len()));
            }
            if stale > 0 {
                parts_down.push(format!("{stale}/{} stale", d.sources.len()));
            }
            parts.push(part(
                format!(" │ {}", parts_down.join(", ")),
                None,
                theme.alert(),
                8,
            ));
        } else {
            let ok = format!(" │ {} ok", d.sources.len());
            let lag = lag.map_or_else(String::new, |l| format!(" lag {}", format::lag(l)));
            parts.push(part(format!("{ok}{lag}"), Some(ok), Style::default(), 2));
        }
        let skipped = format::thousands(d.skipped as i64);
        parts.push(part(
            format!(" │ skipped {skipped}"),
            Some(format!(" │ skip {skipped}")),
            Style::default(),
            4,
        ));
        if !d.damaged.is_empty() {
            let n = d.damaged.len();
            parts.push(part(
                format!(" │ {n} damaged file{}", if n == 1 { "" } else { "s" }),
                Some(format!(" │ {n} damaged")),
                theme.alert(),
                7,
            ));
        }
        if let Some(l) = &d.loading {
            parts.push(part(format!(" │ {l}"), None, theme.dim(), 2));
        }
        if let Some(c) = &d.unanswered.coarse {
            parts.push(part(format!(" │ {c}"), None, theme.dim(), 3));
        }
    }
    if let Some(m) = &ui.message {
        parts.push(part(format!(" │ {m}"), None, theme.highlight(), ALWAYS));
    } else {
        parts.push(part(" │ ? help".into(), None, theme.dim(), 6));
    }
    fit(&mut parts, usize::from(area.width));
    let spans: Vec<Span> = parts
        .into_iter()
        .filter(|p| !p.text.is_empty())
        .map(|p| Span::styled(p.text, p.style))
        .collect();
    Paragraph::new(Line::from(spans)).render(area, buf);
}

/// Makes the parts fit `width`, least kept first: each takes its short form if it has
/// one, else goes; then what is still too long goes, least kept first.
fn fit(parts: &mut [Part], width: usize) {
    let len = |parts: &[Part]| parts.iter().map(|p| p.text.chars().count()).sum::<usize>();
    let mut order: Vec<usize> = (0..parts.len()).collect();
    order.sort_by_key(|&i| parts[i].keep);
    for &i in &order {
        if len(parts) <= width {
            return;
        }
        if let Some(short) = parts[i].short.take() {
            parts[i].text = short;
        } else if parts[i].keep != ALWAYS {
            parts[i].text.clear();
        }
    }
    for &i in &order {
        if len(parts) <= width || parts[i].keep == ALWAYS {
            return;
        }
        parts[i].text.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ui::state::Mode;

    fn bar(ui: &UiState, width: u16) -> String {
        let area = Rect::new(0, 0, width, 1);
        let mut buf = Buffer::empty(area);
        render(
            None,
            ui,
            1_344_303_900_000,
            area,
            &mut buf,
            Theme::color(crate::ui::theme::Palette::None),
        );
        crate::ui::frame::to_text(&buf)
    }

    #[test]
    fn at_80_columns_the_bar_keeps_help_and_a_whole_message() {
        let mut ui = UiState::new(Mode::Replay, 60_000, chrono_tz::Asia::Hong_Kong);
        ui.filter.isps.insert("PCCW".into());
        let plain = bar(&ui, 80);
        assert!(
            plain.contains("? help") && plain.contains("isp=PCCW"),
            "{plain}"
        );
        let path = std::path::Path::new("/tmp/exports/peerscope-overview-20120807-093500.csv");
        ui.message = Some(crate::ui::export::message(path, &ui));
        let told = bar(&ui, 80);
        assert!(
            told.contains("exported peerscope-overview-20120807-093500.csv (isp=PCCW)"),
            "{told}"
        );
        assert!(told.contains("REPLAY"), "{told}");
    }
}
