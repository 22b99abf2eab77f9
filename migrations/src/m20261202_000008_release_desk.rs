//! The HIM release desk (issue 17): every request records how it arrived (`channel`) and who
//! asked (`requester_type`, with the name and address of a requester who has no account), the
//! clerk's checklist of what the release needs (JSON list of item codes), who logged it, the day
//! the copy was provided or the denial sent (the clock runs until then: 45 CFR 164.524(b)(2)),
//! the estimated pages and when the fee was paid, and an idempotency key so a retried intake is
//! not logged twice. The administrator's fee schedule is a table of its own, one row per
//! requester type.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum ReleaseRequest {
    Table,
    Channel,
    RequesterType,
    RequesterName,
    RequesterAddress,
    Checklist,
    LoggedBy,
    ProvidedOn,
    TurnaroundDays,
    Pages,
    PaidAtMs,
    IdempotencyKey,
    OnBehalfOf,
    ReceivedOn,
    DueOn,
}

#[derive(DeriveIden)]
enum FeeSchedule {
    Table,
    RequesterType,
    FlatCents,
    PerPageCents,
    UpdatedBy,
    UpdatedAtMs,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // One column per statement: SQLite adds one at a time.
        let columns = [
            string_len(ReleaseRequest::Channel, 16).default("portal").to_owned(),
            string_len(ReleaseRequest::RequesterType, 24).default("patient").to_owned(),
            string_len_null(ReleaseRequest::RequesterName, 200),
            string_len_null(ReleaseRequest::RequesterAddress, 500),
            text(ReleaseRequest::Checklist).default("[]").to_owned(),
            string_len_null(ReleaseRequest::LoggedBy, 36),
            string_len_null(ReleaseRequest::ProvidedOn, 10),
            integer_null(ReleaseRequest::TurnaroundDays),
            integer(ReleaseRequest::Pages).default(0).to_owned(),
            big_integer_null(ReleaseRequest::PaidAtMs),
            string_len_null(ReleaseRequest::IdempotencyKey, 64),
        ];
        for mut column in columns {
            manager.alter_table(Table::alter().table(ReleaseRequest::Table).add_column(&mut column).to_owned()).await?;
        }
        // Requests a representative filed through the portal are of that type.
        manager
            .exec_stmt(
                Query::update()
                    .table(ReleaseRequest::Table)
                    .value(ReleaseRequest::RequesterType, "representative")
                    .and_where(Expr::col(ReleaseRequest::OnBehalfOf).is_not_null())
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(Index::create().name("idx_release_request_idempotency").table(ReleaseRequest::Table).col(ReleaseRequest::IdempotencyKey).unique().to_owned())
            .await?;
        // The dashboard groups by month received and by requester type: the index covers what
        // its aggregates read, so a million requests are counted from the index alone.
        manager
            .create_index(
                Index::create()
                    .name("idx_release_request_received")
                    .table(ReleaseRequest::Table)
                    .col(ReleaseRequest::ReceivedOn)
                    .col(ReleaseRequest::RequesterType)
                    .col(ReleaseRequest::ProvidedOn)
                    .col(ReleaseRequest::DueOn)
                    .col(ReleaseRequest::TurnaroundDays)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(FeeSchedule::Table)
                    .col(string_len(FeeSchedule::RequesterType, 24).primary_key())
                    .col(integer(FeeSchedule::FlatCents))
                    .col(integer(FeeSchedule::PerPageCents))
                    .col(string_len(FeeSchedule::UpdatedBy, 36))
                    .col(big_integer(FeeSchedule::UpdatedAtMs))
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(FeeSchedule::Table).to_owned()).await?;
        manager.drop_index(Index::drop().name("idx_release_request_received").table(ReleaseRequest::Table).to_owned()).await?;
        manager.drop_index(Index::drop().name("idx_release_request_idempotency").table(ReleaseRequest::Table).to_owned()).await?;
        for column in [
            ReleaseRequest::IdempotencyKey,
            ReleaseRequest::PaidAtMs,
            ReleaseRequest::Pages,
            ReleaseRequest::TurnaroundDays,
            ReleaseRequest::ProvidedOn,
            ReleaseRequest::LoggedBy,
            ReleaseRequest::Checklist,
            ReleaseRequest::RequesterAddress,
            ReleaseRequest::RequesterName,
            ReleaseRequest::RequesterType,
            ReleaseRequest::Channel,
        ] {
            manager.alter_table(Table::alter().table(ReleaseRequest::Table).drop_column(column).to_owned()).await?;
        }
        Ok(())
    }
}
