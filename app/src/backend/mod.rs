//! Server-only code (feature `ssr`): application state, database entities, sessions,
//! authentication, the authorization policy, the access context (the one door to patient data)
//! and the audit trail. sea-orm models never leave this module: services map rows to domain types.

pub mod access;
pub mod audit;
pub mod auth;
pub mod clock;
pub mod copies;
pub mod current;
pub mod db;
pub mod demo;
pub mod entities;
pub mod error;
pub mod export;
pub mod fhir;
pub mod mail;
pub mod oidc_routes;
pub mod policy;
pub mod request;
pub mod session;
pub mod session_store;
pub mod smart;
pub mod state;
pub mod upload;
