//! Identity and access: patients, users and roles, login sessions, sign-in throttling, one-time
//! secrets (activation codes, password-reset links, MFA recovery codes), linked OpenID Connect
//! identities, and the append-only, hash-chained audit trail.
//!
//! Conventions: ids are UUID text (portable, unguessable); instants are BIGINT Unix milliseconds
//! (`*_ms`), so comparisons and the audit hash are the same on both databases; dates of birth and
//! death are ISO 8601 `YYYY-MM-DD` text. One-time secrets are stored only as SHA-256 hashes.

use crate::fk;
use sea_orm_migration::{prelude::*, schema::*, sea_orm::DatabaseBackend};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Patient {
    Table,
    Id,
    SiteCode,
    Mrn,
    FamilyName,
    GivenNames,
    BirthDate,
    Sex,
    Phone,
    Email,
    DeceasedDate,
    CreatedAtMs,
}

#[derive(DeriveIden)]
enum AppUser {
    Table,
    Id,
    Email,
    DisplayName,
    PasswordHash,
    PatientId,
    Status,
    TotpSecret,
    TotpEnabledAtMs,
    TotpLastStep,
    CreatedAtMs,
}

#[derive(DeriveIden)]
enum UserRole {
    Table,
    UserId,
    Role,
    GrantedAtMs,
}

#[derive(DeriveIden)]
enum LoginSession {
    Table,
    Id,
    UserId,
    CreatedAtMs,
    LastSeenMs,
    ExpiresAtMs,
    RevokedAtMs,
    ClientAddress,
    UserAgent,
}

/// Failed sign-ins per account (keyed by a hash of the typed email, so an address with no account
/// locks exactly like one with an account) and per client address.
#[derive(DeriveIden)]
enum LoginThrottle {
    Table,
    Key,
    Failures,
    LockedUntilMs,
    UpdatedAtMs,
}

#[derive(DeriveIden)]
enum OneTimeToken {
    Table,
    TokenHash,
    Purpose,
    UserId,
    PatientId,
    IssuedBy,
    CreatedAtMs,
    ExpiresAtMs,
    UsedAtMs,
}

#[derive(DeriveIden)]
enum ExternalIdentity {
    Table,
    Issuer,
    Subject,
    UserId,
    LinkedAtMs,
}

/// What a self-registered person says about themselves, for HIM staff to match against a record.
#[derive(DeriveIden)]
enum IdentityClaim {
    Table,
    UserId,
    FullName,
    BirthDate,
    Phone,
    CreatedAtMs,
}

#[derive(DeriveIden)]
enum AuditEvent {
    Table,
    Seq,
    OccurredAtMs,
    ActorUserId,
    OnBehalfOf,
    PatientId,
    Action,
    EntityType,
    EntityId,
    Outcome,
    Detail,
    RequestId,
    ClientAddress,
    PrevHash,
    Hash,
}

#[derive(DeriveIden)]
enum AuditHead {
    Table,
    Id,
    LastSeq,
    LastHash,
}

/// The hash the first audit row chains to.
const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Patient::Table)
                    .col(string_len(Patient::Id, 36).primary_key())
                    .col(string_len(Patient::SiteCode, 32))
                    .col(string_len(Patient::Mrn, 32))
                    .col(string_len(Patient::FamilyName, 100))
                    .col(string_len(Patient::GivenNames, 100))
                    .col(string_len(Patient::BirthDate, 10))
                    .col(string_len(Patient::Sex, 16))
                    .col(string_len_null(Patient::Phone, 32))
                    .col(string_len_null(Patient::Email, 254))
                    .col(string_len_null(Patient::DeceasedDate, 10))
                    .col(big_integer(Patient::CreatedAtMs))
                    .to_owned(),
            )
            .await?;
        // A medical record number is unique within its site (DOMAIN.md: mismatched identifiers
        // cause wrong-patient releases).
        manager
            .create_index(
                Index::create()
                    .name("ux_patient_site_mrn")
                    .table(Patient::Table)
                    .col(Patient::SiteCode)
                    .col(Patient::Mrn)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_patient_name_birth")
                    .table(Patient::Table)
                    .col(Patient::FamilyName)
                    .col(Patient::BirthDate)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(AppUser::Table)
                    .col(string_len(AppUser::Id, 36).primary_key())
                    .col(string_len_uniq(AppUser::Email, 254))
                    .col(string_len(AppUser::DisplayName, 100))
                    .col(text_null(AppUser::PasswordHash))
                    // Unique: a patient record has at most one patient account; caregivers act
                    // through grants (a later feature), never by sharing the account.
                    .col(string_len_null(AppUser::PatientId, 36).unique_key())
                    .col(string_len(AppUser::Status, 16))
                    .col(string_len_null(AppUser::TotpSecret, 64))
                    .col(big_integer_null(AppUser::TotpEnabledAtMs))
                    .col(big_integer_null(AppUser::TotpLastStep))
                    .col(big_integer(AppUser::CreatedAtMs))
                    .foreign_key(&mut fk("fk_app_user_patient", (AppUser::Table, AppUser::PatientId), (Patient::Table, Patient::Id), ForeignKeyAction::Restrict))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(UserRole::Table)
                    .col(string_len(UserRole::UserId, 36))
                    .col(string_len(UserRole::Role, 16))
                    .col(big_integer(UserRole::GrantedAtMs))
                    .primary_key(Index::create().col(UserRole::UserId).col(UserRole::Role))
                    .foreign_key(&mut fk("fk_user_role_user", (UserRole::Table, UserRole::UserId), (AppUser::Table, AppUser::Id), ForeignKeyAction::Cascade))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(LoginSession::Table)
                    .col(string_len(LoginSession::Id, 36).primary_key())
                    .col(string_len(LoginSession::UserId, 36))
                    .col(big_integer(LoginSession::CreatedAtMs))
                    .col(big_integer(LoginSession::LastSeenMs))
                    .col(big_integer(LoginSession::ExpiresAtMs))
                    .col(big_integer_null(LoginSession::RevokedAtMs))
                    .col(string_len(LoginSession::ClientAddress, 64))
                    .col(string_len(LoginSession::UserAgent, 200))
                    .foreign_key(&mut fk("fk_login_session_user", (LoginSession::Table, LoginSession::UserId), (AppUser::Table, AppUser::Id), ForeignKeyAction::Cascade))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_login_session_user")
                    .table(LoginSession::Table)
                    .col(LoginSession::UserId)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(LoginThrottle::Table)
                    .col(string_len(LoginThrottle::Key, 80).primary_key())
                    .col(integer(LoginThrottle::Failures))
                    .col(big_integer_null(LoginThrottle::LockedUntilMs))
                    .col(big_integer(LoginThrottle::UpdatedAtMs))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(OneTimeToken::Table)
                    .col(string_len(OneTimeToken::TokenHash, 64).primary_key())
                    .col(string_len(OneTimeToken::Purpose, 24))
                    .col(string_len_null(OneTimeToken::UserId, 36))
                    .col(string_len_null(OneTimeToken::PatientId, 36))
                    .col(string_len_null(OneTimeToken::IssuedBy, 36))
                    .col(big_integer(OneTimeToken::CreatedAtMs))
                    .col(big_integer(OneTimeToken::ExpiresAtMs))
                    .col(big_integer_null(OneTimeToken::UsedAtMs))
                    .foreign_key(&mut fk("fk_one_time_token_user", (OneTimeToken::Table, OneTimeToken::UserId), (AppUser::Table, AppUser::Id), ForeignKeyAction::Cascade))
                    .foreign_key(&mut fk("fk_one_time_token_patient", (OneTimeToken::Table, OneTimeToken::PatientId), (Patient::Table, Patient::Id), ForeignKeyAction::Cascade))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(ExternalIdentity::Table)
                    .col(string_len(ExternalIdentity::Issuer, 255))
                    .col(string_len(ExternalIdentity::Subject, 255))
                    .col(string_len(ExternalIdentity::UserId, 36))
                    .col(big_integer(ExternalIdentity::LinkedAtMs))
                    .primary_key(
                        Index::create().col(ExternalIdentity::Issuer).col(ExternalIdentity::Subject),
                    )
                    .foreign_key(&mut fk("fk_external_identity_user", (ExternalIdentity::Table, ExternalIdentity::UserId), (AppUser::Table, AppUser::Id), ForeignKeyAction::Cascade))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(IdentityClaim::Table)
                    .col(string_len(IdentityClaim::UserId, 36).primary_key())
                    .col(string_len(IdentityClaim::FullName, 100))
                    .col(string_len(IdentityClaim::BirthDate, 10))
                    .col(string_len_null(IdentityClaim::Phone, 32))
                    .col(big_integer(IdentityClaim::CreatedAtMs))
                    .foreign_key(&mut fk("fk_identity_claim_user", (IdentityClaim::Table, IdentityClaim::UserId), (AppUser::Table, AppUser::Id), ForeignKeyAction::Cascade))
                    .to_owned(),
            )
            .await?;

        // The audit trail deliberately has no foreign keys: it must outlive what it describes.
        manager
            .create_table(
                Table::create()
                    .table(AuditEvent::Table)
                    .col(big_integer(AuditEvent::Seq).primary_key())
                    .col(big_integer(AuditEvent::OccurredAtMs))
                    .col(string_len_null(AuditEvent::ActorUserId, 36))
                    .col(string_len_null(AuditEvent::OnBehalfOf, 36))
                    .col(string_len_null(AuditEvent::PatientId, 36))
                    .col(string_len(AuditEvent::Action, 40))
                    .col(string_len_null(AuditEvent::EntityType, 40))
                    .col(string_len_null(AuditEvent::EntityId, 64))
                    .col(string_len(AuditEvent::Outcome, 16))
                    .col(string_len_null(AuditEvent::Detail, 200))
                    .col(string_len_null(AuditEvent::RequestId, 64))
                    .col(string_len_null(AuditEvent::ClientAddress, 64))
                    .col(string_len(AuditEvent::PrevHash, 64))
                    .col(string_len(AuditEvent::Hash, 64))
                    .to_owned(),
            )
            .await?;
        for (name, column) in [
            ("idx_audit_event_time", AuditEvent::OccurredAtMs),
            ("idx_audit_event_patient", AuditEvent::PatientId),
            ("idx_audit_event_actor", AuditEvent::ActorUserId),
        ] {
            manager
                .create_index(Index::create().name(name).table(AuditEvent::Table).col(column).to_owned())
                .await?;
        }

        // One row naming the end of the chain. Every writer updates it first, which serializes
        // writers (a row lock on PostgreSQL, the write lock on SQLite) across all servers.
        manager
            .create_table(
                Table::create()
                    .table(AuditHead::Table)
                    .col(integer(AuditHead::Id).primary_key())
                    .col(big_integer(AuditHead::LastSeq))
                    .col(string_len(AuditHead::LastHash, 64))
                    .to_owned(),
            )
            .await?;
        manager
            .exec_stmt(
                Query::insert()
                    .into_table(AuditHead::Table)
                    .columns([AuditHead::Id, AuditHead::LastSeq, AuditHead::LastHash])
                    .values_panic([1.into(), 0i64.into(), GENESIS_HASH.into()])
                    .to_owned(),
            )
            .await?;

        if manager.get_database_backend() == DatabaseBackend::Postgres {
            // ONC 170.315(d)(2): the audit log cannot be altered. The application's own database
            // role is refused UPDATE, DELETE and TRUNCATE on the trail; the hash chain catches
            // whatever a superuser does around this.
            let db = manager.get_connection();
            db.execute_unprepared(
                "CREATE FUNCTION audit_event_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$ \
                 BEGIN RAISE EXCEPTION 'audit_event is append-only'; END $$",
            )
            .await?;
            db.execute_unprepared(
                "CREATE TRIGGER audit_event_append_only BEFORE UPDATE OR DELETE ON audit_event \
                 FOR EACH ROW EXECUTE FUNCTION audit_event_refuse_change()",
            )
            .await?;
            db.execute_unprepared(
                "CREATE TRIGGER audit_event_no_truncate BEFORE TRUNCATE ON audit_event \
                 FOR EACH STATEMENT EXECUTE FUNCTION audit_event_refuse_change()",
            )
            .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() == DatabaseBackend::Postgres {
            let db = manager.get_connection();
            db.execute_unprepared("DROP TRIGGER IF EXISTS audit_event_no_truncate ON audit_event").await?;
            db.execute_unprepared("DROP TRIGGER IF EXISTS audit_event_append_only ON audit_event").await?;
            db.execute_unprepared("DROP FUNCTION IF EXISTS audit_event_refuse_change()").await?;
        }
        for table in [
            AuditHead::Table.into_iden(),
            AuditEvent::Table.into_iden(),
            IdentityClaim::Table.into_iden(),
            ExternalIdentity::Table.into_iden(),
            OneTimeToken::Table.into_iden(),
            LoginThrottle::Table.into_iden(),
            LoginSession::Table.into_iden(),
            UserRole::Table.into_iden(),
            AppUser::Table.into_iden(),
            Patient::Table.into_iden(),
        ] {
            manager.drop_table(Table::drop().table(table).to_owned()).await?;
        }
        Ok(())
    }
}
