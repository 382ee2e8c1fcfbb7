//! The key table: the one list the dispatcher reads and the `?` help is drawn from.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use super::state::{Mode, Overlay};

/// Everything a key can ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    NextView,
    PrevView,
    ShowView(usize),
    NextMetric,
    NextWindow,
    ZoomOut,
    ZoomIn,
    NextSplit,
    OpenFilters,
    ClearFilters,
    Help,
    Quit,
    Up,
    Down,
    Left,
    Right,
    Enter,
    Toggle,
    Close,
    Export,
    ToggleUtc,
    Pause,
    Slower,
    Faster,
    SeekMinutes(i64),
    GoTo,
    /// View 6: compare paths with their own usual value / with the other probes; view
    /// 7: the hour before / the same time the day before.
    ToggleBasis,
    /// The Timeline's time cursor to the next (1) or previous (−1) alert.
    JumpAlert(i32),
    /// Scroll the help by this many lines (a page is `PAGE`).
    ScrollHelp(i32),
}

/// A "page" of the help's scrolling: the lines it shows, less one.
pub const PAGE: i32 = i32::MAX;

/// Where a binding applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Every view, no overlay open.
    Global,
    /// Replay only.
    Replay,
    /// The filter panel.
    Filters,
    /// The help overlay.
    Help,
}

pub struct Binding {
    pub keys: &'static [KeyCode],
    pub label: &'static str,
    pub action: Action,
    pub help: &'static str,
    pub scope: Scope,
}

const fn bind(
    keys: &'static [KeyCode],
    label: &'static str,
    action: Action,
    help: &'static str,
    scope: Scope,
) -> Binding {
    Binding {
        keys,
        label,
        action,
        help,
        scope,
    }
}

use KeyCode::{BackTab, Char, Down, Enter, Esc, Left, PageDown, PageUp, Right, Tab, Up};

pub static KEYS: &[Binding] = &[
    bind(&[Tab], "Tab", Action::NextView, "next view", Scope::Global),
    bind(
        &[BackTab],
        "S-Tab",
        Action::PrevView,
        "previous view",
        Scope::Global,
    ),
    bind(
        &[Char('1')],
        "1",
        Action::ShowView(0),
        "Overview",
        Scope::Global,
    ),
    bind(
        &[Char('2')],
        "2",
        Action::ShowView(1),
        "Timeline",
        Scope::Global,
    ),
    bind(
        &[Char('3')],
        "3",
        Action::ShowView(2),
        "Histogram",
        Scope::Global,
    ),
    bind(
        &[Char('4')],
        "4",
        Action::ShowView(3),
        "District map",
        Scope::Global,
    ),
    bind(
        &[Char('5')],
        "5",
        Action::ShowView(4),
        "Map of the 38 areas",
        Scope::Global,
    ),
    bind(
        &[Char('6')],
        "6",
        Action::ShowView(5),
        "Probes: probe × destination heatmap",
        Scope::Global,
    ),
    bind(
        &[Char('7')],
        "7",
        Action::ShowView(6),
        "Explain: where a change is",
        Scope::Global,
    ),
    bind(
        &[Char('m')],
        "m",
        Action::NextMetric,
        "next metric",
        Scope::Global,
    ),
    bind(
        &[Char('w')],
        "w",
        Action::NextWindow,
        "window 10 s / 1 / 5 / 15 min",
        Scope::Global,
    ),
    bind(
        &[Char('+')],
        "+",
        Action::ZoomIn,
        "timeline: shorter range",
        Scope::Global,
    ),
    bind(
        &[Char('-')],
        "-",
        Action::ZoomOut,
        "timeline: longer range",
        Scope::Global,
    ),
    bind(
        &[Char('s')],
        "s",
        Action::NextSplit,
        "timeline: split by ISP / channel",
        Scope::Global,
    ),
    bind(
        &[Char('f')],
        "f",
        Action::OpenFilters,
        "filter panel",
        Scope::Global,
    ),
    bind(
        &[Char('c')],
        "c",
        Action::ClearFilters,
        "clear filters",
        Scope::Global,
    ),
    bind(
        &[Up, Char('k')],
        "↑ k",
        Action::Up,
        "move selection up",
        Scope::Global,
    ),
    bind(
        &[Down, Char('j')],
        "↓ j",
        Action::Down,
        "move selection down",
        Scope::Global,
    ),
    bind(
        &[Char('h')],
        "h",
        Action::Left,
        "cursor / probe columns left; other list",
        Scope::Global,
    ),
    bind(
        &[Char('l')],
        "l",
        Action::Right,
        "cursor / probe columns right; other list",
        Scope::Global,
    ),
    bind(
        &[Enter],
        "Enter",
        Action::Enter,
        "filter to selection / open destination",
        Scope::Global,
    ),
    bind(
        &[Char('b')],
        "b",
        Action::ToggleBasis,
        "Probes / Explain: what to compare with",
        Scope::Global,
    ),
    bind(
        &[Char('n')],
        "n",
        Action::JumpAlert(1),
        "Timeline cursor to the next alert",
        Scope::Global,
    ),
    bind(
        &[Char('N')],
        "N",
        Action::JumpAlert(-1),
        "Timeline cursor to the previous alert",
        Scope::Global,
    ),
    bind(
        &[Esc],
        "Esc",
        Action::Close,
        "hide the cursor / back to the matrix",
        Scope::Global,
    ),
    bind(
        &[Char('e')],
        "e",
        Action::Export,
        "export this view's data as CSV",
        Scope::Global,
    ),
    bind(
        &[Char('t')],
        "t",
        Action::ToggleUtc,
        "UTC / local time",
        Scope::Global,
    ),
    bind(&[Char('?')], "?", Action::Help, "this help", Scope::Global),
    bind(&[Char('q')], "q", Action::Quit, "quit", Scope::Global),
    bind(
        &[Char(' ')],
        "Space",
        Action::Pause,
        "pause / resume",
        Scope::Replay,
    ),
    bind(&[Char('<')], "<", Action::Slower, "slower", Scope::Replay),
    bind(
        &[Char('>')],
        ">",
        Action::Faster,
        "faster (up to as fast as possible)",
        Scope::Replay,
    ),
    bind(
        &[Left],
        "←",
        Action::SeekMinutes(-1),
        "back 1 min",
        Scope::Replay,
    ),
    bind(
        &[Right],
        "→",
        Action::SeekMinutes(1),
        "forward 1 min",
        Scope::Replay,
    ),
    bind(
        &[Char('[')],
        "[",
        Action::SeekMinutes(-60),
        "back 1 h",
        Scope::Replay,
    ),
    bind(
        &[Char(']')],
        "]",
        Action::SeekMinutes(60),
        "forward 1 h",
        Scope::Replay,
    ),
    bind(
        &[Char('g')],
        "g",
        Action::GoTo,
        "go to a time",
        Scope::Replay,
    ),
    bind(
        &[Up, Char('k')],
        "↑ k",
        Action::Up,
        "previous row",
        Scope::Filters,
    ),
    bind(
        &[Down, Char('j')],
        "↓ j",
        Action::Down,
        "next row",
        Scope::Filters,
    ),
    bind(
        &[Left, Char('h'), BackTab],
        "← h",
        Action::Left,
        "previous column",
        Scope::Filters,
    ),
    bind(
        &[Right, Char('l'), Tab],
        "→ l",
        Action::Right,
        "next column",
        Scope::Filters,
    ),
    bind(
        &[Char(' '), Enter],
        "Space",
        Action::Toggle,
        "select / unselect",
        Scope::Filters,
    ),
    bind(
        &[Char('c')],
        "c",
        Action::ClearFilters,
        "clear filters",
        Scope::Filters,
    ),
    bind(
        &[Esc, Char('f'), Char('q')],
        "Esc",
        Action::Close,
        "close the panel",
        Scope::Filters,
    ),
    bind(
        &[Down, Char('j')],
        "↓ j",
        Action::ScrollHelp(1),
        "scroll down",
        Scope::Help,
    ),
    bind(
        &[Up, Char('k')],
        "↑ k",
        Action::ScrollHelp(-1),
        "scroll up",
        Scope::Help,
    ),
    bind(
        &[PageDown, Char(' ')],
        "PgDn",
        Action::ScrollHelp(PAGE),
        "next page",
        Scope::Help,
    ),
    bind(
        &[PageUp],
        "PgUp",
        Action::ScrollHelp(-PAGE),
        "previous page",
        Scope::Help,
    ),
    bind(
        &[Esc, Char('?'), Char('q'), Enter],
        "Esc",
        Action::Close,
        "close this help",
        Scope::Help,
    ),
];

/// The action for a key in the current mode and overlay (text input is handled apart).
pub fn dispatch(key: KeyEvent, mode: Mode, overlay: &Overlay) -> Option<Action> {
    if key.modifiers.contains(KeyModifiers::CONTROL) && key.code == Char('c') {
        return Some(Action::Quit);
    }
    let scopes: &[Scope] = match (overlay, mode) {
        (Overlay::Help { .. }, _) => &[Scope::Help],
        (Overlay::Filters { .. }, _) => &[Scope::Filters],
        // Replay keys first: ← → seek there rather than move a selection.
        (_, Mode::Replay) => &[Scope::Replay, Scope::Global],
        (_, Mode::Live) => &[Scope::Global],
    };
    scopes.iter().find_map(|scope| {
        KEYS.iter()
            .find(|b| b.scope == *scope && b.keys.contains(&key.code))
            .map(|b| b.action)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(code: KeyCode) -> KeyEvent {
        KeyEvent::new(code, KeyModifiers::NONE)
    }

    #[test]
    fn no_key_means_two_things_in_one_scope() {
        for a in KEYS {
            for b in KEYS {
                if !std::ptr::eq(a, b) && a.scope == b.scope {
                    for k in a.keys {
                        assert!(!b.keys.contains(k), "{k:?} bound twice in {:?}", a.scope);
                    }
                }
            }
        }
    }

    #[test]
    fn every_help_text_fits_its_column() {
        // The help's column is 40 characters wide (two columns side by side at 100).
        for b in KEYS {
            assert!(b.help.chars().count() <= 40, "{:?} is too long", b.help);
            assert!(b.label.chars().count() <= 6, "{:?} is too long", b.label);
        }
    }

    #[test]
    fn replay_keys_win_over_selection_keys() {
        let none = Overlay::None;
        assert_eq!(
            dispatch(key(Left), Mode::Replay, &none),
            Some(Action::SeekMinutes(-1))
        );
        assert_eq!(dispatch(key(Char(' ')), Mode::Live, &none), None);
        assert_eq!(
            dispatch(key(Char('f')), Mode::Live, &none),
            Some(Action::OpenFilters)
        );
        let panel = Overlay::Filters {
            facet: super::super::state::Facet::Isp,
            row: 0,
        };
        assert_eq!(
            dispatch(key(Char(' ')), Mode::Replay, &panel),
            Some(Action::Toggle)
        );
        assert_eq!(
            dispatch(key(Esc), Mode::Replay, &panel),
            Some(Action::Close)
        );
    }
}
