//! An OpenID provider as pages show it: what the sign-in and activation pages need to draw its
//! button, and nothing secret.

use serde::{Deserialize, Serialize};

/// A configured provider, as pages show it (no secrets).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProviderInfo {
    pub id: String,
    pub label: String,
    /// Offered to new patients on the activation page.
    pub for_patients: bool,
}
