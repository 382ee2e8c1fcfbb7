//! One module per view; each draws a [`FrameData`](super::data::FrameData) under the
//! UI state and nothing else.

pub mod histogram;
pub mod overview;
pub mod timeline;
