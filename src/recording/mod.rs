//! Recordings on disk (DESIGN §3): finding minute files, decoding them, and handing
//! their records to the engine minute by minute in `recv` order.

pub mod access_log;
pub mod batch;
pub mod decode;
pub mod digest;
pub mod index;
mod index_build;
pub mod input;
pub mod layout;
pub mod pipeline;
pub mod probe_checkpoints;
pub mod probes;
pub mod scan;
pub mod skipped;
pub mod tail;
