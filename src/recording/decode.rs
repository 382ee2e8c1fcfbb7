//! Reading one minute file into memory: plain or gzip (several members allowed).
//!
//! A damaged gzip (truncated, corrupt) keeps everything decoded before the damage,
//! less the partial line it ends in, and says what went wrong.

use std::fs::File;
use std::io::{BufReader, Read};
use std::path::Path;

use flate2::read::MultiGzDecoder;

use super::scan::MinuteFile;

/// The bytes of a file and, if reading stopped early, why.
#[derive(Debug, Default)]
pub struct FileText {
    pub bytes: Vec<u8>,
    pub damage: Option<String>,
}

pub fn read_minute_file(file: &MinuteFile) -> FileText {
    match read_inner(&file.path, file.gzip) {
        Ok(text) => text,
        Err(e) => FileText {
            bytes: Vec::new(),
            damage: Some(format!("cannot read: {e}")),
        },
    }
}

fn read_inner(path: &Path, gzip: bool) -> std::io::Result<FileText> {
    let f = File::open(path)?;
    let size = f.metadata().map_or(0, |m| m.len());
    if !gzip {
        let mut bytes = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
        BufReader::new(f).read_to_end(&mut bytes)?;
        return Ok(FileText {
            bytes,
            damage: None,
        });
    }
    // JSON lines compress about 8:1; start near the right size to avoid regrowth.
    let guess = usize::try_from(size.saturating_mul(8))
        .unwrap_or(0)
        .min(1 << 30);
    let mut bytes = Vec::with_capacity(guess);
    let mut decoder = MultiGzDecoder::new(BufReader::with_capacity(1 << 16, f));
    let damage = match decoder.read_to_end(&mut bytes) {
        Ok(_) => None,
        Err(e) => {
            // Keep whole lines only: the last one was cut by the damage.
            let keep = bytes.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
            bytes.truncate(keep);
            Some(format!(
                "damaged gzip ({e}); kept the {keep} complete bytes before it"
            ))
        }
    };
    Ok(FileText { bytes, damage })
}

/// Lines of a JSON-lines text: `\n` separated, a trailing `\r` and a leading BOM dropped,
/// blank lines left out. Yields (1-based line number, line).
pub fn lines(bytes: &[u8]) -> impl Iterator<Item = (usize, &[u8])> {
    let bytes = bytes.strip_prefix(b"\xef\xbb\xbf").unwrap_or(bytes);
    bytes
        .split(|&b| b == b'\n')
        .enumerate()
        .filter_map(|(i, line)| {
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            if line.iter().all(u8::is_ascii_whitespace) {
                None
            } else {
                Some((i + 1, line))
            }
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::Compression;
    use flate2::write::GzEncoder;
    use std::io::Write;

    fn gz(data: &[u8]) -> Vec<u8> {
        let mut e = GzEncoder::new(Vec::new(), Compression::fast());
        e.write_all(data).expect("write");
        e.finish().expect("finish")
    }

    #[test]
    fn lines_drop_bom_crlf_and_blanks() {
        let got: Vec<(usize, &[u8])> = lines(b"\xef\xbb\xbfa\r\n\n  \nb").collect();
        assert_eq!(got, vec![(1, &b"a"[..]), (4, &b"b"[..])]);
    }

    #[test]
    fn truncated_gzip_keeps_whole_lines_before_the_damage() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut body = Vec::new();
        for i in 0..2000 {
            body.extend_from_slice(format!("{{\"line\":{i}}}\n").as_bytes());
        }
        let packed = gz(&body);
        let path = dir.path().join("x.jsonl.gz");
        std::fs::write(&path, &packed[..packed.len() / 2]).expect("write");
        let text = read_minute_file(&MinuteFile { path, gzip: true });
        assert!(text.damage.is_some());
        assert!(!text.bytes.is_empty());
        assert!(text.bytes.ends_with(b"\n"));
        assert!(body.starts_with(&text.bytes));
    }

    #[test]
    fn concatenated_members_are_all_read() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut packed = gz(b"a\n");
        packed.extend(gz(b"b\n"));
        let path = dir.path().join("x.jsonl.gz");
        std::fs::write(&path, packed).expect("write");
        let text = read_minute_file(&MinuteFile { path, gzip: true });
        assert_eq!(text.bytes, b"a\nb\n");
        assert_eq!(text.damage, None);
    }

    #[test]
    fn missing_file_is_reported_not_fatal() {
        let text = read_minute_file(&MinuteFile {
            path: "/nonexistent/x.jsonl".into(),
            gzip: false,
        });
        assert!(text.damage.is_some_and(|d| d.contains("cannot read")));
    }
}
