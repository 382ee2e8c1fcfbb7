//! Panels shared by every view: the status bar and the overlays.

pub mod filters;
pub mod help;
pub mod sources;
pub mod status;
