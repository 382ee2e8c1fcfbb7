//! The TUI commands: `replay` (a recording under a replay clock) and `watch` (live
//! sources). Each parses its flags, opens its frame source and hands it to the TUI's loop
//! or draws one `--snapshot` frame; the frame sources themselves live in
//! [`crate::source`], the drawing in [`crate::ui`].

pub mod replay;
pub mod view;
pub mod watch;
