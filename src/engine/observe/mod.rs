//! From parsed records to what the engine computes with: identifiers interned
//! ([`intern`]), duplicates (`peer`, `seq`) dropped ([`seqset`]), the peer's address
//! located, all in the [`catalog`], which turns a record into an [`observation`]; and
//! first appearances over a whole recording ([`first_seen`]), which "new peers" needs.

pub mod catalog;
pub mod first_seen;
pub mod intern;
pub mod observation;
pub mod seqset;
