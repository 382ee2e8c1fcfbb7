//! The feedback server (`peerscope serve`, in progress): its on-disk log files so far.

pub mod logfile;
