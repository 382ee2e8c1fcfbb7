//! Where records come from: a recording replayed by a clock, or live sources. Sources
//! feed the engine; they know nothing of the terminal.

pub mod replay;
