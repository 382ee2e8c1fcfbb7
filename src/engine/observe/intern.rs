//! Interning of peer, session and channel identifiers.
//!
//! The engine keys its state by small integers: a peer ID is hashed once per record
//! and its string kept once for the whole recording (twice, counting the table's key).

use rustc_hash::FxHashMap;
use smallvec::SmallVec;

/// Serialized as its names in id order; the lookup is rebuilt when read.
#[derive(Debug, Default, Clone, serde::Serialize, serde::Deserialize)]
#[serde(from = "Vec<Box<str>>", into = "Vec<Box<str>>")]
pub struct Interner {
    /// Names up to 24 bytes (the simulator's peer and session IDs, addresses) are held
    /// in the table itself: a lookup compares them where it finds them. Longer ones,
    /// such as a CMCD session's UUID, are boxed as before.
    ids: FxHashMap<SmallVec<[u8; 24]>, u32>,
    names: Vec<Box<str>>,
}

impl From<Vec<Box<str>>> for Interner {
    fn from(names: Vec<Box<str>>) -> Self {
        let mut interner = Interner::default();
        for name in names {
            interner.intern(&name);
        }
        interner
    }
}

impl From<Interner> for Vec<Box<str>> {
    fn from(interner: Interner) -> Self {
        interner.names
    }
}

impl Interner {
    /// The id of `name`, allocating one on first sight.
    pub fn intern(&mut self, name: &str) -> u32 {
        if let Some(&id) = self.ids.get(name.as_bytes()) {
            return id;
        }
        let id = u32::try_from(self.names.len()).expect("fewer than 2^32 distinct identifiers");
        self.names.push(name.into());
        self.ids.insert(SmallVec::from_slice(name.as_bytes()), id);
        id
    }

    pub fn get(&self, name: &str) -> Option<u32> {
        self.ids.get(name.as_bytes()).copied()
    }

    pub fn name(&self, id: u32) -> &str {
        &self.names[id as usize]
    }

    pub fn len(&self) -> usize {
        self.names.len()
    }

    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }

    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.names.iter().map(AsRef::as_ref)
    }
}
