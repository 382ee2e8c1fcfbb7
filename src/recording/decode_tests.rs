use super::*;
use flate2::Compression;
use flate2::write::GzEncoder;
use std::io::Write;
use std::path::Path;

fn gz(data: &[u8]) -> Vec<u8> {
    let mut e = GzEncoder::new(Vec::new(), Compression::fast());
    e.write_all(data).expect("write");
    e.finish().expect("finish")
}

fn read(path: &Path, gzip: bool) -> FileText {
    read_minute_file(&MinuteFile {
        path: path.to_owned(),
        gzip,
        stream: crate::recording::layout::Stream::Feedback,
    })
}

fn numbered_lines(n: usize) -> Vec<String> {
    (0..n)
        .map(|i| format!("{{\"line\":{i},\"pad\":\"abcdefghij\"}}\n"))
        .collect()
}

#[test]
fn lines_drop_bom_crlf_and_blanks() {
    let got: Vec<(usize, &[u8])> = lines(b"\xef\xbb\xbfa\r\n\n  \nb").collect();
    assert_eq!(got, vec![(1, &b"a"[..]), (4, &b"b"[..])]);
}

#[test]
fn truncated_gzip_keeps_whole_lines_before_the_damage() {
    let dir = tempfile::tempdir().expect("tempdir");
    let body: String = numbered_lines(2000).concat();
    let packed = gz(body.as_bytes());
    let path = dir.path().join("x.jsonl.gz");
    std::fs::write(&path, &packed[..packed.len() / 2]).expect("write");
    let text = read(&path, true);
    assert!(text.damage.is_some());
    assert!(!text.bytes.is_empty());
    assert!(text.bytes.ends_with(b"\n"));
    assert!(body.as_bytes().starts_with(&text.bytes));
}

/// A gzip member whose lines are each flushed (decodable as soon as their bytes are
/// read), and the compressed length after each line.
fn flushed(lines: &[String]) -> (Vec<u8>, Vec<usize>) {
    let mut e = GzEncoder::new(Vec::new(), Compression::default());
    let mut ends = Vec::new();
    for l in lines {
        e.write_all(l.as_bytes()).expect("write");
        e.flush().expect("sync flush");
        ends.push(e.get_ref().len());
    }
    (e.finish().expect("finish"), ends)
}

#[test]
fn a_flushed_prefix_before_an_invalid_block_is_kept_in_a_small_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let lines = numbered_lines(3);
    let (packed, ends) = flushed(&lines);
    // After a sync flush the stream is byte-aligned: a block header of type 3 (reserved)
    // is invalid. The three records must survive it.
    let mut damaged = packed[..ends[2]].to_vec();
    damaged.extend_from_slice(&[0x07, 0x00, 0x00, 0x00]);
    let path = dir.path().join("x.jsonl.gz");
    std::fs::write(&path, &damaged).expect("write");
    let text = read(&path, true);
    assert_eq!(text.bytes, lines.concat().as_bytes());
    assert!(
        text.damage
            .as_deref()
            .is_some_and(|d| d.contains("damaged")),
        "{:?}",
        text.damage
    );
}

#[test]
fn truncation_at_every_offset_keeps_every_line_decodable_before_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let lines = numbered_lines(6);
    let (packed, ends) = flushed(&lines);
    let path = dir.path().join("x.jsonl.gz");
    let whole = lines.concat();
    for cut in 0..packed.len() {
        std::fs::write(&path, &packed[..cut]).expect("write");
        let text = read(&path, true);
        assert!(text.damage.is_some(), "cut at {cut} not reported");
        let must = ends.iter().filter(|&&e| e <= cut).count();
        let kept = memchr::memchr_iter(b'\n', &text.bytes).count();
        assert!(
            kept >= must,
            "cut at {cut}: kept {kept} lines, {must} were decodable"
        );
        assert!(whole.as_bytes().starts_with(&text.bytes), "cut at {cut}");
        assert!(text.bytes.is_empty() || text.bytes.ends_with(b"\n"));
    }
    std::fs::write(&path, &packed).expect("write");
    let text = read(&path, true);
    assert_eq!((text.bytes, text.damage), (whole.into_bytes(), None));
}

#[test]
fn damage_at_every_byte_is_reported_or_harmless_and_keeps_whole_lines() {
    let dir = tempfile::tempdir().expect("tempdir");
    let whole = numbered_lines(5).concat();
    let packed = gz(whole.as_bytes());
    let path = dir.path().join("x.jsonl.gz");
    for at in 0..packed.len() {
        let mut bad = packed.clone();
        bad[at] ^= 0xa5;
        std::fs::write(&path, &bad).expect("write");
        let text = read(&path, true);
        if text.damage.is_none() {
            // Only bytes no decoder checks (the header's time, flags of the OS) may change
            // without a report, and then nothing else did.
            assert_eq!(
                text.bytes,
                whole.as_bytes(),
                "byte {at} changed the content"
            );
        }
        assert!(
            text.bytes.is_empty() || text.bytes.ends_with(b"\n"),
            "byte {at}"
        );
    }
}

#[test]
fn concatenated_members_are_all_read() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut packed = gz(b"a\n");
    packed.extend(gz(b"b\n"));
    let path = dir.path().join("x.jsonl.gz");
    std::fs::write(&path, &packed).expect("write");
    let text = read(&path, true);
    assert_eq!(text.bytes, b"a\nb\n");
    assert_eq!(text.damage, None);
    // Garbage after the last member is damage, and what came before it stays.
    packed.extend_from_slice(b"garbage");
    std::fs::write(&path, &packed).expect("write");
    let text = read(&path, true);
    assert_eq!(text.bytes, b"a\nb\n");
    assert!(text.damage.is_some());
}

#[test]
fn missing_file_is_reported_not_fatal() {
    let text = read(Path::new("/nonexistent/x.jsonl"), false);
    assert!(text.damage.is_some_and(|d| d.contains("cannot read")));
}

/// `replay` of a live server's directory lists `X.jsonl`; the minute is compressed before
/// it is read (seen as half of a two-server replay's peers missing, once, in CI).
#[test]
fn a_plain_minute_compressed_since_it_was_listed_is_read_from_its_gz() {
    let dir = tempfile::tempdir().expect("tempdir");
    let plain = dir.path().join("20120807-0100.jsonl");
    std::fs::write(compressed_path(&plain), gz(b"{\"a\":1}\n{\"b\":2}\n")).expect("write");
    let text = read(&plain, false);
    assert_eq!(text.damage, None);
    assert_eq!(text.bytes, b"{\"a\":1}\n{\"b\":2}\n");
    // Neither there: reported against the name listed.
    let text = read(&dir.path().join("20120807-0101.jsonl"), false);
    assert!(text.damage.is_some_and(|d| d.contains("cannot read")));
}

#[test]
fn lines_over_the_limit_are_skipped_unheld_and_numbered() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("x.jsonl");
    let mut body = Vec::new();
    body.extend_from_slice(b"{\"a\":1}\n");
    body.extend(std::iter::repeat_n(b'x', 3 * MAX_LINE));
    body.extend_from_slice(b"\n{\"a\":3}\n");
    // Just over the limit, ending inside a later chunk.
    body.extend(std::iter::repeat_n(b'y', MAX_LINE + 10));
    body.extend_from_slice(b"\n{\"a\":5}\n");
    // Exactly at the limit: kept.
    body.extend(std::iter::repeat_n(b'z', MAX_LINE));
    body.extend_from_slice(b"\n");
    // A long last line without its newline.
    body.extend(std::iter::repeat_n(b'w', MAX_LINE + 1));
    for gzip in [false, true] {
        let p = if gzip {
            std::fs::write(dir.path().join("x.jsonl.gz"), gz(&body)).expect("write");
            dir.path().join("x.jsonl.gz")
        } else {
            std::fs::write(&path, &body).expect("write");
            path.clone()
        };
        let text = read(&p, gzip);
        assert_eq!(text.long_lines, [2, 4, 7], "gzip {gzip}");
        let kept: Vec<(usize, usize)> = lines(&text.bytes).map(|(n, l)| (n, l.len())).collect();
        assert_eq!(kept, [(1, 7), (3, 7), (5, 7), (6, MAX_LINE)], "gzip {gzip}");
    }
}

#[test]
fn a_fifo_or_a_link_is_reported_without_blocking() {
    let dir = tempfile::tempdir().expect("tempdir");
    let fifo = dir.path().join("20120807-0130.jsonl");
    crate::recording::layout::mkfifo(&fifo);
    let text = read(&fifo, false);
    assert!(
        text.damage.as_deref().is_some_and(|d| d.contains("FIFO")),
        "{:?}",
        text.damage
    );
    let link = dir.path().join("20120807-0131.jsonl");
    std::os::unix::fs::symlink("/dev/zero", &link).expect("link");
    let text = read(&link, false);
    assert!(
        text.damage
            .as_deref()
            .is_some_and(|d| d.contains("symbolic link")),
        "{:?}",
        text.damage
    );
}

proptest::proptest! {
    /// The line splitter numbers and cuts lines as a plain split on `\n` does.
    #[test]
    fn lines_are_split_on_every_newline(text in proptest::collection::vec(
        proptest::sample::select(b"ab \r\n\t{}".to_vec()), 0..64,
    )) {
        let plain: Vec<(usize, &[u8])> = text
            .split(|&b| b == b'\n')
            .enumerate()
            .map(|(i, line)| (i + 1, line.strip_suffix(b"\r").unwrap_or(line)))
            .filter(|(_, line)| !line.iter().all(u8::is_ascii_whitespace))
            .collect();
        proptest::prop_assert_eq!(lines(&text).collect::<Vec<_>>(), plain);
    }
}

#[test]
fn one_member_is_inflated_whole_and_anything_else_is_left_to_the_stream() {
    let whole = numbered_lines(50).concat();
    let packed = gz(whole.as_bytes());
    assert_eq!(inflate_whole(&packed).as_deref(), Some(whole.as_bytes()));
    // Two members with the same text: the first alone would pass every check of its own.
    let mut twice = gz(b"a\n");
    twice.extend(gz(b"a\n"));
    assert_eq!(inflate_whole(&twice), None);
    let mut trailing = packed.clone();
    trailing.extend_from_slice(b"garbage");
    assert_eq!(inflate_whole(&trailing), None);
    let mut flipped = packed.clone();
    let middle = flipped.len() / 2;
    flipped[middle] ^= 0x10;
    assert_eq!(inflate_whole(&flipped), None);
    let mut wrong_size = packed.clone();
    let at = wrong_size.len() - 4;
    wrong_size[at] ^= 1;
    assert_eq!(inflate_whole(&wrong_size), None);
    assert_eq!(inflate_whole(&packed[..packed.len() - 1]), None);
    assert_eq!(inflate_whole(b""), None);
}

#[test]
fn a_recycled_text_leaves_nothing_in_the_next() {
    // Longer, shorter, then longer again than the buffer last held: each text whole and
    // alone, whatever the memory it took held before.
    for n in [400, 7, 0, 90, 1000] {
        let whole = numbered_lines(n).concat();
        let text = inflate_whole(&gz(whole.as_bytes())).expect("one sound member");
        assert_eq!(text, whole.as_bytes(), "{n} lines");
        recycle(FileText {
            bytes: text,
            ..FileText::default()
        });
    }
    // A text streamed from a file too large to inflate whole is not kept.
    recycle(FileText {
        bytes: Vec::with_capacity(WHOLE_LIMIT + 1),
        ..FileText::default()
    });
    let text = inflate_whole(&gz(b"a\n")).expect("one sound member");
    assert!(text.capacity() <= WHOLE_LIMIT, "{}", text.capacity());
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(24))]

    /// A text inflated whole loses its long lines exactly as the streaming reader drops
    /// them: the same bytes kept, the same lines numbered.
    #[test]
    fn long_lines_are_left_out_as_the_stream_leaves_them(
        lengths in proptest::collection::vec(proptest::prop_oneof![
            4 => 0..40usize,
            1 => proptest::sample::select(vec![
                MAX_LINE - 1, MAX_LINE, MAX_LINE + 1, 2 * MAX_LINE + 3,
            ]),
        ], 0..8),
        last_newline in proptest::bool::ANY,
    ) {
        let mut text = Vec::new();
        for (i, &n) in lengths.iter().enumerate() {
            text.extend(std::iter::repeat_n(b'a' + (i % 26) as u8, n));
            if last_newline || i + 1 < lengths.len() {
                text.push(b'\n');
            }
        }
        let streamed = read_capped(&mut &text[..], 0);
        let whole = without_long_lines(text);
        proptest::prop_assert_eq!(whole.long_lines, streamed.long_lines);
        proptest::prop_assert!(whole.bytes == streamed.bytes, "kept bytes differ");
        proptest::prop_assert_eq!(whole.damage, None);
    }
}
