//! Walking one flat JSON object whose strings have no escapes: the common case, read
//! without serde. It gives up — the caller then leaves the line to the general reader —
//! on anything else: escapes, nesting, numbers serde would read differently, syntax
//! errors. So it never decides a line is invalid; it only makes valid lines cheap. The
//! readers' differential test keeps its values equal to serde's.

use std::borrow::Cow;

use super::scalar::Scalar;

/// Calls `field` for each key and scalar value of a flat object; `None` from `field`, or
/// anything the fast path does not handle, stops the walk with `None`. The line is
/// UTF-8-checked once by the caller, so strings are slices of it.
pub(crate) fn walk_flat<'a>(
    text: &'a str,
    mut field: impl FnMut(&'a str, Scalar<'a>) -> Option<()>,
) -> Option<()> {
    let line = text.as_bytes();
    let mut i = skip_ws(line, 0);
    if *line.get(i)? != b'{' {
        return None;
    }
    i = skip_ws(line, i + 1);
    if *line.get(i)? == b'}' {
        return end(line, i + 1);
    }
    loop {
        if *line.get(i)? != b'"' {
            return None;
        }
        let (key, next) = simple_string(text, i + 1)?;
        i = skip_ws(line, next);
        if *line.get(i)? != b':' {
            return None;
        }
        i = skip_ws(line, i + 1);
        let (value, next) = scalar(text, i)?;
        field(key, value)?;
        i = skip_ws(line, next);
        match *line.get(i)? {
            b',' => i = skip_ws(line, i + 1),
            b'}' => return end(line, i + 1),
            _ => return None,
        }
    }
}

fn end(line: &[u8], i: usize) -> Option<()> {
    (skip_ws(line, i) == line.len()).then_some(())
}

pub(crate) fn skip_ws(line: &[u8], mut i: usize) -> usize {
    while let Some(b' ' | b'\t' | b'\n' | b'\r') = line.get(i) {
        i += 1;
    }
    i
}

/// A string without escapes or control characters, starting after its opening quote.
pub(crate) fn simple_string(text: &str, start: usize) -> Option<(&str, usize)> {
    let rest = text.as_bytes().get(start..)?;
    let len = string_end(rest)?;
    if rest[len] != b'"' {
        return None;
    }
    Some((text.get(start..start + len)?, start + len + 1))
}

/// The position of the first `"`, `\` or control byte. Strings here are short, too
/// short to set up a vector search: eight bytes are tested at once in a word instead.
fn string_end(bytes: &[u8]) -> Option<usize> {
    const ONES: u64 = u64::from_le_bytes([0x01; 8]);
    const HIGHS: u64 = u64::from_le_bytes([0x80; 8]);
    // The high bit of each byte of `w` below `n` (n <= 128); bits above the first one
    // set may be wrong, the first is exact.
    let below = |w: u64, n: u8| w.wrapping_sub(ONES * u64::from(n)) & !w & HIGHS;
    let mut chunks = bytes.chunks_exact(8);
    let mut at = 0;
    for chunk in &mut chunks {
        let w = u64::from_le_bytes(chunk.try_into().expect("chunks of eight"));
        let found = below(w ^ (ONES * u64::from(b'"')), 1)
            | below(w ^ (ONES * u64::from(b'\\')), 1)
            | below(w, 0x20);
        if found != 0 {
            return Some(at + found.trailing_zeros() as usize / 8);
        }
        at += 8;
    }
    let tail = chunks.remainder();
    tail.iter()
        .position(|&b| b == b'"' || b == b'\\' || b < 0x20)
        .map(|i| at + i)
}

fn scalar(text: &str, i: usize) -> Option<(Scalar<'_>, usize)> {
    let line = text.as_bytes();
    match *line.get(i)? {
        b'"' => {
            let (s, next) = simple_string(text, i + 1)?;
            Some((Scalar::Str(Cow::Borrowed(s)), next))
        }
        b'-' | b'0'..=b'9' => number(line, i),
        b't' => literal(line, i, b"true", Scalar::Bool(true)),
        b'f' => literal(line, i, b"false", Scalar::Bool(false)),
        b'n' => literal(line, i, b"null", Scalar::Null),
        _ => None,
    }
}

fn literal<'a>(
    line: &[u8],
    i: usize,
    word: &[u8],
    value: Scalar<'a>,
) -> Option<(Scalar<'a>, usize)> {
    line.get(i..i + word.len())
        .filter(|w| *w == word)
        .map(|_| (value, i + word.len()))
}

/// A JSON number read exactly as `serde_json` reads it, or `None` where it would differ
/// (negative zero, integers beyond 64 bits, out-of-range floats).
pub(crate) fn number(line: &[u8], start: usize) -> Option<(Scalar<'static>, usize)> {
    let (plain, end) = scan(line, start)?;
    if let Some(v) = plain.and_then(Plain::scalar) {
        return Some((v, end));
    }
    let text = std::str::from_utf8(&line[start..end]).ok()?;
    let integer = !text.contains(['.', 'e', 'E']);
    Some((general_number(text, text.starts_with('-'), integer)?, end))
}

/// A number without exponent whose digits fit 64 bits: nearly every number in a record.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Plain {
    negative: bool,
    /// Every digit, fraction included, as one integer.
    digits: u64,
    fraction_digits: Option<usize>,
}

/// A [`Plain`] number and where it ends; `None` for any other (an exponent, too many
/// digits, bad syntax).
pub(crate) fn plain_number(line: &[u8], start: usize) -> Option<(Plain, usize)> {
    let (plain, end) = scan(line, start)?;
    Some((plain?, end))
}

/// Checks a number's syntax in one pass, building its digits' value on the way: where
/// it ends, and its [`Plain`] form if it has one.
fn scan(line: &[u8], start: usize) -> Option<(Option<Plain>, usize)> {
    let mut i = start;
    let negative = *line.get(i)? == b'-';
    if negative {
        i += 1;
    }
    let int_start = i;
    let mut mantissa = 0u64;
    let int_digits = digits(line, &mut i, &mut mantissa);
    if int_digits == 0 || (int_digits > 1 && line[int_start] == b'0') {
        return None;
    }
    let mut fraction_digits = None;
    if line.get(i) == Some(&b'.') {
        i += 1;
        let n = digits(line, &mut i, &mut mantissa);
        if n == 0 {
            return None;
        }
        fraction_digits = Some(n);
    }
    let mut exponent = false;
    if let Some(b'e' | b'E') = line.get(i) {
        exponent = true;
        i += 1;
        if let Some(b'+' | b'-') = line.get(i) {
            i += 1;
        }
        let exp_start = i;
        while line.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        if i == exp_start {
            return None;
        }
    }
    let plain =
        (!exponent && int_digits + fraction_digits.unwrap_or(0) <= EXACT_DIGITS).then_some(Plain {
            negative,
            digits: mantissa,
            fraction_digits,
        });
    Some((plain, i))
}

impl Plain {
    /// The value `serde_json` gives, where it is exact here.
    fn scalar(self) -> Option<Scalar<'static>> {
        match self.fraction_digits {
            None => self.integer().map(Scalar::Int),
            Some(k) => self.decimal(k).map(Scalar::Float),
        }
    }

    /// An integer that fits an `i64` (`-0` is not one: serde keeps it apart).
    pub(crate) fn integer(self) -> Option<i64> {
        if self.fraction_digits.is_some() {
            return None;
        }
        let n = i64::try_from(self.digits).ok()?;
        match (self.negative, n) {
            (true, 0) => None,
            (true, n) => Some(-n),
            (false, n) => Some(n),
        }
    }

    /// A non-negative integer of any 64-bit size.
    pub(crate) fn unsigned(self) -> Option<u64> {
        (!self.negative && self.fraction_digits.is_none()).then_some(self.digits)
    }

    /// The value as a float, as serde's integer or float would be read into one.
    #[allow(clippy::cast_precision_loss)]
    pub(crate) fn value(self) -> Option<f64> {
        match self.fraction_digits {
            None if !self.negative => Some(self.digits as f64),
            None => self.integer().map(|n| n as f64),
            Some(k) => self.decimal(k),
        }
    }

    /// A decimal read without `str::parse`: a mantissa below 2^53 and at most 22
    /// fraction digits make `m / 10^k` a single correctly rounded division, the same
    /// value `str::parse` (and `serde_json` with `float_roundtrip`) give.
    fn decimal(self, fraction_digits: usize) -> Option<f64> {
        if self.digits >= 1 << 53 || fraction_digits >= POW10.len() {
            return None;
        }
        #[allow(clippy::cast_precision_loss)]
        let x = self.digits as f64 / POW10[fraction_digits];
        Some(if self.negative { -x } else { x })
    }
}

/// Steps over a run of digits, appending them to `mantissa` (wrapping: the caller
/// counts digits, and more than [`EXACT_DIGITS`] may have wrapped); returns how many.
fn digits(line: &[u8], i: &mut usize, mantissa: &mut u64) -> usize {
    let from = *i;
    // Times in milliseconds have thirteen digits: the first eight are taken as one word.
    while let Some(eight) = line.get(*i..*i + 8).and_then(eight_digits) {
        *mantissa = mantissa.wrapping_mul(100_000_000).wrapping_add(eight);
        *i += 8;
    }
    while let Some(d) = line
        .get(*i)
        .map(|b| b.wrapping_sub(b'0'))
        .filter(|d| *d <= 9)
    {
        *mantissa = mantissa.wrapping_mul(10).wrapping_add(u64::from(d));
        *i += 1;
    }
    *i - from
}

/// Any run of this many decimal digits fits a `u64`.
const EXACT_DIGITS: usize = 19;

/// The value of eight ASCII digits, or `None` if any byte is not one (the usual SWAR
/// reading: each step combines neighbouring digits, then pairs, then fours).
fn eight_digits(bytes: &[u8]) -> Option<u64> {
    const ZEROS: u64 = u64::from_le_bytes([b'0'; 8]);
    let w = u64::from_le_bytes(bytes.try_into().ok()?);
    let v = w.wrapping_sub(ZEROS);
    // Digits: every byte is 0x30..=0x3F, and its low nibble plus 6 stays below 16.
    let digits = (w & 0xF0F0_F0F0_F0F0_F0F0) == ZEROS & 0xF0F0_F0F0_F0F0_F0F0
        && (v.wrapping_add(0x0606_0606_0606_0606) & 0xF0F0_F0F0_F0F0_F0F0) == 0;
    if !digits {
        return None;
    }
    let pairs = (v.wrapping_mul(10) + (v >> 8)) & 0x00FF_00FF_00FF_00FF;
    let fours = (pairs.wrapping_mul(100) + (pairs >> 16)) & 0x0000_FFFF_0000_FFFF;
    Some((fours.wrapping_mul(10_000) + (fours >> 32)) & 0xFFFF_FFFF)
}

/// Powers of ten exactly representable in an f64.
const POW10: [f64; 23] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16,
    1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
];

fn general_number(text: &str, negative: bool, integer: bool) -> Option<Scalar<'static>> {
    let value = if integer {
        if negative {
            match text.parse::<i64>() {
                Ok(0) | Err(_) => return None,
                Ok(n) => Scalar::Int(n),
            }
        } else {
            let n = text.parse::<u64>().ok()?;
            i64::try_from(n).map_or(Scalar::BigUint(n), Scalar::Int)
        }
    } else {
        let x = text.parse::<f64>().ok()?;
        if !x.is_finite() {
            return None;
        }
        Scalar::Float(x)
    };
    Some(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scan(line: &str) -> Option<Vec<(String, Scalar<'_>)>> {
        let mut fields = Vec::new();
        walk_flat(line, |k, v| {
            fields.push((k.to_owned(), v));
            Some(())
        })
        .map(|()| fields)
    }

    #[test]
    fn reads_flat_objects() {
        let s = scan(r#" { "a" : -12 , "x": [1], "b":"hé", "c": 2.5e1 } "#);
        assert_eq!(s, None, "nested values go to the general reader");
        let s = scan(r#"{"a":-12,"x":true,"b":"hé","c":2.5e1}"#).expect("flat");
        assert_eq!(s[0], ("a".into(), Scalar::Int(-12)));
        assert_eq!(s[1], ("x".into(), Scalar::Bool(true)));
        assert_eq!(s[2], ("b".into(), Scalar::Str(Cow::Borrowed("hé"))));
        assert_eq!(s[3], ("c".into(), Scalar::Float(25.0)));
    }

    #[test]
    fn gives_up_where_serde_would_differ_or_fail() {
        for line in [
            r#"{"a":"x\"y"}"#,
            r#"{"a":-0}"#,
            r#"{"a":01}"#,
            r#"{"a":1.}"#,
            r#"{"a":1e999}"#,
            r#"{"a":18446744073709551616}"#,
            r#"{"a":1}x"#,
            r#"{"a":1,}"#,
            r#"{"a" 1}"#,
            "[1]",
            r#"{"a":tru}"#,
            "",
            "{",
            "{\"a\":\"\u{1}\"}",
        ] {
            assert_eq!(scan(line), None, "{line}");
        }
        assert_eq!(scan("{}"), Some(Vec::new()));
    }

    proptest::proptest! {
        /// The word-at-a-time search finds what a byte loop finds.
        #[test]
        fn string_ends_are_found_as_a_byte_loop_finds_them(
            bytes in proptest::collection::vec(proptest::sample::select(
                b"a\"\\\x00\x1f\x20\x7f\x80\xff!#[]\x21\x5b\x5d".to_vec(),
            ), 0..40),
        ) {
            let plain = bytes.iter().position(|&b| b == b'"' || b == b'\\' || b < 0x20);
            proptest::prop_assert_eq!(string_end(&bytes), plain);
        }

        /// Eight digits at once read as the byte loop reads them; anything else is not
        /// eight digits.
        #[test]
        fn eight_digits_read_as_a_byte_loop_reads_them(
            bytes in proptest::collection::vec(proptest::prop_oneof![
                12 => b'0'..=b'9',
                1 => proptest::sample::select(b"/:\x00\xb0\xff\x3f\x40a".to_vec()),
            ], 8..=8),
        ) {
            let plain = bytes.iter().try_fold(0u64, |n, &b| {
                b.is_ascii_digit().then(|| n * 10 + u64::from(b - b'0'))
            });
            proptest::prop_assert_eq!(eight_digits(&bytes), plain);
        }

        /// Wherever the scanner reads a number, it reads serde's value; and every
        /// plain integer or short decimal (the numbers records hold) is read here.
        #[test]
        fn numbers_read_as_serde_reads_them(
            text in "-?(0|[1-9][0-9]{0,21})(\\.[0-9]{1,24})?([eE][+-]?[0-9]{1,3})?",
        ) {
            let line = format!("{{\"a\":{text}}}");
            let serde = serde_json::from_str::<Scalar>(&text).ok();
            match scan(&line) {
                Some(fields) => proptest::prop_assert_eq!(Some(&fields[0].1), serde.as_ref()),
                None => proptest::prop_assert!(
                    text.contains(['e', 'E']) || text.len() > 17 || text == "-0",
                    "{} left to the general reader", text
                ),
            }
        }
    }
}
