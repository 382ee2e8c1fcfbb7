//! Where the records come from, line by line: each source's state, lag, bytes and last
//! error in plain words, then every file that could not be read whole, with its minute.
//! The Overview shows these beside the alerts; the waiting screen shows them alone, so
//! the reason a source is down is on screen before any record arrives.

use ratatui::text::Line;

use crate::recording::layout::MinuteName;
use crate::source::frames::{FrameData, SourceState};
use crate::ui::format;
use crate::ui::state::UiState;
use crate::ui::theme::Theme;

/// Each source, wrapped to `width`.
pub fn source_lines(data: &FrameData, theme: Theme, width: usize) -> Vec<Line<'static>> {
    data.sources
        .iter()
        .flat_map(|s| {
            let lag = s
                .lag_ms
                .map_or_else(String::new, |l| format!(" lag {}", format::lag(l)));
            let style = match s.state {
                SourceState::Down | SourceState::Stale => theme.alert(),
                _ => theme.dim(),
            };
            let err = s
                .last_error
                .as_deref()
                .map_or_else(String::new, |e| format!(" {e}"));
            let bytes = if s.bytes > 0 {
                format!(" {:.1} MB", s.bytes as f64 / 1e6)
            } else {
                String::new()
            };
            let text = format!("{} {}{lag}{bytes}{err}", s.name, s.state.label());
            format::wrap(&text, width, 2)
                .into_iter()
                .map(move |l| Line::styled(l, style))
        })
        .collect()
}

/// Each file that could not be read whole, wrapped to `width`: its minute (in the zone
/// shown), its server and stream, and why — so a lost minute is not taken for an
/// incident.
pub fn damaged_lines(
    data: &FrameData,
    ui: &UiState,
    theme: Theme,
    width: usize,
) -> Vec<Line<'static>> {
    data.damaged
        .iter()
        .flat_map(|(path, why)| {
            let name = path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            let minute = MinuteName::parse(&name).map_or_else(
                || name.clone(),
                |m| format::clock(m.minute_ms, data.tz, ui.utc, "%m-%d %H:%M"),
            );
            // <server>/<stream>/<day>/<file>: the server and stream say whose minute it is.
            let parts: Vec<String> = path
                .iter()
                .rev()
                .skip(2)
                .take(2)
                .map(|p| p.to_string_lossy().into_owned())
                .collect();
            let whose = match parts.as_slice() {
                [stream, server] => format!("{server}/{stream}"),
                [stream] => stream.clone(),
                _ => String::new(),
            };
            format::wrap(&format!("✗ {minute} {whose}: {why}"), width, 2)
                .into_iter()
                .map(move |l| Line::styled(l, theme.alert()))
        })
        .collect()
}
