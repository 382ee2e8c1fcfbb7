//! Lines that were skipped, counted by reason, with a few examples that name the file
//! and line; and files that could not be read whole.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use super::decode::FileText;
use crate::engine::record::{Reason, RecordError};

const EXAMPLES_KEPT: usize = 5;

#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Skipped {
    pub by_reason: BTreeMap<Reason, u64>,
    pub examples: Vec<String>,
    pub damaged_files: Vec<(PathBuf, String)>,
}

impl Skipped {
    pub fn record(&mut self, path: &Path, line: usize, err: &RecordError) {
        *self.by_reason.entry(err.reason).or_default() += 1;
        if self.examples.len() < EXAMPLES_KEPT {
            self.examples
                .push(format!("{}:{line}: {err}", path.display()));
        }
    }

    pub fn damaged(&mut self, path: &Path, why: String) {
        self.damaged_files.push((path.to_owned(), why));
    }

    /// What reading a file found wrong with it: damage, and lines too long to read.
    pub fn take_file(&mut self, path: &Path, text: &FileText) {
        if let Some(why) = &text.damage {
            self.damaged(path, why.clone());
        }
        for &n in &text.long_lines {
            self.record(path, n, &RecordError::line_too_long());
        }
    }

    pub fn total(&self) -> u64 {
        self.by_reason.values().sum()
    }

    pub fn merge(&mut self, other: &Skipped) {
        for (r, n) in &other.by_reason {
            *self.by_reason.entry(*r).or_default() += n;
        }
        let room = EXAMPLES_KEPT.saturating_sub(self.examples.len());
        self.examples
            .extend(other.examples.iter().take(room).cloned());
        // A file met by two readers (a replay seek, a window and its baseline) is one
        // damaged file.
        for (path, why) in &other.damaged_files {
            if !self.damaged_files.iter().any(|(p, _)| p == path) {
                self.damaged_files.push((path.clone(), why.clone()));
            }
        }
    }
}

impl fmt::Display for Skipped {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} lines skipped", self.total())?;
        if !self.by_reason.is_empty() {
            let parts: Vec<String> = self
                .by_reason
                .iter()
                .map(|(r, n)| format!("{} {n}", r.name()))
                .collect();
            write!(f, " ({})", parts.join(", "))?;
        }
        if !self.damaged_files.is_empty() {
            write!(
                f,
                "; {} damaged or unreadable files",
                self.damaged_files.len()
            )?;
        }
        Ok(())
    }
}
