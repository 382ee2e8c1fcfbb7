//! A choropleth in terminal cells: two map pixels per cell (upper and lower half-block,
//! foreground and background colour), shape from the geography's cached raster, colour
//! from a sequential colour-blind-safe ramp with a legend; without colour, shading
//! characters carry the value. Region codes are drawn where they fit; the selected
//! region is drawn in the highlight colour (or `#` without colour).

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Widget};

use crate::engine::geography::{Geography, Layer};
use crate::engine::query::metric::Metric;
use crate::ui::format;
use crate::ui::theme::{Palette, Theme};

pub struct Choropleth<'a> {
    pub geography: &'a Geography,
    pub layer: Layer,
    /// Value per region index.
    pub values: &'a [Option<f64>],
    pub selected: Option<usize>,
    pub metric: Metric,
}

impl Choropleth<'_> {
    fn scale(&self) -> Option<(f64, f64)> {
        let (lo, hi) = self
            .values
            .iter()
            .flatten()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
                (a.min(*v), b.max(*v))
            });
        lo.is_finite().then_some((lo, hi))
    }

    fn level(&self, region: u16, scale: Option<(f64, f64)>) -> Option<f64> {
        let v = self.values.get(region as usize).copied().flatten()?;
        let (lo, hi) = scale?;
        Some(if hi > lo { (v - lo) / (hi - lo) } else { 0.5 })
    }

    fn colour(
        &self,
        region: Option<u16>,
        scale: Option<(f64, f64)>,
        theme: Theme,
    ) -> Option<Color> {
        let r = region?;
        if Some(r as usize) == self.selected {
            return Some(theme.rgb(255, 255, 255));
        }
        Some(match self.level(r, scale) {
            Some(x) => theme.ramp(x).fg.unwrap_or(Color::Reset),
            None => Color::DarkGray,
        })
    }

    pub fn render(&self, area: Rect, buf: &mut Buffer, theme: Theme) {
        if area.height < 3 || area.width < 10 {
            return;
        }
        let map = Rect {
            height: area.height - 1,
            ..area
        };
        let (w, h) = (usize::from(map.width), usize::from(map.height) * 2);
        let raster = self.geography.raster(self.layer, w, h);
        let scale = self.scale();
        let colour = theme.palette != Palette::None;
        for cy in 0..usize::from(map.height) {
            for cx in 0..w {
                let (top, bottom) = (raster.at(cx, cy * 2), raster.at(cx, cy * 2 + 1));
                let Some(cell) = buf.cell_mut((map.x + cx as u16, map.y + cy as u16)) else {
                    continue;
                };
                if colour {
                    let (ft, fb) = (
                        self.colour(top, scale, theme),
                        self.colour(bottom, scale, theme),
                    );
                    match (ft, fb) {
                        (None, None) => {}
                        (Some(t), None) => {
                            cell.set_symbol("▀").set_style(Style::default().fg(t));
                        }
                        (None, Some(b)) => {
                            cell.set_symbol("▄").set_style(Style::default().fg(b));
                        }
                        (Some(t), Some(b)) => {
                            cell.set_symbol("▀").set_style(Style::default().fg(t).bg(b));
                        }
                    }
                } else if let Some(r) = top.or(bottom) {
                    let symbol = if Some(r as usize) == self.selected {
                        '#'
                    } else {
                        self.level(r, scale).map_or('·', Theme::shade)
                    };
                    let symbol = if symbol == ' ' { '.' } else { symbol };
                    cell.set_char(symbol);
                }
            }
        }
        self.labels(map, &raster, buf, theme);
        self.legend(
            Rect {
                y: area.bottom() - 1,
                height: 1,
                ..area
            },
            scale,
            buf,
            theme,
        );
    }

    /// Region codes at their anchor points, where they fit on land without touching.
    fn labels(
        &self,
        map: Rect,
        raster: &crate::engine::geography::Raster,
        buf: &mut Buffer,
        theme: Theme,
    ) {
        let regions = match self.layer {
            Layer::Districts => &self.geography.districts,
            Layer::Areas => &self.geography.areas,
        };
        let (w, h) = (raster.width, raster.height);
        let b = self.geography.bounds;
        let scale = (b.width() / w as f64).max(b.height() / h as f64);
        let x0 = b.center().x - scale * w as f64 / 2.0;
        let y1 = b.center().y + scale * h as f64 / 2.0;
        let mut taken: Vec<(u16, u16, u16)> = Vec::new();
        for (i, r) in regions.iter().enumerate() {
            let px = ((r.anchor.x - x0) / scale).floor();
            let py = ((y1 - r.anchor.y) / scale).floor();
            if px < 0.0 || py < 0.0 {
                continue;
            }
            let (cx, cy) = (px as u16, (py as u16) / 2);
            let len = r.code.chars().count() as u16;
            let start = cx.saturating_sub(len / 2);
            if start + len > map.width || cy >= map.height {
                continue;
            }
            let clash = taken
                .iter()
                .any(|(y, a, z)| *y == cy && start <= *z + 1 && *a <= start + len);
            if clash {
                continue;
            }
            taken.push((cy, start, start + len - 1));
            let style = if Some(i) == self.selected {
                Style::default().add_modifier(Modifier::BOLD | Modifier::REVERSED)
            } else if theme.palette == Palette::None {
                Style::default().add_modifier(Modifier::BOLD)
            } else {
                Style::default()
                    .fg(Color::Black)
                    .bg(Color::Gray)
                    .add_modifier(Modifier::BOLD)
            };
            buf.set_string(map.x + start, map.y + cy, &r.code, style);
        }
    }

    fn legend(&self, area: Rect, scale: Option<(f64, f64)>, buf: &mut Buffer, theme: Theme) {
        let Some((lo, hi)) = scale else {
            Paragraph::new(Span::styled("no values in this window", theme.dim())).render(area, buf);
            return;
        };
        let unit = format::unit(self.metric);
        let mut spans = vec![Span::raw(format!(
            "{} {unit} ",
            format::value(self.metric, Some(lo))
        ))];
        for i in 0..12 {
            let x = f64::from(i) / 11.0;
            if theme.palette == Palette::None {
                let c = Theme::shade(x);
                spans.push(Span::raw(if c == ' ' { '.' } else { c }.to_string()));
            } else {
                spans.push(Span::styled("█", theme.ramp(x)));
            }
        }
        spans.push(Span::raw(format!(
            " {} {unit}",
            format::value(self.metric, Some(hi))
        )));
        let no_data = if theme.palette == Palette::None {
            Span::raw("  · no data")
        } else {
            Span::styled("  █ no data", Style::default().fg(Color::DarkGray))
        };
        spans.push(no_data);
        Paragraph::new(Line::from(spans)).render(area, buf);
    }
}
