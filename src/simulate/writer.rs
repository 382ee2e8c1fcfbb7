//! Writing minute files as feedback servers leave them: closed minutes gzipped, each
//! written under a temporary name and renamed, so a reader never sees half a file.

use std::io::Write;
use std::path::PathBuf;
use std::sync::mpsc;

use anyhow::Context;
use flate2::Compression;
use flate2::write::GzEncoder;

use super::emit::MinuteOut;
use crate::recording::layout::{self, Stream};

#[derive(Debug, Clone)]
pub struct Layout {
    pub root: PathBuf,
    pub gzip: Option<u32>,
    pub server_names: Vec<String>,
}

impl Layout {
    /// `<root>/<srv>/<stream>/<YYYYMMDD>/<YYYYMMDD-HHMM>.jsonl[.gz]`: one server's log
    /// tree in the layout `serve` writes.
    pub fn path(&self, stream: Stream, server: usize, minute_ms: i64) -> PathBuf {
        let mut p = layout::minute_path(
            &self.root.join(&self.server_names[server]),
            stream,
            minute_ms,
        );
        if self.gzip.is_some() {
            p.as_mut_os_string().push(".gz");
        }
        p
    }
}

fn write_one(layout: &Layout, out: &MinuteOut) -> anyhow::Result<()> {
    let path = layout.path(out.stream, out.server, out.minute_ms);
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    let bytes = match layout.gzip {
        Some(level) => {
            let mut enc = GzEncoder::new(
                Vec::with_capacity(out.text.len() / 6),
                Compression::new(level),
            );
            enc.write_all(&out.text)?;
            enc.finish()?
        }
        None => out.text.clone(),
    };
    let tmp = layout::tmp_path(&path);
    std::fs::write(&tmp, bytes).with_context(|| format!("cannot write {}", tmp.display()))?;
    std::fs::rename(&tmp, &path).with_context(|| format!("cannot rename to {}", path.display()))?;
    Ok(())
}

/// Runs `produce` on this thread while `writers` threads compress and write what it
/// sends. Returns the first write error, if any.
pub fn with_writers<T>(
    layout: &Layout,
    writers: usize,
    produce: impl FnOnce(&mut dyn FnMut(MinuteOut)) -> T,
) -> anyhow::Result<T> {
    let (tx, rx) = mpsc::sync_channel::<MinuteOut>(writers * 4);
    let rx = std::sync::Mutex::new(rx);
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..writers.max(1))
            .map(|_| {
                let rx = &rx;
                scope.spawn(move || -> anyhow::Result<()> {
                    loop {
                        let next = rx
                            .lock()
                            .map_err(|_| anyhow::anyhow!("writer lock poisoned"))?
                            .recv();
                        let Ok(out) = next else { return Ok(()) };
                        write_one(layout, &out)?;
                    }
                })
            })
            .collect();
        let result = {
            let tx = tx;
            let mut send = |out: MinuteOut| {
                // A failed writer shows up as its error below.
                let _ = tx.send(out);
            };
            produce(&mut send)
        };
        for h in handles {
            h.join()
                .map_err(|_| anyhow::anyhow!("a writer thread panicked"))??;
        }
        Ok(result)
    })
}
