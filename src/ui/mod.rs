//! The terminal UI shared by `replay` and `watch`: state, keys, views and the frame.
//! Views are pure functions of a [`data::FrameData`] and a [`state::UiState`]; the
//! app loop owns the terminal.

pub mod app;
pub mod data;
pub mod export;
pub mod format;
pub mod frame;
pub mod keys;
pub mod panels;
pub mod replay;
pub mod request;
pub mod state;
pub mod theme;
pub mod update;
pub mod views;
pub mod watch;
