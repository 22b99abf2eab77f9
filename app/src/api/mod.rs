//! Server functions, one module per feature. Each is thin: parse input into domain types, call the
//! backend, map errors into [`crate::error::AppError`].

pub mod activation;
pub mod apps;
pub mod audit;
pub mod auth;
pub mod caregivers;
pub mod desk;
pub mod import;
pub mod mfa;
pub mod oidc;
pub mod patients;
pub mod privacy_notice;
pub mod record;
pub mod release;
pub mod reset;
pub mod users;

/// The server-side names nearly every server function uses; each module imports this `ssr`
/// (leptos `session_auth_axum`'s shape) and each server function starts with
/// `use self::ssr::*` instead of five `use` lines.
#[cfg(feature = "ssr")]
#[allow(unused_imports, reason = "a prelude: each server function takes what it needs")]
pub(crate) mod ssr {
    pub use crate::backend::current::{access, signed_in, state};
    pub use crate::backend::error::{internal, with_status};
    pub use crate::backend::request::RequestMeta;
    pub use crate::backend::session::{Key, PortalSession};
    pub use crate::domain::FieldError;
}
