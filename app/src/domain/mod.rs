//! Pure domain types and rules: no async, no I/O, no database, no Leptos.
//! Newtypes have private fields and a `parse` constructor, so an invalid value cannot exist.

mod error_ref;

pub use error_ref::{ErrorRef, ErrorRefParseError};
