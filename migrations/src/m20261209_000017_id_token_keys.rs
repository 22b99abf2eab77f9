//! ID tokens for apps (issue 22, SMART App Launch 2.x `openid fhirUser`, OpenID Connect Core 1.0):
//! - `signing_key`: the RSA keys that sign ID tokens (RS256, which SMART requires servers to
//!   support). The private key is sealed with the site's file keys (as released copies are);
//!   the public key is kept as its JWK for the key set apps verify with. Several servers share
//!   the table: the first to need a key makes one, and every unretired key is published, so a
//!   token signed by any server verifies.
//! - `smart_code.nonce`: the app's `nonce`, echoed in the ID token the code is exchanged for
//!   (OpenID Connect Core 3.1.2.1), which binds the token to the app's own sign-in attempt.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

const UP: &[&str] = &[
    "CREATE TABLE signing_key (\
       id VARCHAR(64) NOT NULL PRIMARY KEY, \
       alg VARCHAR(16) NOT NULL, \
       private_sealed TEXT NOT NULL, \
       public_jwk TEXT NOT NULL, \
       created_at_ms BIGINT NOT NULL, \
       retired_at_ms BIGINT NULL)",
    "ALTER TABLE smart_code ADD COLUMN nonce VARCHAR(300) NULL",
];

const DOWN: &[&str] = &["ALTER TABLE smart_code DROP COLUMN nonce", "DROP TABLE signing_key"];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    /// All or none, on SQLite too.
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }

    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        crate::execute_all(manager, UP).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        crate::execute_all(manager, DOWN).await
    }
}
