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
    /// 256 colours or truecolor.
    Full,
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
        let palette = if no_color {
            Palette::None
        } else if colorterm.contains("truecolor")
            || colorterm.contains("24bit")
            || term.contains("256")
            || term.contains("direct")
        {
            Palette::Full
        } else {
            Palette::Basic
        };
        Theme { palette }
    }

    pub fn color(palette: Palette) -> Theme {
        Theme { palette }
    }

    fn fg(self, full: Color, basic: Color) -> Style {
        match self.palette {
            Palette::None => Style::default(),
            Palette::Basic => Style::default().fg(basic),
            Palette::Full => Style::default().fg(full),
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
            Palette::Full => {
                let (r, g, b) = VIRIDIS[((x * 7.999) as usize).min(7)];
                Style::default().fg(Color::Rgb(r, g, b))
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
