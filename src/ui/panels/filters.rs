//! The `f` panel: ISPs, channels and districts with their online peers now, selected
//! values marked; the filter applies to every view as it changes.

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph, Widget};

use crate::source::frames::FrameData;
use crate::ui::format;
use crate::ui::state::{Facet, Overlay, UiState};
use crate::ui::theme::Theme;
use crate::ui::update::facet_rows;

pub fn render(data: Option<&FrameData>, ui: &UiState, area: Rect, buf: &mut Buffer, theme: Theme) {
    let Overlay::Filters { facet, row } = &ui.overlay else {
        return;
    };
    let width = area.width.min(96);
    let height = area.height.min(20);
    let rect = Rect {
        x: area.x + (area.width - width) / 2,
        y: area.y + (area.height - height) / 2,
        width,
        height,
    };
    Clear.render(rect, buf);
    let outer = Block::bordered().title(Span::styled(
        " filter · Space select · ←→ column · c clear · Esc close ",
        theme.title(),
    ));
    let inner = outer.inner(rect);
    outer.render(rect, buf);
    let columns = Layout::horizontal([Constraint::Ratio(1, 3); 3]).split(inner);
    let mut filter = ui.filter.clone();
    for (i, f) in Facet::ALL.iter().enumerate() {
        let active = f == facet;
        let rows = facet_rows(data, *f);
        let chosen = f.values(&mut filter).clone();
        let block = Block::bordered()
            .title(Span::styled(
                f.title(),
                if active {
                    theme.highlight()
                } else {
                    theme.title()
                },
            ))
            .border_style(if active {
                theme.highlight()
            } else {
                theme.dim()
            });
        let body = block.inner(columns[i]);
        block.render(columns[i], buf);
        let height = usize::from(body.height);
        let first = if active {
            row.saturating_sub(height.saturating_sub(1))
        } else {
            0
        };
        let name_w = usize::from(body.width).saturating_sub(11);
        let lines: Vec<Line> = rows
            .iter()
            .enumerate()
            .skip(first)
            .take(height)
            .map(|(r, (name, n))| {
                let mark = if chosen.contains(name) { "[x]" } else { "[ ]" };
                let short: String = name.chars().take(name_w).collect();
                let line = Line::from(format!(
                    "{mark} {short:<name_w$}{:>7}",
                    format::thousands(*n)
                ));
                if active && r == *row {
                    line.style(theme.selected())
                } else if chosen.contains(name) {
                    line.style(theme.highlight())
                } else {
                    line
                }
            })
            .collect();
        if lines.is_empty() {
            Paragraph::new(Span::styled("nothing yet", theme.dim())).render(body, buf);
        } else {
            Paragraph::new(lines).render(body, buf);
        }
    }
}
