//! View 5, Map: the land divided into 38 areas of equal size as a choropleth, with the
//! same ranking, selection, filter and details as the District view.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;

use crate::engine::geography::Layer;
use crate::source::frames::FrameData;
use crate::ui::state::UiState;
use crate::ui::theme::Theme;

use super::district::render_layer;

pub fn render(data: &FrameData, ui: &UiState, area: Rect, buf: &mut Buffer, theme: Theme) {
    render_layer(data, ui, Layer::Areas, area, buf, theme);
}
