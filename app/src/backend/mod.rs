//! Server-only code (feature `ssr`): application state, database entities, sessions and, in later
//! features, repositories, services, the policy and the audit trail. sea-orm models never leave this
//! module: repositories map rows to domain types.

pub mod error;
pub mod session;
pub mod session_store;
pub mod state;
