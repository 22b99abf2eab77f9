//! The portal's server: settings, database connection and migrations, the axum router with its
//! middleware (security headers, sessions, request ids, compression), health checks and the CLI.
//!
//! `startup::Application::build(Settings)` is the one way to get a running server; the binary and
//! the integration tests both use it.

pub mod api_errors;
pub mod bench_http;
pub mod cli;
pub mod database;
pub mod error;
pub mod health;
pub mod import;
pub mod latency_proxy;
pub mod metrics;
pub mod proxy;
pub mod security;
pub mod seed;
pub mod settings;
pub mod startup;
pub mod telemetry;
