//! CMCD's text form: an RFC 8941 structured-field dictionary, `key=value` members
//! separated by commas. It is what a `CMCD=` query value holds (once percent-decoded),
//! what each `CMCD-Object`/`-Request`/`-Session`/`-Status` header holds, and what each
//! line of an `application/cmcd` event-report body holds.
//!
//! Read as RFC 8941 says, with one leniency the CMCD examples need: keys may hold upper
//! case letters (`com.example-myNumericKey`). Parameters on an inner list as a whole are
//! read and dropped; those on items are kept.

use super::{Bare, Item, Key, MAX_KEY_CHARS, MAX_LIST, Report, Value};
use crate::engine::record::{Reason, RecordError};

/// Parses the parts of one report sent in several texts (the `CMCD=` query value and
/// the four `CMCD-*` headers) into one; a key in two parts keeps the later value.
pub fn parse_parts<'a>(parts: impl IntoIterator<Item = &'a str>) -> Result<Report, RecordError> {
    let mut report = Report::default();
    for text in parts {
        for (key, value) in parse_dictionary(text)?.members {
            report.set(key, value);
        }
    }
    Ok(report)
}

/// Parses one dictionary; an empty text is an empty report.
pub fn parse_dictionary(input: &str) -> Result<Report, RecordError> {
    let mut p = Parser {
        s: input.as_bytes(),
        i: 0,
        key: Key::default(),
    };
    let mut report = Report::default();
    p.skip_ows();
    if p.at_end() {
        return Ok(report);
    }
    loop {
        let key = p.key()?;
        p.key.clone_from(&key);
        let value = if p.eat(b'=') {
            if p.peek() == Some(b'(') {
                Value::List(p.inner_list()?)
            } else {
                Value::Item(p.item()?)
            }
        } else {
            Value::Item(Item {
                value: Bare::Bool(true),
                params: p.params()?,
            })
        };
        if report.members.len() >= super::MAX_KEYS && report.get(&key).is_none() {
            return Err(p.error(
                Reason::TooLong,
                &format!("more than {} keys in one report", super::MAX_KEYS),
            ));
        }
        report.set(key, value);
        p.skip_ows();
        if p.at_end() {
            return Ok(report);
        }
        if !p.eat(b',') {
            return Err(p.error(Reason::InvalidCmcd, "expected `,` between members"));
        }
        p.skip_ows();
        if p.at_end() {
            return Err(p.error(Reason::InvalidCmcd, "a `,` ends the text"));
        }
    }
}

struct Parser<'a> {
    s: &'a [u8],
    i: usize,
    /// The member being read, named in errors.
    key: Key,
}

impl Parser<'_> {
    fn at_end(&self) -> bool {
        self.i >= self.s.len()
    }

    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }

    fn eat(&mut self, b: u8) -> bool {
        if self.peek() == Some(b) {
            self.i += 1;
            true
        } else {
            false
        }
    }

    fn skip_ows(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t')) {
            self.i += 1;
        }
    }

    fn skip_sp(&mut self) {
        while self.peek() == Some(b' ') {
            self.i += 1;
        }
    }

    fn error(&self, reason: Reason, what: &str) -> RecordError {
        let at = if self.key.is_empty() {
            String::new()
        } else {
            format!("key `{}`: ", self.key)
        };
        RecordError {
            reason,
            field: None,
            detail: format!("{at}{what} (at byte {})", self.i),
        }
    }

    fn key(&mut self) -> Result<Key, RecordError> {
        let start = self.i;
        match self.peek() {
            Some(b) if b.is_ascii_alphabetic() || b == b'*' => self.i += 1,
            _ => {
                self.key = Key::default();
                return Err(self.error(Reason::InvalidCmcd, "expected a key"));
            }
        }
        while let Some(b) = self.peek() {
            if b.is_ascii_alphanumeric() || b"_-.*".contains(&b) {
                self.i += 1;
            } else {
                break;
            }
        }
        if self.i - start > MAX_KEY_CHARS {
            return Err(self.error(
                Reason::TooLong,
                &format!(
                    "a key of {} characters, at most {MAX_KEY_CHARS}",
                    self.i - start
                ),
            ));
        }
        let name = std::str::from_utf8(&self.s[start..self.i]).unwrap_or_default();
        Ok(super::key(name.into()))
    }

    fn inner_list(&mut self) -> Result<Vec<Item>, RecordError> {
        self.i += 1; // '('
        let mut items = Vec::new();
        loop {
            self.skip_sp();
            if self.eat(b')') {
                // Parameters of the list as a whole: read, not kept.
                self.params()?;
                return Ok(items);
            }
            if items.len() >= MAX_LIST {
                return Err(self.error(
                    Reason::TooLong,
                    &format!("an inner list of more than {MAX_LIST} items"),
                ));
            }
            items.push(self.item()?);
            match self.peek() {
                Some(b' ' | b')') => {}
                _ => {
                    return Err(self.error(
                        Reason::InvalidCmcd,
                        "expected a space or `)` after an inner-list item",
                    ));
                }
            }
        }
    }

    fn item(&mut self) -> Result<Item, RecordError> {
        let value = self.bare()?;
        Ok(Item {
            value,
            params: self.params()?,
        })
    }

    fn params(&mut self) -> Result<Vec<(String, Bare)>, RecordError> {
        let mut params = Vec::new();
        while self.eat(b';') {
            self.skip_sp();
            let saved = std::mem::take(&mut self.key);
            let name = self.key();
            self.key = saved;
            let name = name?.into_owned();
            let value = if self.eat(b'=') {
                self.bare()?
            } else {
                Bare::Bool(true)
            };
            match params.iter_mut().find(|(k, _)| *k == name) {
                Some(slot) => slot.1 = value,
                None => params.push((name, value)),
            }
        }
        Ok(params)
    }

    fn bare(&mut self) -> Result<Bare, RecordError> {
        match self.peek() {
            Some(b'-' | b'0'..=b'9') => self.number(),
            Some(b'"') => self.string(),
            Some(b'?') => {
                self.i += 1;
                match self.peek() {
                    Some(b'0') => {
                        self.i += 1;
                        Ok(Bare::Bool(false))
                    }
                    Some(b'1') => {
                        self.i += 1;
                        Ok(Bare::Bool(true))
                    }
                    _ => Err(self.error(Reason::InvalidCmcd, "a boolean is ?0 or ?1")),
                }
            }
            Some(b':') => self.bytes(),
            Some(b) if b.is_ascii_alphabetic() || b == b'*' => Ok(self.token()),
            _ => Err(self.error(
                Reason::InvalidCmcd,
                "expected a number, a string, a token or a boolean",
            )),
        }
    }

    fn number(&mut self) -> Result<Bare, RecordError> {
        let start = self.i;
        let negative = self.eat(b'-');
        let digits_start = self.i;
        while self.peek().is_some_and(|b| b.is_ascii_digit()) {
            self.i += 1;
        }
        let int_digits = self.i - digits_start;
        if int_digits == 0 {
            return Err(self.error(Reason::InvalidCmcd, "expected a digit"));
        }
        let text = |p: &Self| std::str::from_utf8(&p.s[start..p.i]).unwrap_or("");
        if self.eat(b'.') {
            let frac_start = self.i;
            while self.peek().is_some_and(|b| b.is_ascii_digit()) {
                self.i += 1;
            }
            let frac = self.i - frac_start;
            if int_digits > 12 || frac == 0 || frac > 3 {
                return Err(self.error(
                    Reason::InvalidCmcd,
                    "a decimal has at most 12 digits, a point, and 1 to 3 digits",
                ));
            }
            let x: f64 = text(self).parse().unwrap_or(0.0);
            return Ok(Bare::Dec(x));
        }
        if int_digits > 15 {
            return Err(self.error(Reason::OutOfRange, "an integer has at most 15 digits"));
        }
        let n: i64 = text(self).parse().unwrap_or(0);
        debug_assert!(negative == (n < 0) || n == 0);
        Ok(Bare::Int(n))
    }

    fn string(&mut self) -> Result<Bare, RecordError> {
        self.i += 1; // '"'
        // The common string: printable ASCII up to the closing quote, no escapes.
        let plain = self.s[self.i..]
            .iter()
            .position(|&b| !(0x20..=0x7e).contains(&b) || b == b'"' || b == b'\\');
        if let Some(n) = plain.filter(|&n| self.s[self.i + n] == b'"') {
            let text = String::from_utf8_lossy(&self.s[self.i..self.i + n]).into_owned();
            self.i += n + 1;
            return Ok(Bare::Text(text));
        }
        let mut out = String::new();
        loop {
            match self.peek() {
                None => {
                    return Err(self.error(Reason::InvalidCmcd, "a string is not closed"));
                }
                Some(b'"') => {
                    self.i += 1;
                    return Ok(Bare::Text(out));
                }
                Some(b'\\') => {
                    self.i += 1;
                    match self.peek() {
                        Some(c @ (b'"' | b'\\')) => {
                            out.push(char::from(c));
                            self.i += 1;
                        }
                        _ => {
                            return Err(self.error(
                                Reason::InvalidCmcd,
                                "only \\\" and \\\\ may be escaped in a string",
                            ));
                        }
                    }
                }
                Some(c @ 0x20..=0x7e) => {
                    out.push(char::from(c));
                    self.i += 1;
                }
                Some(_) => {
                    return Err(
                        self.error(Reason::InvalidCmcd, "a string holds printable ASCII only")
                    );
                }
            }
        }
    }

    fn token(&mut self) -> Bare {
        let start = self.i;
        self.i += 1;
        while let Some(b) = self.peek() {
            if b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~:/".contains(&b) {
                self.i += 1;
            } else {
                break;
            }
        }
        Bare::Text(String::from_utf8_lossy(&self.s[start..self.i]).into_owned())
    }

    /// A byte sequence, `:base64:`, kept as its text (CMCD defines no such key).
    fn bytes(&mut self) -> Result<Bare, RecordError> {
        let start = self.i;
        self.i += 1;
        while let Some(b) = self.peek() {
            self.i += 1;
            if b == b':' {
                return Ok(Bare::Text(
                    String::from_utf8_lossy(&self.s[start..self.i]).into_owned(),
                ));
            }
            if !(b.is_ascii_alphanumeric() || b"+/=".contains(&b)) {
                return Err(self.error(Reason::InvalidCmcd, "a byte sequence is base64"));
            }
        }
        Err(self.error(Reason::InvalidCmcd, "a byte sequence is not closed"))
    }
}

/// Writes `report` in the text form (for `simulate` and for tests): keys in order,
/// strings quoted, `true` as the bare key.
pub fn to_text(report: &Report) -> String {
    let mut out = String::new();
    for (i, (key, value)) in report.members.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(key);
        match value {
            Value::Item(item) if item.value == Bare::Bool(true) => push_params(&mut out, item),
            Value::Item(item) => {
                out.push('=');
                push_item(&mut out, key, item);
            }
            Value::List(items) => {
                out.push_str("=(");
                for (j, item) in items.iter().enumerate() {
                    if j > 0 {
                        out.push(' ');
                    }
                    push_item(&mut out, key, item);
                }
                out.push(')');
            }
        }
    }
    out
}

fn push_item(out: &mut String, key: &str, item: &Item) {
    push_bare(out, &item.value, is_token_key(key));
    push_params(out, item);
}

fn push_params(out: &mut String, item: &Item) {
    for (name, value) in &item.params {
        out.push(';');
        out.push_str(name);
        if *value != Bare::Bool(true) {
            out.push('=');
            push_bare(out, value, name == "ot");
        }
    }
}

/// Whether `t` can be written as an RFC 8941 token.
fn is_token(t: &str) -> bool {
    let b = t.as_bytes();
    b.first()
        .is_some_and(|c| c.is_ascii_alphabetic() || *c == b'*')
        && b.iter()
            .all(|c| c.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~:/".contains(c))
}

/// The keys whose values CMCD sends as tokens, not strings.
fn is_token_key(key: &str) -> bool {
    matches!(
        super::keys::find(key).map(|k| k.kind),
        Some(super::keys::Kind::Token(_) | super::keys::Kind::AnyToken)
    )
}

fn push_bare(out: &mut String, value: &Bare, token: bool) {
    match value {
        Bare::Int(n) => out.push_str(itoa::Buffer::new().format(*n)),
        Bare::Dec(x) => {
            // RFC 8941: at most three fractional digits, at least one.
            let text = format!("{x:.3}");
            let trimmed = text.trim_end_matches('0');
            out.push_str(trimmed);
            if trimmed.ends_with('.') {
                out.push('0');
            }
        }
        Bare::Text(t) if token && is_token(t) => out.push_str(t),
        Bare::Text(t) => {
            out.push('"');
            for c in t.chars() {
                if c == '"' || c == '\\' {
                    out.push('\\');
                }
                out.push(c);
            }
            out.push('"');
        }
        Bare::Bool(b) => out.push_str(if *b { "?1" } else { "?0" }),
    }
}
