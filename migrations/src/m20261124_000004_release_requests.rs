//! Release of information: requests for copies and every transition of each (who, when, from,
//! to, note). A request's number (`R-1042`) is what patients and staff quote; its dates are ISO
//! `YYYY-MM-DD` text (the legal clock counts calendar days).

use crate::fk;
use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Patient {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum ReleaseRequest {
    Table,
    Id,
    Number,
    PatientId,
    RequesterUserId,
    OnBehalfOf,
    Status,
    Scope,
    Formats,
    RecipientKind,
    RecipientName,
    RecipientAddress,
    Purpose,
    FeeCents,
    ReceivedOn,
    DueOn,
    Extended,
    ExtensionReason,
    AssignedTo,
    CreatedAtMs,
    UpdatedAtMs,
}

#[derive(DeriveIden)]
enum ReleaseEvent {
    Table,
    Id,
    RequestId,
    AtMs,
    ActorUserId,
    ActorKind,
    FromStatus,
    ToStatus,
    Note,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(ReleaseRequest::Table)
                    .col(string_len(ReleaseRequest::Id, 36).primary_key())
                    .col(big_integer_uniq(ReleaseRequest::Number))
                    .col(string_len(ReleaseRequest::PatientId, 36))
                    .col(string_len(ReleaseRequest::RequesterUserId, 36))
                    .col(string_len_null(ReleaseRequest::OnBehalfOf, 36))
                    .col(string_len(ReleaseRequest::Status, 32))
                    .col(text(ReleaseRequest::Scope))
                    .col(string_len(ReleaseRequest::Formats, 32))
                    .col(string_len(ReleaseRequest::RecipientKind, 16))
                    .col(string_len_null(ReleaseRequest::RecipientName, 200))
                    .col(string_len_null(ReleaseRequest::RecipientAddress, 500))
                    .col(string_len_null(ReleaseRequest::Purpose, 500))
                    .col(integer(ReleaseRequest::FeeCents))
                    .col(string_len(ReleaseRequest::ReceivedOn, 10))
                    .col(string_len(ReleaseRequest::DueOn, 10))
                    .col(boolean(ReleaseRequest::Extended))
                    .col(text_null(ReleaseRequest::ExtensionReason))
                    .col(string_len_null(ReleaseRequest::AssignedTo, 36))
                    .col(big_integer(ReleaseRequest::CreatedAtMs))
                    .col(big_integer(ReleaseRequest::UpdatedAtMs))
                    .foreign_key(&mut fk("fk_release_request_patient", (ReleaseRequest::Table, ReleaseRequest::PatientId), (Patient::Table, Patient::Id), ForeignKeyAction::Restrict))
                    .to_owned(),
            )
            .await?;
        // The queue: by status and due date; a patient's own list.
        manager
            .create_index(Index::create().name("idx_release_request_queue").table(ReleaseRequest::Table).col(ReleaseRequest::Status).col(ReleaseRequest::DueOn).to_owned())
            .await?;
        manager
            .create_index(Index::create().name("idx_release_request_patient").table(ReleaseRequest::Table).col(ReleaseRequest::PatientId).col(ReleaseRequest::CreatedAtMs).to_owned())
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(ReleaseEvent::Table)
                    .col(string_len(ReleaseEvent::Id, 36).primary_key())
                    .col(string_len(ReleaseEvent::RequestId, 36))
                    .col(big_integer(ReleaseEvent::AtMs))
                    .col(string_len_null(ReleaseEvent::ActorUserId, 36))
                    .col(string_len(ReleaseEvent::ActorKind, 16))
                    .col(string_len_null(ReleaseEvent::FromStatus, 32))
                    .col(string_len(ReleaseEvent::ToStatus, 32))
                    .col(text_null(ReleaseEvent::Note))
                    .foreign_key(&mut fk("fk_release_event_request", (ReleaseEvent::Table, ReleaseEvent::RequestId), (ReleaseRequest::Table, ReleaseRequest::Id), ForeignKeyAction::Restrict))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(Index::create().name("idx_release_event_request").table(ReleaseEvent::Table).col(ReleaseEvent::RequestId).col(ReleaseEvent::AtMs).to_owned())
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(ReleaseEvent::Table).to_owned()).await?;
        manager.drop_table(Table::drop().table(ReleaseRequest::Table).to_owned()).await?;
        Ok(())
    }
}
