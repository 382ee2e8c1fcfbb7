//! Colours and their fallbacks. The default palette is colour-blind safe (Okabe–Ito
//! blue and orange for up/down and better/worse, a viridis-like sequential ramp for
//! intensities); `NO_COLOR` or a 16-colour terminal drop colour for bold, reverse and
//! shading characters, so nothing is told by colour alone.

use ratatui::style::{Color, Modifier, Style};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Palette {
    /// `NO_COLOR`: styles only.
    None,
    /// 16 colours: named colours only.
    Basic,
    /// Truecolor (`COLORTERM=truecolor` or `24bit`): the exact colours.
    Full,
    /// 256 colours (`TERM=*256*` without truecolor): the nearest of the xterm palette,
    /// since such a terminal may show a 24-bit code as garbage or as nothing.
    Indexed,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Theme {
    pub palette: Palette,
}

/// Viridis at eight stops, dark to light.
const VIRIDIS: [(u8, u8, u8); 8] = [
    (68, 1, 84),
    (70, 50, 126),
    (54, 92, 141),
    (39, 127, 142),
    (31, 161, 135),
    (74, 193, 109),
    (160, 218, 57),
    (253, 231, 37),
];
const SHADES: [char; 5] = [' ', '░', '▒', '▓', '█'];

impl Theme {
    /// From the environment: `NO_COLOR` (any value but empty), then `COLORTERM` / `TERM`.
    pub fn from_env() -> Theme {
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        let colorterm = std::env::var("COLORTERM").unwrap_or_default();
        let term = std::env::var("TERM").unwrap_or_default();
        Theme {
            palette: palette_for(no_color, &colorterm, &term),
        }
    }

    /// An exact colour, or the nearest the terminal can show.
    pub fn rgb(self, r: u8, g: u8, b: u8) -> Color {
        match self.palette {
            Palette::Indexed => Color::Indexed(nearest_xterm(r, g, b)),
            _ => Color::Rgb(r, g, b),
        }
    }

    pub fn color(palette: Palette) -> Theme {
        Theme { palette }
    }

    fn fg(self, full: Color, basic: Color) -> Style {
        match self.palette {
            Palette::None => Style::default(),
            Palette::Basic => Style::default().fg(basic),
            Palette::Full | Palette::Indexed => Style::default().fg(match full {
                Color::Rgb(r, g, b) => self.rgb(r, g, b),
                other => other,
            }),
        }
    }

    /// Rising values, "better", the selection's frame.
    pub fn up(self) -> Style {
        self.fg(Color::Rgb(0, 114, 178), Color::Blue)
    }

    /// Falling values, "worse", alerts.
    pub fn down(self) -> Style {
        self.fg(Color::Rgb(230, 159, 0), Color::Yellow)
    }

    pub fn alert(self) -> Style {
        self.down().add_modifier(Modifier::BOLD)
    }

    pub fn title(self) -> Style {
        Style::default().add_modifier(Modifier::BOLD)
    }

    pub fn dim(self) -> Style {
        match self.palette {
            Palette::None => Style::default(),
            _ => Style::default().fg(Color::DarkGray),
        }
    }

    pub fn selected(self) -> Style {
        Style::default().add_modifier(Modifier::REVERSED)
    }

    pub fn highlight(self) -> Style {
        self.up().add_modifier(Modifier::BOLD)
    }

    /// Style of a series drawn in a chart (the n-th of several).
    pub fn series(self, n: usize) -> Style {
        const OKABE_ITO: [(u8, u8, u8, Color); 6] = [
            (0, 114, 178, Color::Blue),
            (230, 159, 0, Color::Yellow),
            (0, 158, 115, Color::Green),
            (204, 121, 167, Color::Magenta),
            (86, 180, 233, Color::Cyan),
            (213, 94, 0, Color::Red),
        ];
        let (r, g, b, basic) = OKABE_ITO[n % OKABE_ITO.len()];
        self.fg(Color::Rgb(r, g, b), basic)
    }

    /// A sequential colour for `x` in [0, 1] (background and foreground the same).
    pub fn ramp(self, x: f64) -> Style {
        let x = if x.is_finite() {
            x.clamp(0.0, 1.0)
        } else {
            0.0
        };
        match self.palette {
            Palette::None => Style::default(),
            Palette::Basic => {
                let c = [Color::Blue, Color::Cyan, Color::Green, Color::Yellow]
                    [((x * 3.999) as usize).min(3)];
                Style::default().fg(c)
            }
            Palette::Full | Palette::Indexed => {
                let (r, g, b) = VIRIDIS[((x * 7.999) as usize).min(7)];
                Style::default().fg(self.rgb(r, g, b))
            }
        }
    }

    /// A shading character for `x` in [0, 1]: what carries intensity without colour.
    pub fn shade(x: f64) -> char {
        let x = if x.is_finite() {
            x.clamp(0.0, 1.0)
        } else {
            0.0
        };
        SHADES[((x * 4.999) as usize).min(4)]
    }
}
/// The palette a terminal gets: `NO_COLOR` first, then truecolor only when `COLORTERM`
/// says so, 256 colours when `TERM` does, else the 16 named ones.
fn palette_for(no_color: bool, colorterm: &str, term: &str) -> Palette {
    if no_color {
        Palette::None
    } else if colorterm.contains("truecolor")
        || colorterm.contains("24bit")
        || term.contains("direct")
    {
        Palette::Full
    } else if term.contains("256") {
        Palette::Indexed
    } else {
        Palette::Basic
    }
}

/// The xterm-256 index nearest to a colour: of the 6×6×6 cube (16–231) and the grey
/// ramp (232–255), whichever is closer.
fn nearest_xterm(r: u8, g: u8, b: u8) -> u8 {
    const LEVELS: [i32; 6] = [0, 95, 135, 175, 215, 255];
    let near = |v: u8| {
        let v = i32::from(v);
        (0..6).min_by_key(|&i| (LEVELS[i] - v).abs()).unwrap_or(0)
    };
    let (ri, gi, bi) = (near(r), near(g), near(b));
    let d2 = |x: i32, y: i32, z: i32| {
        (x - i32::from(r)).pow(2) + (y - i32::from(g)).pow(2) + (z - i32::from(b)).pow(2)
    };
    let cube = d2(LEVELS[ri], LEVELS[gi], LEVELS[bi]);
    let mean = (i32::from(r) + i32::from(g) + i32::from(b)) / 3;
    let step = ((mean - 8 + 5) / 10).clamp(0, 23);
    let grey_level = 8 + 10 * step;
    let grey = d2(grey_level, grey_level, grey_level);
    if grey < cube {
        232 + u8::try_from(step).unwrap_or(23)
    } else {
        16 + u8::try_from(36 * ri + 6 * gi + bi).unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_256_colour_terminal_gets_palette_indices_not_24_bit_codes() {
        assert_eq!(palette_for(false, "", "xterm-256color"), Palette::Indexed);
        assert_eq!(
            palette_for(false, "truecolor", "xterm-256color"),
            Palette::Full
        );
        assert_eq!(palette_for(false, "", "xterm"), Palette::Basic);
        assert_eq!(
            palette_for(true, "truecolor", "xterm-256color"),
            Palette::None
        );
        assert_eq!(nearest_xterm(0, 0, 0), 16);
        assert_eq!(nearest_xterm(255, 255, 255), 231);
        assert_eq!(nearest_xterm(0, 114, 178), 16 + 6 + 3, "Okabe-Ito blue");
        assert_eq!(nearest_xterm(128, 128, 128), 244, "a grey");
        let theme = Theme::color(Palette::Indexed);
        assert_eq!(theme.series(0).fg, Some(Color::Indexed(25)));
        assert_eq!(
            theme.ramp(1.0).fg,
            Some(Color::Indexed(nearest_xterm(253, 231, 37)))
        );
    }
}
