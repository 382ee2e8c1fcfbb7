//! Common Media Client Data (CTA-5004, v2 CTA-5004-B): the reports real players send,
//! as one model with three readers, and the derivation of §5's measurements from them.
//!
//! - [`keys`]: the keys peerscope knows, as a table (type, range, longest value);
//!   unknown and custom keys are kept as they came;
//! - [`text`]: the text form (an RFC 8941 dictionary: `CMCD=` query values, the
//!   `CMCD-*` headers, and the lines of an `application/cmcd` body);
//! - [`json`]: the JSON form (a player's JSON body, and the `cmcd` stream's log lines);
//! - [`sessions`]: reports in, per-session feedback records out, so that every view,
//!   filter, alert and report works on CMCD as on the 2012 feedback.
//!
//! A report is validated once, whichever form it came in: [`Report::checked`].

pub mod json;
pub mod keys;
pub mod sessions;
pub mod text;

use crate::engine::record::{Reason, RecordError};

/// One bare value: CMCD's integers, decimals, strings and tokens (both kept as text:
/// JSON cannot tell them apart), and booleans.
#[derive(Debug, Clone, PartialEq)]
pub enum Bare {
    Int(i64),
    Dec(f64),
    Text(String),
    Bool(bool),
}

impl Bare {
    fn int(&self) -> Option<i64> {
        match self {
            Bare::Int(n) => Some(*n),
            Bare::Dec(x) => Some(x.round() as i64),
            _ => None,
        }
    }
}

/// A value with its parameters (RFC 8941 `;name=value`), which v2 uses on inner-list
/// items, for example `br=(3200;ot=v 128;ot=a)`.
#[derive(Debug, Clone, PartialEq)]
pub struct Item {
    pub value: Bare,
    pub params: Vec<(String, Bare)>,
}

impl Item {
    pub fn plain(value: Bare) -> Self {
        Item {
            value,
            params: Vec::new(),
        }
    }

    /// The value of parameter `name`, if given.
    pub fn param(&self, name: &str) -> Option<&Bare> {
        self.params.iter().find(|(k, _)| k == name).map(|(_, v)| v)
    }

    /// Whether the item says it is for one of the object types `types`: `;ot=v`, or
    /// the bare parameter `;v` that dash.js 5.2 sends (`br=(600;v 64;a)`).
    fn is_for(&self, types: &[&str]) -> bool {
        matches!(self.param("ot"), Some(Bare::Text(t)) if types.contains(&t.as_str()))
            || types
                .iter()
                .any(|p| self.param(p) == Some(&Bare::Bool(true)))
    }
}

/// A key's value: one item, or an inner list of them.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Item(Item),
    List(Vec<Item>),
}

impl Value {
    /// The items of the value: itself, or the list's.
    pub fn items(&self) -> &[Item] {
        match self {
            Value::Item(i) => std::slice::from_ref(i),
            Value::List(items) => items,
        }
    }
}

/// A key: the table's own name for a known key (no allocation on the ingest path), the
/// text sent for any other.
pub type Key = std::borrow::Cow<'static, str>;

/// The key `name` as a [`Key`], borrowed from the table when it is a known one (the
/// text is copied only for an unknown key that was borrowed).
pub fn key(name: std::borrow::Cow<'_, str>) -> Key {
    keys::find(&name).map_or_else(|| Key::Owned(name.into_owned()), |k| Key::Borrowed(k.name))
}

/// One report: its keys in the order sent (a key sent twice keeps its last value, as
/// RFC 8941 says of dictionaries).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Report {
    pub members: Vec<(Key, Value)>,
}

/// Most keys one report may carry: the standard defines about 60.
pub const MAX_KEYS: usize = 128;
/// Most items in one inner list.
pub const MAX_LIST: usize = 64;
/// Longest key.
pub const MAX_KEY_CHARS: usize = 64;

impl Report {
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.members
            .iter()
            .find(|(k, _)| k.as_ref() == key)
            .map(|(_, v)| v)
    }

    /// Sets `key`, replacing an earlier value in place.
    pub fn set(&mut self, key: impl Into<Key>, value: Value) {
        let key = key.into();
        match self.members.iter_mut().find(|(k, _)| *k == key) {
            Some(slot) => slot.1 = value,
            None => self.members.push((key, value)),
        }
    }

    /// The first item of `key`, for the keys v1 sent as one value and v2 may send as
    /// an inner list; on a list, the item for video when one says so: `;ot=v` or
    /// `;ot=av`, or the bare parameter `;v` or `;av` that dash.js 5.2 sends
    /// (`br=(600;v 64;a)`).
    pub fn first(&self, key: &str) -> Option<&Bare> {
        let items = self.get(key)?.items();
        let video = items.iter().find(|i| i.is_for(&["v", "av"]));
        video.or(items.first()).map(|i| &i.value)
    }

    /// [`int`](Self::int) of the video only: `None` when the value is the audio's, an
    /// item marked `;a` or `;ot=a`, or an unmarked value of an audio object's request
    /// (`ot=a`: in request mode a report is about the object requested).
    pub fn video_int(&self, key: &str) -> Option<i64> {
        let items = self.get(key)?.items();
        let item = items.iter().find(|i| i.is_for(&["v", "av"])).or_else(|| {
            let first = items.first()?;
            let audio = first.is_for(&["a"]) || self.text("ot") == Some("a");
            (!audio).then_some(first)
        })?;
        item.value.int()
    }

    /// The integer of `key`; a decimal (which only bitrates may be) read rounded.
    pub fn int(&self, key: &str) -> Option<i64> {
        self.first(key).and_then(Bare::int)
    }

    pub fn text(&self, key: &str) -> Option<&str> {
        match self.first(key)? {
            Bare::Text(s) => Some(s),
            _ => None,
        }
    }

    pub fn flag(&self, key: &str) -> bool {
        matches!(self.first(key), Some(Bare::Bool(true)))
    }

    /// The sum of an inner list of integers (v2's `bsd` sends one duration per buffer).
    pub fn int_sum(&self, key: &str) -> Option<i64> {
        let items = self.get(key)?.items();
        let mut sum = 0i64;
        for i in items {
            if let Bare::Int(n) = i.value {
                sum = sum.saturating_add(n);
            }
        }
        Some(sum)
    }

    /// Checks every known key against [`keys::KEYS`] and the report as a whole: what a
    /// collector refuses (a 400 naming the key), whichever form the report came in.
    pub fn checked(self) -> Result<Report, RecordError> {
        if self.members.len() > MAX_KEYS {
            return Err(RecordError {
                reason: Reason::TooLong,
                field: None,
                detail: format!(
                    "{} keys, at most {MAX_KEYS} allowed in one report",
                    self.members.len()
                ),
            });
        }
        for (key, value) in &self.members {
            keys::check(key, value)?;
        }
        if self.get("sid").is_none() {
            return Err(RecordError {
                reason: Reason::MissingField,
                field: Some("sid"),
                detail: "missing: peerscope follows sessions by their `sid`".into(),
            });
        }
        Ok(self)
    }
}

#[cfg(test)]
mod tests;
