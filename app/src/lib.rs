//! The portal's shared application crate.
//!
//! - [`domain`]: pure types and rules (no I/O); compiles to wasm too, so forms validate with the
//!   same code as the server.
//! - [`api`]: `#[server]` functions, one module per feature; thin wrappers over the backend.
//! - [`ui`]: Leptos pages and components, rendered on the server and hydrated in the browser.
//! - [`backend`] (feature `ssr` only): database entities, sessions, services.
//! - [`error::AppError`]: the only error a client ever sees.

pub mod api;
#[cfg(feature = "ssr")]
pub mod backend;
pub mod domain;
pub mod error;
pub mod ui;

pub use ui::{App, shell};
