//! What every subcommand shares at its edge: the usage error that exits with status 2
//! (a bad flag value, nothing to work on), as opposed to a failure while working (1).

/// A usage error: bad flag value or nothing to work on (exit status 2).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);
