//! What `report` and `replay` read: a recording directory, or CDN nodes' access logs
//! (read into a recording first, see [`access_log`](super::access_log)).

use std::path::{Path, PathBuf};

use super::access_log::{self, AccessLogs};
use crate::cli::UsageError;

#[derive(Debug)]
pub enum Input {
    Recording(PathBuf),
    AccessLogs(AccessLogs),
}

impl Input {
    /// One directory is a recording; one or more files are access logs.
    pub fn open(paths: &[PathBuf], progress: bool) -> anyhow::Result<Input> {
        for p in paths {
            if !p.exists() {
                return Err(
                    UsageError(format!("{}: no such directory or file", p.display())).into(),
                );
            }
        }
        match paths {
            [one] if one.is_dir() => Ok(Input::Recording(one.clone())),
            _ => {
                if let Some(dir) = paths.iter().find(|p| p.is_dir()) {
                    return Err(UsageError(format!(
                        "{} is a directory: give one recording directory, or access log files",
                        dir.display()
                    ))
                    .into());
                }
                let cache = access_log::user_cache();
                Ok(Input::AccessLogs(AccessLogs::open(
                    paths,
                    cache.as_deref(),
                    progress,
                )?))
            }
        }
    }

    /// The recording's directory.
    pub fn dir(&self) -> &Path {
        match self {
            Input::Recording(dir) => dir,
            Input::AccessLogs(logs) => logs.root(),
        }
    }

    /// Why there is nothing to show (the usage error of `report` and `replay` when the
    /// input holds no viewer's report).
    pub fn no_viewers(&self) -> String {
        match self {
            Input::Recording(dir) => super::scan::no_recording_in(dir),
            Input::AccessLogs(_) => "no request in the access logs carried a CMCD report with a \
                                     session id (`sid`): there is no viewer to replay or report \
                                     (`report --by node` has the nodes' figures)"
                .into(),
        }
    }

    pub fn access_logs(&self) -> Option<&AccessLogs> {
        match self {
            Input::Recording(_) => None,
            Input::AccessLogs(logs) => Some(logs),
        }
    }
}
