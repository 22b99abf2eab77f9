//! One module per route.

pub mod error;
pub mod home;
pub mod not_found;
