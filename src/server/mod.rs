//! The feedback server (`peerscope serve`, in progress): its on-disk log files so far.

pub mod body;
pub mod logfile;
pub mod stamp;
pub mod writer;
