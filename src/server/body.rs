//! Request bodies of `POST /v1/feedback` and `/v1/probes` (DESIGN §4): one JSON object, a
//! JSON array of them, or NDJSON; optionally gzip. Size limits apply after
//! decompression too, so a small gzip body cannot inflate a thousandfold.

use std::borrow::Cow;
use std::io::Read;

use flate2::read::MultiGzDecoder;
use serde_json::value::RawValue;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Bytes on the wire.
    pub max_body: usize,
    /// Bytes after decompression.
    pub max_decoded: usize,
    /// Bytes of one record.
    pub max_record: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_body: 1 << 20,
            max_decoded: 8 << 20,
            max_record: 64 << 10,
        }
    }
}

/// Why a whole body was refused; each maps to one status code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BodyError {
    #[error("body of {size} bytes is over the limit of {limit}")]
    TooLarge { size: usize, limit: usize },
    #[error("body inflates past the limit of {limit} bytes")]
    InflatesTooLarge { limit: usize },
    #[error("body is not valid gzip: {0}")]
    BadGzip(String),
    #[error("body is empty")]
    Empty,
    #[error("body is not a JSON object, array or NDJSON: {0}")]
    Unparseable(String),
    #[error("body could not be read: {0}")]
    Malformed(String),
}

impl BodyError {
    pub fn status(&self) -> u16 {
        match self {
            BodyError::TooLarge { .. } | BodyError::InflatesTooLarge { .. } => 413,
            BodyError::BadGzip(_)
            | BodyError::Empty
            | BodyError::Unparseable(_)
            | BodyError::Malformed(_) => 400,
        }
    }

    /// The `/metrics` label for this refusal.
    pub fn reason(&self) -> &'static str {
        match self {
            BodyError::TooLarge { .. } => "body_too_large",
            BodyError::InflatesTooLarge { .. } => "inflates_too_large",
            BodyError::BadGzip(_) => "bad_gzip",
            BodyError::Empty => "empty_body",
            BodyError::Unparseable(_) => "unparseable_body",
            BodyError::Malformed(_) => "bad_body",
        }
    }
}

/// The body's bytes, inflated when `gzip`, within the limits.
pub fn decode<'a>(body: &'a [u8], gzip: bool, limits: &Limits) -> Result<Cow<'a, [u8]>, BodyError> {
    if body.len() > limits.max_body {
        return Err(BodyError::TooLarge {
            size: body.len(),
            limit: limits.max_body,
        });
    }
    if !gzip {
        return Ok(Cow::Borrowed(body));
    }
    let mut out = Vec::with_capacity(body.len().saturating_mul(4).min(limits.max_decoded));
    let cap = u64::try_from(limits.max_decoded)
        .unwrap_or(u64::MAX)
        .saturating_add(1);
    MultiGzDecoder::new(body)
        .take(cap)
        .read_to_end(&mut out)
        .map_err(|e| BodyError::BadGzip(e.to_string()))?;
    if out.len() > limits.max_decoded {
        return Err(BodyError::InflatesTooLarge {
            limit: limits.max_decoded,
        });
    }
    Ok(Cow::Owned(out))
}

/// The body's one record when the body is a single line holding an object, within the
/// record limit: the shape of nearly every POST from an end host. The record is not
/// checked here; if it turns out not to be one, [`each_record`] decides what the body is.
pub fn single_line<'a>(body: &'a [u8], limits: &Limits) -> Option<&'a [u8]> {
    let text = trim_json_space(body);
    (text.first() == Some(&b'{')
        && text.len() <= limits.max_record
        && memchr::memchr(b'\n', text).is_none())
    .then_some(text)
}

/// JSON's four whitespace bytes (RFC 8259 §2). Not `u8::is_ascii_whitespace`, which
/// also takes a form feed: the shortcut would then stamp `{…}\x0c`, a body that JSON —
/// and so [`each_record`] — refuses.
fn is_json_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r')
}

fn trim_json_space(text: &[u8]) -> &[u8] {
    let start = text
        .iter()
        .position(|&b| !is_json_space(b))
        .unwrap_or(text.len());
    let end = text
        .iter()
        .rposition(|&b| !is_json_space(b))
        .map_or(start, |i| i + 1);
    &text[start..end]
}

/// One record of a body: its text, or why it is unusable (too long).
pub type Item<'a> = Result<&'a [u8], String>;

/// Calls `each` with every record of a decoded body, in order, with its position
/// (0-based): a JSON array's elements, a single object, or the non-blank lines of NDJSON
/// (CRLF and a leading BOM allowed). A bad NDJSON line is one bad record; only a body
/// with no record structure at all is refused whole — possibly after some records were
/// handed out, so the caller stores nothing until this returns `Ok`. Nothing is collected
/// here: the work and memory of a body are bounded by its decoded size, however many
/// records it holds.
pub fn each_record<'a>(
    body: &'a [u8],
    limits: &Limits,
    mut each: impl FnMut(usize, Item<'a>),
) -> Result<(), BodyError> {
    let body = body.strip_prefix(b"\xef\xbb\xbf").unwrap_or(body);
    let first = body
        .iter()
        .position(|&b| !is_json_space(b))
        .ok_or(BodyError::Empty)?;
    let max = limits.max_record;
    let checked = |text: &'a [u8]| -> Item<'a> {
        if text.len() > max {
            Err(format!(
                "record of {} bytes is over the limit of {max}",
                text.len()
            ))
        } else {
            Ok(text)
        }
    };
    if body[first] == b'[' {
        let mut de = serde_json::Deserializer::from_slice(body);
        let mut index = 0;
        serde::Deserializer::deserialize_seq(
            &mut de,
            Elements(&mut |raw: &'a RawValue| {
                each(index, checked(raw.get().as_bytes()));
                index += 1;
            }),
        )
        .and_then(|()| de.end())
        .map_err(|e| BodyError::Unparseable(e.to_string()))?;
        return Ok(());
    }
    // One object, possibly spread over several lines.
    if serde_json::from_slice::<&RawValue>(body).is_ok() {
        each(0, checked(trim_json_space(body)));
        return Ok(());
    }
    let mut lines = body
        .split(|&b| b == b'\n')
        .map(|l| l.strip_suffix(b"\r").unwrap_or(l))
        .filter(|l| !trim_json_space(l).is_empty());
    // One line that is not an object: not NDJSON either.
    if lines.clone().nth(1).is_none() {
        let e = serde_json::from_slice::<&RawValue>(body)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        return Err(BodyError::Unparseable(e));
    }
    for (i, line) in lines.by_ref().enumerate() {
        each(i, checked(line));
    }
    Ok(())
}

/// A JSON array's elements, handed to a callback one at a time as borrowed raw text.
struct Elements<'f, 'a>(&'f mut dyn FnMut(&'a RawValue));

impl<'de: 'a, 'a> serde::de::Visitor<'de> for Elements<'_, 'a> {
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("an array of records")
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while let Some(raw) = seq.next_element::<&'de RawValue>()? {
            (self.0)(raw);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::Compression;
    use flate2::write::GzEncoder;
    use std::io::Write;

    fn gz(data: &[u8]) -> Vec<u8> {
        let mut e = GzEncoder::new(Vec::new(), Compression::best());
        e.write_all(data).expect("gzip");
        e.finish().expect("gzip")
    }

    /// The records of a body as (position, text or refused), or the body's refusal.
    fn split<'a>(body: &'a [u8], limits: &Limits) -> Result<Vec<(usize, Item<'a>)>, BodyError> {
        let mut items = Vec::new();
        each_record(body, limits, |i, item| items.push((i, item)))?;
        Ok(items)
    }

    fn texts(items: &[(usize, Item)]) -> Vec<Result<String, ()>> {
        items
            .iter()
            .map(|(_, r)| {
                r.as_ref()
                    .map(|t| String::from_utf8_lossy(t).into_owned())
                    .map_err(|_| ())
            })
            .collect()
    }

    #[test]
    fn objects_arrays_and_ndjson() {
        let l = Limits::default();
        assert_eq!(
            texts(&split(b" {\"a\":1}\n", &l).expect("object")),
            vec![Ok("{\"a\":1}".into())]
        );
        assert_eq!(
            texts(&split(b"{\n  \"a\": 1\n}", &l).expect("pretty object")).len(),
            1
        );
        let arr = split(b"[{\"a\":1}, {\"b\":[2]}]", &l).expect("array");
        assert_eq!(
            texts(&arr),
            vec![Ok("{\"a\":1}".into()), Ok("{\"b\":[2]}".into())]
        );
        let nd = split(b"\xef\xbb\xbf{\"a\":1}\r\n\r\n{bad\n{\"c\":3}", &l).expect("ndjson");
        assert_eq!(
            texts(&nd),
            vec![
                Ok("{\"a\":1}".into()),
                Ok("{bad".into()),
                Ok("{\"c\":3}".into())
            ]
        );
        assert_eq!(nd[2].0, 2);
    }

    #[test]
    fn the_one_line_shortcut_takes_only_one_line_objects_within_the_limit() {
        let l = Limits {
            max_record: 20,
            ..Limits::default()
        };
        assert_eq!(single_line(b" {\"a\":1}\r\n", &l), Some(&b"{\"a\":1}"[..]));
        for body in [
            &b"{\"a\":1}\n{\"b\":2}"[..],
            b"{\n\"a\":1}",
            b"[{\"a\":1}]",
            b"\xef\xbb\xbf{\"a\":1}",
            b"{\"a\":\"xxxxxxxxxxxxxxxxxxxx\"}",
            b"",
        ] {
            assert_eq!(single_line(body, &l), None, "{body:?}");
        }
    }

    /// Found by the `body` fuzz target: a form feed is ASCII whitespace but not JSON's,
    /// so the shortcut must not trim it off (leaving a valid record to stamp) a body
    /// that the general path refuses.
    #[test]
    fn a_form_feed_is_not_whitespace_to_either_path() {
        let l = Limits::default();
        for body in [&b"{\"a\":1}\x0c"[..], b"\x0c{\"a\":1}"] {
            let shortcut = single_line(body, &l);
            assert!(shortcut.is_none_or(|t| t.contains(&0x0c)), "{body:?}");
            assert!(split(body, &l).is_err(), "{body:?}");
        }
        let items = split(b"{\"a\":1}\n\x0c\n", &l).expect("two lines");
        assert_eq!(texts(&items), [Ok("{\"a\":1}".into()), Ok("\x0c".into())]);
    }

    #[test]
    fn refusals_have_their_status() {
        let l = Limits::default();
        for (body, status) in [
            (&b""[..], 400),
            (b"   \n ", 400),
            (b"{\"a\":", 400),
            (b"[{\"a\":1},", 400),
            (b"[{\"a\":1}] x", 400),
            (b"[{\"a\":1}] [2]", 400),
            (b"nonsense", 400),
        ] {
            let err = split(body, &l).expect_err("refused");
            assert_eq!(err.status(), status, "{body:?}: {err}");
        }
    }

    #[test]
    fn limits_apply_before_and_after_inflating() {
        let l = Limits {
            max_body: 1000,
            max_decoded: 10_000,
            max_record: 100,
        };
        assert_eq!(
            decode(&[b' '; 1001], false, &l).map_err(|e| e.status()),
            Err(413)
        );
        assert!(decode(&[b' '; 1000], false, &l).is_ok());
        // A bomb: 1 MB of zeros gzips to about 1 KB, a thousandfold.
        let bomb = gz(&vec![0u8; 1 << 20]);
        assert!(bomb.len() <= 1100, "{}", bomb.len());
        let err = decode(
            &bomb,
            true,
            &Limits {
                max_body: 2000,
                ..l
            },
        )
        .expect_err("bomb");
        assert_eq!((err.status(), err.reason()), (413, "inflates_too_large"));
        assert_eq!(
            decode(&gz(&[b'x'; 10_000]), true, &l).map(|v| v.len()),
            Ok(10_000)
        );
        assert_eq!(
            decode(b"not gzip", true, &l).map_err(|e| e.status()),
            Err(400)
        );
        let long = format!("[{{\"a\":\"{}\"}}]", "x".repeat(200));
        assert!(split(long.as_bytes(), &l).expect("array")[0].1.is_err());
    }

    #[test]
    fn deep_nesting_is_refused_not_a_crash() {
        let deep = "[".repeat(100_000);
        assert_eq!(
            split(deep.as_bytes(), &Limits::default()).map_err(|e| e.status()),
            Err(400)
        );
    }
}
