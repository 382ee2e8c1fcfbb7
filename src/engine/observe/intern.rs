//! Interning of peer, session and channel identifiers.
//!
//! The engine keys its state by small integers: a peer ID is hashed once per record
//! and its string kept once for the whole recording (twice, counting the table's key).
//! A table may keep a value beside each name (the catalog's per-peer entry): the lookup
//! that finds the id then finds the value in the same place in memory.

use std::collections::hash_map::Entry;

use rustc_hash::FxHashMap;
use smallvec::SmallVec;

/// Serialized as its names and values in id order; the lookup is rebuilt when read.
#[derive(Debug, Default, Clone, serde::Deserialize)]
#[serde(
    from = "Vec<(Box<str>, V)>",
    bound = "V: Default + serde::de::DeserializeOwned"
)]
pub struct Interner<V = ()> {
    /// Names up to 24 bytes (the simulator's peer and session IDs, addresses) are held
    /// in the table itself: a lookup compares them where it finds them. Longer ones,
    /// such as a CMCD session's UUID, are boxed as before.
    ids: FxHashMap<SmallVec<[u8; 24]>, (u32, V)>,
    names: Vec<Box<str>>,
}

impl<V: Default> From<Vec<(Box<str>, V)>> for Interner<V> {
    fn from(named: Vec<(Box<str>, V)>) -> Self {
        let mut interner = Interner::default();
        for (name, value) in named {
            if interner.get(&name).is_none() {
                interner.insert(&name, value);
            }
        }
        interner
    }
}

/// Written in place, name by name: a table of a whole event's peers is not copied to
/// be kept.
impl<V: serde::Serialize> serde::Serialize for Interner<V> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        // Every name has its entry: the two are only ever added together.
        s.collect_seq(
            self.names
                .iter()
                .map(|name| (name, &self.ids[name.as_bytes()].1)),
        )
    }
}

impl<V: Default> Interner<V> {
    /// The id of `name`, allocating one (and a default value) on first sight.
    pub fn intern(&mut self, name: &str) -> u32 {
        if let Some((id, _)) = self.ids.get(name.as_bytes()) {
            return *id;
        }
        self.insert(name, V::default())
    }

    /// The id of `name` and the value beside it, as [`intern`](Self::intern) makes them.
    /// (It copies `name` into a key before looking: a caller that mostly meets known
    /// names tries [`get_mut`](Self::get_mut) first.)
    pub fn entry(&mut self, name: &str) -> (u32, &mut V) {
        match self.ids.entry(SmallVec::from_slice(name.as_bytes())) {
            Entry::Occupied(known) => {
                let (id, value) = known.into_mut();
                (*id, value)
            }
            Entry::Vacant(new) => {
                let id = next_id(&self.names);
                self.names.push(name.into());
                let (id, value) = new.insert((id, V::default()));
                (*id, value)
            }
        }
    }
}

impl<V> Interner<V> {
    /// Gives a new `name` the next id, with `value` beside it.
    fn insert(&mut self, name: &str, value: V) -> u32 {
        let id = next_id(&self.names);
        self.names.push(name.into());
        self.ids
            .insert(SmallVec::from_slice(name.as_bytes()), (id, value));
        id
    }

    pub fn get(&self, name: &str) -> Option<u32> {
        self.ids.get(name.as_bytes()).map(|(id, _)| *id)
    }

    /// The id of a known `name` and the value beside it.
    pub fn get_mut(&mut self, name: &str) -> Option<(u32, &mut V)> {
        self.ids
            .get_mut(name.as_bytes())
            .map(|(id, value)| (*id, value))
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

/// The id a table with `names` gives the next name.
fn next_id(names: &[Box<str>]) -> u32 {
    u32::try_from(names.len()).expect("fewer than 2^32 distinct identifiers")
}

#[cfg(test)]
mod tests {
    use super::Interner;

    const NAMES: [&str; 4] = ["b", "a", "a name longer than twenty-four bytes", "c"];

    #[test]
    fn values_keep_to_their_names_and_ids_through_a_round_trip() {
        let mut table: Interner<u64> = Interner::default();
        for name in NAMES {
            table.intern(name);
        }
        *table.entry("a").1 = 7;
        *table.get_mut(NAMES[2]).expect("known").1 += 2;
        assert!(table.get_mut("d").is_none());
        assert_eq!(table.entry("d").0, 4);
        let bytes = postcard::to_stdvec(&table).expect("encode");
        let mut back: Interner<u64> = postcard::from_bytes(&bytes).expect("decode");
        for (id, name) in (0..).zip(NAMES.iter().chain(&["d"])) {
            assert_eq!(back.get(name), Some(id));
            assert_eq!(back.name(id), *name);
        }
        let values: Vec<u64> = NAMES
            .iter()
            .map(|name| *back.get_mut(name).expect("known").1)
            .collect();
        assert_eq!(values, [0, 7, 2, 0]);
    }

    #[test]
    fn a_table_without_values_is_kept_as_its_names_alone() {
        let mut table: Interner = Interner::default();
        for name in NAMES {
            table.intern(name);
        }
        let names: Vec<Box<str>> = NAMES.iter().map(|n| Box::from(*n)).collect();
        assert_eq!(
            postcard::to_stdvec(&table).expect("encode"),
            postcard::to_stdvec(&names).expect("encode")
        );
    }
}
