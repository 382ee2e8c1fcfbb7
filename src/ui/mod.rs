//! The terminal UI shared by `replay` and `watch`: state, keys, the clock, views and the
//! screen. Views are pure functions of a [`FrameData`](crate::source::frames::FrameData)
//! and a [`state::UiState`]; [`model`] works out what they show without drawing; the
//! app loop owns the terminal and asks a frame source for frames.

pub mod app;
pub mod clock;
pub mod export;
pub mod format;
pub mod frame;
pub mod keys;
pub mod model;
pub mod panels;
pub mod request;
pub mod state;
pub mod theme;
pub mod update;
pub mod views;
