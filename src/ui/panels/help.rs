//! The `?` overlay, drawn from the key table itself so it cannot drift from what the
//! keys do. It lists every binding of the mode; where the terminal is too short for
//! all of them (80×24) it scrolls, and says where it is and how to move.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph, Widget};

use crate::ui::keys::{KEYS, PAGE, Scope};
use crate::ui::state::{Mode, UiState};
use crate::ui::theme::Theme;

/// Where the overlay goes in the view area `area`: its rectangle, and whether it has
/// room for two columns.
fn placement(mode: Mode, area: Rect) -> (Rect, bool) {
    let two = area.width >= 100;
    let width = if two { 100 } else { area.width.min(56) };
    let height = (line_count(mode, two) as u16 + 2).min(area.height);
    let rect = Rect {
        x: area.x + (area.width - width) / 2,
        y: area.y + (area.height - height) / 2,
        width,
        height,
    };
    (rect, two)
}

/// The groups of bindings listed, in order.
fn groups(mode: Mode) -> impl Iterator<Item = (Scope, &'static str)> {
    [
        (Scope::Global, "Everywhere"),
        (Scope::Replay, "Replay"),
        (Scope::Filters, "Filter panel (f)"),
        (Scope::Help, "This help"),
    ]
    .into_iter()
    .filter(move |(scope, _)| *scope != Scope::Replay || mode == Mode::Replay)
}

fn lines(mode: Mode, two: bool, theme: Theme) -> Vec<Line<'static>> {
    let mut lines = Vec::new();
    for (scope, title) in groups(mode) {
        lines.push(Line::styled(title, theme.title()));
        let bindings: Vec<_> = KEYS.iter().filter(|b| b.scope == scope).collect();
        let half = bindings.len().div_ceil(2);
        let rows = if two { half } else { bindings.len() };
        for r in 0..rows {
            let mut spans = Vec::new();
            for b in [
                bindings.get(r),
                if two { bindings.get(r + half) } else { None },
            ]
            .into_iter()
            .flatten()
            {
                spans.push(Span::styled(format!("  {:<7}", b.label), theme.highlight()));
                spans.push(Span::raw(format!("{:<40}", b.help)));
            }
            lines.push(Line::from(spans));
        }
    }
    lines
}

fn line_count(mode: Mode, two: bool) -> usize {
    lines(mode, two, Theme::color(crate::ui::theme::Palette::None)).len()
}

/// The first line shown for a wanted `scroll`: never past the last page.
fn clamp(mode: Mode, area: Rect, scroll: usize) -> (usize, usize) {
    let (rect, two) = placement(mode, area);
    let visible = usize::from(rect.height.saturating_sub(2));
    let max = line_count(mode, two).saturating_sub(visible);
    (scroll.min(max), visible)
}

/// The view area of a terminal of `screen` columns × rows: all but the tab and
/// status bars.
fn view_area((width, height): (u16, u16)) -> Rect {
    Rect::new(0, 1, width, height.saturating_sub(2))
}

/// The scroll after moving `by` lines (± `PAGE` for a page) from `scroll`, on a
/// terminal of `screen` columns × rows.
pub fn scrolled(mode: Mode, screen: (u16, u16), scroll: usize, by: i32) -> usize {
    let area = view_area(screen);
    let (now, visible) = clamp(mode, area, scroll);
    let page = visible.saturating_sub(1).max(1);
    let step = match by {
        PAGE => page as i64,
        b if b == -PAGE => -(page as i64),
        b => i64::from(b),
    };
    let wanted = usize::try_from((now as i64 + step).max(0)).unwrap_or(0);
    clamp(mode, area, wanted).0
}

pub fn render(ui: &UiState, scroll: usize, area: Rect, buf: &mut Buffer, theme: Theme) {
    let (rect, two) = placement(ui.mode, area);
    let all = lines(ui.mode, two, theme);
    let (first, visible) = clamp(ui.mode, area, scroll);
    let shown: Vec<Line> = all.iter().skip(first).take(visible).cloned().collect();
    let footer = if all.len() > visible {
        format!(
            " {}–{} of {} · ↑↓ PgUp PgDn scroll · Esc closes ",
            first + 1,
            first + shown.len(),
            all.len()
        )
    } else {
        " Esc closes ".to_owned()
    };
    Clear.render(rect, buf);
    Paragraph::new(shown)
        .block(
            Block::bordered()
                .title(Span::styled(" keys ", theme.title()))
                .title_bottom(Span::styled(footer, theme.dim())),
        )
        .render(rect, buf);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scrolling_reaches_every_line_and_stops_at_the_last_page() {
        let screen = (80, 24);
        let area = view_area(screen);
        let (_, visible) = clamp(Mode::Replay, area, 0);
        let total = line_count(Mode::Replay, false);
        assert!(total > visible, "80×24 cannot show {total} lines at once");
        let mut scroll = 0;
        for _ in 0..total {
            scroll = scrolled(Mode::Replay, screen, scroll, 1);
        }
        assert_eq!(scroll, total - visible, "the last page, not past it");
        // One step up from the end moves at once (no hidden overshoot).
        assert_eq!(
            scrolled(Mode::Replay, screen, scroll, -1),
            total - visible - 1
        );
        assert_eq!(scrolled(Mode::Replay, screen, 0, -PAGE), 0);
        assert_eq!(scrolled(Mode::Replay, screen, 0, PAGE), visible - 1);
    }
}
