//! sea-orm entities for identity, sessions and the audit trail. Patient rows are deliberately not
//! here: their entity is private to `backend::access`, so nothing can read them around the access
//! context. Models never leave `backend`: services map them to domain types.

pub mod app_user;
pub mod audit_checkpoint;
pub mod audit_event;
pub mod external_identity;
pub mod identity_claim;
pub mod login_session;
pub mod login_throttle;
pub mod one_time_token;
pub mod smart_app;
pub mod user_role;
