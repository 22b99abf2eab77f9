//! Server functions, one module per feature. Each is thin: parse input into domain types, call the
//! backend, map errors into [`crate::error::AppError`].

pub mod activation;
pub mod audit;
pub mod auth;
pub mod caregivers;
pub mod import;
pub mod mfa;
pub mod oidc;
pub mod patients;
pub mod privacy_notice;
pub mod record;
pub mod release;
pub mod reset;
pub mod users;
