//! Reusable components.

pub mod layout;
pub mod privacy_notice;
