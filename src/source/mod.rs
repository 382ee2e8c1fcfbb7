//! Where records come from: a recording replayed by a clock, a local log directory or
//! feedback servers followed live. Sources feed the engine; they know nothing of the
//! terminal.

pub mod causes;
pub mod cube;
pub mod follow;
pub mod frames;
pub mod health;
pub mod live;
pub mod live_frames;
pub mod probe_replay;
pub mod replay;
pub mod replay_frames;
