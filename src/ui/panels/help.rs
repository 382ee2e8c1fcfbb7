//! The `?` overlay, drawn from the key table itself so it cannot drift from what the
//! keys do.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph, Widget};

use crate::ui::keys::{KEYS, Scope};
use crate::ui::state::{Mode, UiState};
use crate::ui::theme::Theme;

pub fn render(ui: &UiState, area: Rect, buf: &mut Buffer, theme: Theme) {
    let mut lines = Vec::new();
    let groups: &[(Scope, &str)] = &[
        (Scope::Global, "Everywhere"),
        (Scope::Replay, "Replay"),
        (Scope::Filters, "Filter panel"),
    ];
    for (scope, title) in groups {
        if *scope == Scope::Replay && ui.mode != Mode::Replay {
            continue;
        }
        lines.push(Line::styled(*title, theme.title()));
        let bindings: Vec<_> = KEYS.iter().filter(|b| b.scope == *scope).collect();
        // Two columns when the overlay is wide enough.
        let half = bindings.len().div_ceil(2);
        let two = area.width >= 100;
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
    lines.push(Line::styled("any key closes this help", theme.dim()));
    let height = (lines.len() as u16 + 2).min(area.height);
    let width = if area.width >= 100 {
        100
    } else {
        area.width.min(56)
    };
    let rect = Rect {
        x: area.x + (area.width - width) / 2,
        y: area.y + (area.height - height) / 2,
        width,
        height,
    };
    Clear.render(rect, buf);
    Paragraph::new(lines)
        .block(Block::bordered().title(Span::styled(" keys ", theme.title())))
        .render(rect, buf);
}
