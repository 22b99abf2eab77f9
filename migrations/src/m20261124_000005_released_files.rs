//! Release of information, the decision and its files: what HIM decided for a request (approve,
//! approve in part, deny; which sensitive categories were withheld and on what legal basis; the
//! denial grounds), each file the portal produced (the PDF and FHIR copies, the denial letter, the
//! signed authorization), stored encrypted (AES-256-GCM) in the database so every server instance
//! can serve it; the signature of an authorization (45 CFR 164.508); the passcode link a third
//! party opens; and the accounting of disclosures (45 CFR 164.528), append-only.

use crate::fk;
use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum ReleaseRequest {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum ReleaseDecision {
    Table,
    Id,
    RequestId,
    DecidedByUserId,
    Decision,
    Exclusions,
    Grounds,
    Note,
    AtMs,
}

#[derive(DeriveIden)]
enum ReleaseFile {
    Table,
    Id,
    RequestId,
    Kind,
    FileName,
    ContentType,
    Size,
    Sha256,
    Pages,
    KeyId,
    Nonce,
    Ciphertext,
    CreatedAtMs,
    ExpiresAtMs,
    Downloads,
}

#[derive(DeriveIden)]
enum ReleaseAuthorization {
    Table,
    Id,
    RequestId,
    SignerName,
    SignerUserId,
    SignedAtMs,
    ClientAddress,
    Description,
    RecipientName,
    RecipientAddress,
    Purpose,
    ExpiresOn,
}

#[derive(DeriveIden)]
enum ReleaseLink {
    Table,
    Id,
    RequestId,
    TokenHash,
    PasscodeHash,
    PasscodeKeyId,
    PasscodeNonce,
    PasscodeSealed,
    ExpiresAtMs,
    FailedAttempts,
    LockedUntilMs,
    OpenedCount,
    CreatedAtMs,
}

#[derive(DeriveIden)]
enum Disclosure {
    Table,
    Id,
    PatientId,
    RequestId,
    DisclosedOn,
    RecipientName,
    RecipientAddress,
    Description,
    Purpose,
    Accountable,
    Kind,
    CorrectsId,
    RecordedByUserId,
    CreatedAtMs,
}

#[derive(DeriveIden)]
enum Notification {
    Table,
    Id,
    UserId,
    RequestId,
    Message,
    CreatedAtMs,
    ReadAtMs,
    EmailedAtMs,
}

#[derive(DeriveIden)]
enum Patient {
    Table,
    Id,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(ReleaseDecision::Table)
                    .col(string_len(ReleaseDecision::Id, 36).primary_key())
                    .col(string_len(ReleaseDecision::RequestId, 36))
                    .col(string_len(ReleaseDecision::DecidedByUserId, 36))
                    .col(string_len(ReleaseDecision::Decision, 32))
                    .col(text(ReleaseDecision::Exclusions))
                    .col(text(ReleaseDecision::Grounds))
                    .col(text_null(ReleaseDecision::Note))
                    .col(big_integer(ReleaseDecision::AtMs))
                    .foreign_key(&mut fk("fk_release_decision_request", (ReleaseDecision::Table, ReleaseDecision::RequestId), (ReleaseRequest::Table, ReleaseRequest::Id), ForeignKeyAction::Restrict))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(Index::create().name("idx_release_decision_request").table(ReleaseDecision::Table).col(ReleaseDecision::RequestId).col(ReleaseDecision::AtMs).to_owned())
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(ReleaseFile::Table)
                    .col(string_len(ReleaseFile::Id, 36).primary_key())
                    .col(string_len(ReleaseFile::RequestId, 36))
                    .col(string_len(ReleaseFile::Kind, 32))
                    .col(string_len(ReleaseFile::FileName, 200))
                    .col(string_len(ReleaseFile::ContentType, 100))
                    .col(big_integer(ReleaseFile::Size))
                    .col(string_len(ReleaseFile::Sha256, 64))
                    .col(integer_null(ReleaseFile::Pages))
                    .col(string_len(ReleaseFile::KeyId, 64))
                    .col(blob(ReleaseFile::Nonce))
                    .col(blob(ReleaseFile::Ciphertext))
                    .col(big_integer(ReleaseFile::CreatedAtMs))
                    .col(big_integer(ReleaseFile::ExpiresAtMs))
                    .col(integer(ReleaseFile::Downloads))
                    .foreign_key(&mut fk("fk_release_file_request", (ReleaseFile::Table, ReleaseFile::RequestId), (ReleaseRequest::Table, ReleaseRequest::Id), ForeignKeyAction::Restrict))
                    .to_owned(),
            )
            .await?;
        // One file of each kind per request: releasing twice cannot store two copies.
        manager
            .create_index(Index::create().name("idx_release_file_kind").table(ReleaseFile::Table).col(ReleaseFile::RequestId).col(ReleaseFile::Kind).unique().to_owned())
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(ReleaseAuthorization::Table)
                    .col(string_len(ReleaseAuthorization::Id, 36).primary_key())
                    .col(string_len_uniq(ReleaseAuthorization::RequestId, 36))
                    .col(string_len(ReleaseAuthorization::SignerName, 200))
                    .col(string_len(ReleaseAuthorization::SignerUserId, 36))
                    .col(big_integer(ReleaseAuthorization::SignedAtMs))
                    .col(string_len(ReleaseAuthorization::ClientAddress, 64))
                    .col(text(ReleaseAuthorization::Description))
                    .col(string_len(ReleaseAuthorization::RecipientName, 200))
                    .col(string_len(ReleaseAuthorization::RecipientAddress, 500))
                    .col(string_len(ReleaseAuthorization::Purpose, 500))
                    .col(string_len(ReleaseAuthorization::ExpiresOn, 10))
                    .foreign_key(&mut fk("fk_release_authorization_request", (ReleaseAuthorization::Table, ReleaseAuthorization::RequestId), (ReleaseRequest::Table, ReleaseRequest::Id), ForeignKeyAction::Restrict))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(ReleaseLink::Table)
                    .col(string_len(ReleaseLink::Id, 36).primary_key())
                    .col(string_len_uniq(ReleaseLink::RequestId, 36))
                    .col(string_len_uniq(ReleaseLink::TokenHash, 64))
                    .col(string_len(ReleaseLink::PasscodeHash, 64))
                    .col(string_len(ReleaseLink::PasscodeKeyId, 64))
                    .col(blob(ReleaseLink::PasscodeNonce))
                    .col(blob(ReleaseLink::PasscodeSealed))
                    .col(big_integer(ReleaseLink::ExpiresAtMs))
                    .col(integer(ReleaseLink::FailedAttempts))
                    .col(big_integer(ReleaseLink::LockedUntilMs))
                    .col(integer(ReleaseLink::OpenedCount))
                    .col(big_integer(ReleaseLink::CreatedAtMs))
                    .foreign_key(&mut fk("fk_release_link_request", (ReleaseLink::Table, ReleaseLink::RequestId), (ReleaseRequest::Table, ReleaseRequest::Id), ForeignKeyAction::Restrict))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Disclosure::Table)
                    .col(string_len(Disclosure::Id, 36).primary_key())
                    .col(string_len(Disclosure::PatientId, 36))
                    .col(string_len_null(Disclosure::RequestId, 36))
                    .col(string_len(Disclosure::DisclosedOn, 10))
                    .col(string_len(Disclosure::RecipientName, 200))
                    .col(string_len_null(Disclosure::RecipientAddress, 500))
                    .col(text(Disclosure::Description))
                    .col(string_len(Disclosure::Purpose, 500))
                    .col(boolean(Disclosure::Accountable))
                    .col(string_len(Disclosure::Kind, 16))
                    .col(string_len_null(Disclosure::CorrectsId, 36))
                    .col(string_len_null(Disclosure::RecordedByUserId, 36))
                    .col(big_integer(Disclosure::CreatedAtMs))
                    .foreign_key(&mut fk("fk_disclosure_patient", (Disclosure::Table, Disclosure::PatientId), (Patient::Table, Patient::Id), ForeignKeyAction::Restrict))
                    .to_owned(),
            )
            .await?;
        // In-portal messages about a request, and the mail outbox (`emailed_at_ms` empty: to send).
        manager
            .create_table(
                Table::create()
                    .table(Notification::Table)
                    .col(string_len(Notification::Id, 36).primary_key())
                    .col(string_len(Notification::UserId, 36))
                    .col(string_len_null(Notification::RequestId, 36))
                    .col(string_len(Notification::Message, 500))
                    .col(big_integer(Notification::CreatedAtMs))
                    .col(big_integer_null(Notification::ReadAtMs))
                    .col(big_integer_null(Notification::EmailedAtMs))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(Index::create().name("idx_notification_user").table(Notification::Table).col(Notification::UserId).col(Notification::CreatedAtMs).to_owned())
            .await?;
        // A patient's accounting, newest first.
        manager
            .create_index(Index::create().name("idx_disclosure_patient").table(Disclosure::Table).col(Disclosure::PatientId).col(Disclosure::DisclosedOn).to_owned())
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(Notification::Table).to_owned()).await?;
        manager.drop_table(Table::drop().table(Disclosure::Table).to_owned()).await?;
        manager.drop_table(Table::drop().table(ReleaseLink::Table).to_owned()).await?;
        manager.drop_table(Table::drop().table(ReleaseAuthorization::Table).to_owned()).await?;
        manager.drop_table(Table::drop().table(ReleaseFile::Table).to_owned()).await?;
        manager.drop_table(Table::drop().table(ReleaseDecision::Table).to_owned()).await?;
        Ok(())
    }
}
