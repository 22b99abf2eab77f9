//! Reusable pieces of the interface.

pub mod form;
pub mod idle_warning;
pub mod layout;
pub mod loaded;
pub mod oidc;
pub mod privacy_notice;
