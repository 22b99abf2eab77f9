//! Apps of the patient's choice (issue 22, SMART App Launch 2.x, ONC 45 CFR 170.315(g)(10)):
//! - `smart_app`: an app registered by an administrator (or by dynamic registration when the
//!   site allows it): its name as patients see it, public (PKCE only) or confidential (a secret,
//!   stored as its hash), and the redirect URIs it may use, matched exactly;
//! - `smart_grant`: what one person (the patient, or a caregiver for the patient they act for)
//!   let one app read, until when, when it was last used and how it ended; never deleted, so
//!   "who can see my record" shows the history;
//! - `smart_code`: an authorization code (its hash), single-use, short-lived, bound to the
//!   redirect URI and the PKCE challenge it was asked with;
//! - `smart_token`: access and refresh tokens (their hashes). A refresh token is used once: its
//!   use is stamped, and a second use revokes the whole grant (a stolen token replayed).

use crate::fk;
use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum SmartApp {
    Table,
    Id,
    Name,
    Confidential,
    SecretHash,
    RedirectUris,
    CreatedAtMs,
    CreatedBy,
    DisabledAtMs,
}

#[derive(DeriveIden)]
enum SmartGrant {
    Table,
    Id,
    AppId,
    UserId,
    PatientId,
    Scopes,
    CreatedAtMs,
    ExpiresAtMs,
    LastUsedAtMs,
    RevokedAtMs,
    RevokedReason,
}

#[derive(DeriveIden)]
enum SmartCode {
    Table,
    CodeHash,
    GrantId,
    RedirectUri,
    Challenge,
    ExpiresAtMs,
    UsedAtMs,
}

#[derive(DeriveIden)]
enum SmartToken {
    Table,
    TokenHash,
    GrantId,
    Kind,
    CreatedAtMs,
    ExpiresAtMs,
    UsedAtMs,
}

#[derive(DeriveIden)]
enum AppUser {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Patient {
    Table,
    Id,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    /// All or none, on SQLite too.
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }

    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(SmartApp::Table)
                    // The OAuth client_id.
                    .col(string_len(SmartApp::Id, 64).primary_key())
                    .col(string_len(SmartApp::Name, 100))
                    .col(boolean(SmartApp::Confidential))
                    .col(string_len_null(SmartApp::SecretHash, 64))
                    // A JSON array of exact URIs.
                    .col(text(SmartApp::RedirectUris))
                    .col(big_integer(SmartApp::CreatedAtMs))
                    .col(string_len_null(SmartApp::CreatedBy, 36))
                    .col(big_integer_null(SmartApp::DisabledAtMs))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(SmartGrant::Table)
                    .col(string_len(SmartGrant::Id, 36).primary_key())
                    .col(string_len(SmartGrant::AppId, 64))
                    .col(string_len(SmartGrant::UserId, 36))
                    .col(string_len(SmartGrant::PatientId, 36))
                    .col(text(SmartGrant::Scopes))
                    .col(big_integer(SmartGrant::CreatedAtMs))
                    .col(big_integer(SmartGrant::ExpiresAtMs))
                    .col(big_integer_null(SmartGrant::LastUsedAtMs))
                    .col(big_integer_null(SmartGrant::RevokedAtMs))
                    .col(string_len_null(SmartGrant::RevokedReason, 200))
                    .foreign_key(&mut fk("fk_smart_grant_app", (SmartGrant::Table, SmartGrant::AppId), (SmartApp::Table, SmartApp::Id), ForeignKeyAction::Restrict))
                    .foreign_key(&mut fk("fk_smart_grant_user", (SmartGrant::Table, SmartGrant::UserId), (AppUser::Table, AppUser::Id), ForeignKeyAction::Restrict))
                    .foreign_key(&mut fk("fk_smart_grant_patient", (SmartGrant::Table, SmartGrant::PatientId), (Patient::Table, Patient::Id), ForeignKeyAction::Restrict))
                    .to_owned(),
            )
            .await?;
        // "Who can see my record": a patient's grants.
        manager.create_index(Index::create().name("idx_smart_grant_patient").table(SmartGrant::Table).col(SmartGrant::PatientId).to_owned()).await?;
        manager
            .create_table(
                Table::create()
                    .table(SmartCode::Table)
                    .col(string_len(SmartCode::CodeHash, 64).primary_key())
                    .col(string_len(SmartCode::GrantId, 36))
                    .col(text(SmartCode::RedirectUri))
                    .col(string_len(SmartCode::Challenge, 43))
                    .col(big_integer(SmartCode::ExpiresAtMs))
                    .col(big_integer_null(SmartCode::UsedAtMs))
                    .foreign_key(&mut fk("fk_smart_code_grant", (SmartCode::Table, SmartCode::GrantId), (SmartGrant::Table, SmartGrant::Id), ForeignKeyAction::Cascade))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(SmartToken::Table)
                    .col(string_len(SmartToken::TokenHash, 64).primary_key())
                    .col(string_len(SmartToken::GrantId, 36))
                    // `access` or `refresh`.
                    .col(string_len(SmartToken::Kind, 8))
                    .col(big_integer(SmartToken::CreatedAtMs))
                    .col(big_integer(SmartToken::ExpiresAtMs))
                    .col(big_integer_null(SmartToken::UsedAtMs))
                    .foreign_key(&mut fk("fk_smart_token_grant", (SmartToken::Table, SmartToken::GrantId), (SmartGrant::Table, SmartGrant::Id), ForeignKeyAction::Cascade))
                    .to_owned(),
            )
            .await?;
        manager.create_index(Index::create().name("idx_smart_token_grant").table(SmartToken::Table).col(SmartToken::GrantId).to_owned()).await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [SmartToken::Table.into_iden(), SmartCode::Table.into_iden(), SmartGrant::Table.into_iden(), SmartApp::Table.into_iden()] {
            manager.drop_table(Table::drop().table(table).to_owned()).await?;
        }
        Ok(())
    }
}
