//! Caregivers (45 CFR 164.502(g)): the grants that let one user act for one patient (kind, scope,
//! start, expiry, who granted it, and how it ended; never deleted, so the patient sees the
//! history), the patient's invitations (single-use, expiring, only the token's hash stored),
//! requests to be recognised as a personal representative with their supporting documents
//! (sealed with AES-256-GCM like released files), and the record of daily jobs, so several
//! servers run the age and expiry rules once a day between them.

use crate::fk;
use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum CaregiverGrant {
    Table,
    Id,
    PatientId,
    UserId,
    Kind,
    ViewScope,
    RequestCopies,
    TrackRequests,
    GrantedBy,
    SourceId,
    StartsAtMs,
    ExpiresAtMs,
    AppliedBand,
    EndedAtMs,
    EndedBy,
    EndReason,
    CreatedAtMs,
}

#[derive(DeriveIden)]
enum CaregiverInvitation {
    Table,
    Id,
    PatientId,
    InvitedBy,
    Email,
    TokenHash,
    ViewScope,
    RequestCopies,
    TrackRequests,
    Days,
    CreatedAtMs,
    ExpiresAtMs,
    Status,
    AcceptedBy,
    FinishedAtMs,
}

#[derive(DeriveIden)]
enum RepresentativeRequest {
    Table,
    Id,
    RequesterUserId,
    Kind,
    PatientName,
    BirthDate,
    Mrn,
    Statement,
    Status,
    PatientId,
    GrantId,
    DecidedBy,
    DecidedAtMs,
    Reason,
    CreatedAtMs,
}

#[derive(DeriveIden)]
enum RepresentativeDocument {
    Table,
    Id,
    RequestId,
    FileName,
    ContentType,
    Size,
    Sha256,
    KeyId,
    Nonce,
    Ciphertext,
    CreatedAtMs,
}

#[derive(DeriveIden)]
enum JobRun {
    Table,
    Name,
    LastRunOn,
    AtMs,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(CaregiverGrant::Table)
                    .col(string_len(CaregiverGrant::Id, 36).primary_key())
                    .col(string_len(CaregiverGrant::PatientId, 36))
                    .col(string_len(CaregiverGrant::UserId, 36))
                    .col(string_len(CaregiverGrant::Kind, 32))
                    .col(string_len(CaregiverGrant::ViewScope, 16))
                    .col(boolean(CaregiverGrant::RequestCopies))
                    .col(boolean(CaregiverGrant::TrackRequests))
                    .col(string_len(CaregiverGrant::GrantedBy, 36))
                    // The invitation or representative request it came from.
                    .col(string_len_null(CaregiverGrant::SourceId, 36))
                    .col(big_integer(CaregiverGrant::StartsAtMs))
                    .col(big_integer_null(CaregiverGrant::ExpiresAtMs))
                    // The age band the daily job last saw, so a change is announced once.
                    .col(string_len(CaregiverGrant::AppliedBand, 16))
                    .col(big_integer_null(CaregiverGrant::EndedAtMs))
                    .col(string_len_null(CaregiverGrant::EndedBy, 36))
                    .col(string_len_null(CaregiverGrant::EndReason, 500))
                    .col(big_integer(CaregiverGrant::CreatedAtMs))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(Index::create().name("idx_caregiver_grant_user").table(CaregiverGrant::Table).col(CaregiverGrant::UserId).col(CaregiverGrant::PatientId).to_owned())
            .await?;
        manager
            .create_index(Index::create().name("idx_caregiver_grant_patient").table(CaregiverGrant::Table).col(CaregiverGrant::PatientId).to_owned())
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(CaregiverInvitation::Table)
                    .col(string_len(CaregiverInvitation::Id, 36).primary_key())
                    .col(string_len(CaregiverInvitation::PatientId, 36))
                    .col(string_len(CaregiverInvitation::InvitedBy, 36))
                    .col(string_len(CaregiverInvitation::Email, 254))
                    .col(string_len(CaregiverInvitation::TokenHash, 64).unique_key())
                    .col(string_len(CaregiverInvitation::ViewScope, 16))
                    .col(boolean(CaregiverInvitation::RequestCopies))
                    .col(boolean(CaregiverInvitation::TrackRequests))
                    .col(integer(CaregiverInvitation::Days))
                    .col(big_integer(CaregiverInvitation::CreatedAtMs))
                    .col(big_integer(CaregiverInvitation::ExpiresAtMs))
                    .col(string_len(CaregiverInvitation::Status, 16))
                    .col(string_len_null(CaregiverInvitation::AcceptedBy, 36))
                    .col(big_integer_null(CaregiverInvitation::FinishedAtMs))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(Index::create().name("idx_caregiver_invitation_patient").table(CaregiverInvitation::Table).col(CaregiverInvitation::PatientId).to_owned())
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(RepresentativeRequest::Table)
                    .col(string_len(RepresentativeRequest::Id, 36).primary_key())
                    .col(string_len(RepresentativeRequest::RequesterUserId, 36))
                    .col(string_len(RepresentativeRequest::Kind, 32))
                    .col(string_len(RepresentativeRequest::PatientName, 200))
                    .col(string_len(RepresentativeRequest::BirthDate, 10))
                    .col(string_len(RepresentativeRequest::Mrn, 64))
                    .col(string_len(RepresentativeRequest::Statement, 2000))
                    .col(string_len(RepresentativeRequest::Status, 16))
                    .col(string_len_null(RepresentativeRequest::PatientId, 36))
                    .col(string_len_null(RepresentativeRequest::GrantId, 36))
                    .col(string_len_null(RepresentativeRequest::DecidedBy, 36))
                    .col(big_integer_null(RepresentativeRequest::DecidedAtMs))
                    .col(string_len_null(RepresentativeRequest::Reason, 500))
                    .col(big_integer(RepresentativeRequest::CreatedAtMs))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(RepresentativeDocument::Table)
                    .col(string_len(RepresentativeDocument::Id, 36).primary_key())
                    .col(string_len(RepresentativeDocument::RequestId, 36))
                    .col(string_len(RepresentativeDocument::FileName, 200))
                    .col(string_len(RepresentativeDocument::ContentType, 100))
                    .col(big_integer(RepresentativeDocument::Size))
                    .col(string_len(RepresentativeDocument::Sha256, 64))
                    .col(string_len(RepresentativeDocument::KeyId, 64))
                    .col(blob(RepresentativeDocument::Nonce))
                    .col(blob(RepresentativeDocument::Ciphertext))
                    .col(big_integer(RepresentativeDocument::CreatedAtMs))
                    .foreign_key(&mut fk("fk_representative_document_request", (RepresentativeDocument::Table, RepresentativeDocument::RequestId), (RepresentativeRequest::Table, RepresentativeRequest::Id), ForeignKeyAction::Restrict))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(JobRun::Table)
                    .col(string_len(JobRun::Name, 64).primary_key())
                    .col(string_len(JobRun::LastRunOn, 10))
                    .col(big_integer(JobRun::AtMs))
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(JobRun::Table).to_owned()).await?;
        manager.drop_table(Table::drop().table(RepresentativeDocument::Table).to_owned()).await?;
        manager.drop_table(Table::drop().table(RepresentativeRequest::Table).to_owned()).await?;
        manager.drop_table(Table::drop().table(CaregiverInvitation::Table).to_owned()).await?;
        manager.drop_table(Table::drop().table(CaregiverGrant::Table).to_owned()).await?;
        Ok(())
    }
}
