//! What the live engine is asked and answers: a [`filter`] of ISPs, channels, districts
//! and areas, the [`metric`]s a view can show (one table of their labels, units,
//! precision and domains), and the immutable [`snapshot`] built for a query.

pub mod filter;
pub mod metric;
pub mod snapshot;
