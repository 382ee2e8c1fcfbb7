//! One module per view; each draws a [`FrameData`](crate::source::frames::FrameData) under the
//! UI state and nothing else.

pub mod choropleth;
pub mod district;
pub mod explain;
pub mod histogram;
pub mod map;
pub mod overview;
pub mod probe_detail;
pub mod probes;
pub mod timeline;
