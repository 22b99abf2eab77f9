//! Requests for copies through the access context: a patient submits one for their own record,
//! follows it and may cancel it before release; HIM staff work the queue and move each request
//! through the lifecycle (`domain::release::transition`). Every transition is stored with actor,
//! time and note, and audited; another patient's request answers 404.

use super::{AccessContext, db_failed};
use crate::backend::audit::{self, AuditAction, Outcome};
use crate::backend::db::{now_ms, write_transaction};
use crate::backend::policy::{Action, Target};
use crate::domain::release::{self, Actor, Clock, Event, NewRequest, RequestView, Status, TimelineRow};
use crate::domain::{IsoDate, Role, format_utc_minutes};
use crate::error::AppError;
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};

pub(super) mod rows {
    pub mod release_request {
        use sea_orm::entity::prelude::*;

        #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
        #[sea_orm(table_name = "release_request")]
        pub struct Model {
            #[sea_orm(primary_key, auto_increment = false)]
            pub id: String,
            pub number: i64,
            pub patient_id: String,
            pub requester_user_id: String,
            pub on_behalf_of: Option<String>,
            pub status: String,
            pub scope: String,
            pub formats: String,
            pub recipient_kind: String,
            pub recipient_name: Option<String>,
            pub recipient_address: Option<String>,
            pub purpose: Option<String>,
            pub fee_cents: i32,
            pub received_on: String,
            pub due_on: String,
            pub extended: bool,
            pub extension_reason: Option<String>,
            pub assigned_to: Option<String>,
            pub created_at_ms: i64,
            pub updated_at_ms: i64,
        }

        #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
        pub enum Relation {}

        impl ActiveModelBehavior for ActiveModel {}
    }

    pub mod release_event {
        use sea_orm::entity::prelude::*;

        #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
        #[sea_orm(table_name = "release_event")]
        pub struct Model {
            #[sea_orm(primary_key, auto_increment = false)]
            pub id: String,
            pub request_id: String,
            pub at_ms: i64,
            pub actor_user_id: Option<String>,
            pub actor_kind: String,
            pub from_status: Option<String>,
            pub to_status: String,
            pub note: Option<String>,
        }

        #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
        pub enum Relation {}

        impl ActiveModelBehavior for ActiveModel {}
    }

    pub mod release_decision {
        use sea_orm::entity::prelude::*;

        #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
        #[sea_orm(table_name = "release_decision")]
        pub struct Model {
            #[sea_orm(primary_key, auto_increment = false)]
            pub id: String,
            pub request_id: String,
            pub decided_by_user_id: String,
            pub decision: String,
            /// JSON list of `domain::release::Withheld`.
            pub exclusions: String,
            /// JSON list of denial-ground codes.
            pub grounds: String,
            pub note: Option<String>,
            pub at_ms: i64,
        }

        #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
        pub enum Relation {}

        impl ActiveModelBehavior for ActiveModel {}
    }

    pub mod release_file {
        use sea_orm::entity::prelude::*;

        #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
        #[sea_orm(table_name = "release_file")]
        pub struct Model {
            #[sea_orm(primary_key, auto_increment = false)]
            pub id: String,
            pub request_id: String,
            pub kind: String,
            pub file_name: String,
            pub content_type: String,
            pub size: i64,
            pub sha256: String,
            pub pages: Option<i32>,
            pub key_id: String,
            pub nonce: Vec<u8>,
            pub ciphertext: Vec<u8>,
            pub created_at_ms: i64,
            pub expires_at_ms: i64,
            pub downloads: i32,
        }

        #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
        pub enum Relation {}

        impl ActiveModelBehavior for ActiveModel {}
    }
}

use rows::{release_event, release_request};

fn actor_kind(actor: Actor) -> &'static str {
    match actor {
        Actor::Requester => "requester",
        Actor::HimStaff => "him_staff",
        Actor::Reviewer => "reviewer",
        Actor::System => "system",
    }
}

pub(super) fn today() -> IsoDate {
    let ms = now_ms();
    let text = crate::domain::format_utc_seconds(ms);
    IsoDate::parse(&text[..10]).unwrap_or_else(|_| unreachable!("a formatted date parses"))
}

pub(super) fn describe_scope(scope: &release::Scope) -> String {
    let what = if scope.sections.is_empty() {
        "The whole record".to_string()
    } else {
        scope.sections.iter().map(|s| s.title()).collect::<Vec<_>>().join(", ")
    };
    match (scope.from, scope.to) {
        (Some(f), Some(t)) => format!("{what}, {f} to {t}"),
        (Some(f), None) => format!("{what}, from {f}"),
        (None, Some(t)) => format!("{what}, until {t}"),
        (None, None) => what,
    }
}

impl AccessContext {
    pub(super) fn view(&self, row: release_request::Model, events: Vec<release_event::Model>) -> RequestView {
        let status = Status::parse(&row.status).unwrap_or(Status::Submitted);
        let received = IsoDate::parse(&row.received_on).unwrap_or_else(|_| today());
        let due = IsoDate::parse(&row.due_on).unwrap_or(received);
        let clock = Clock { received, due, extended: row.extended };
        let scope: Option<release::Scope> = serde_json::from_str(&row.scope).ok();
        let formats: Vec<&str> = row.formats.split(',').filter(|f| !f.is_empty()).collect();
        RequestView {
            number: format!("R-{}", row.number),
            id: row.id,
            patient_id: row.patient_id,
            status: status.as_str().into(),
            status_label: status.label().into(),
            received: received.to_string(),
            due: due.to_string(),
            days_left: clock.days_left(today()),
            overdue: clock.overdue(status, today()),
            scope: scope.as_ref().map(describe_scope).unwrap_or_default(),
            formats: formats.iter().map(|f| if *f == "pdf" { "PDF" } else { "FHIR data" }).collect::<Vec<_>>().join(" and "),
            fee: if row.fee_cents == 0 { "Free".into() } else { format!("${}.{:02}", row.fee_cents / 100, row.fee_cents % 100) },
            can_cancel: release::transition(status, Event::Cancel, Actor::Requester, false).is_ok(),
            timeline: events
                .into_iter()
                .map(|e| TimelineRow {
                    at: format_utc_minutes(e.at_ms),
                    who: match e.actor_kind.as_str() {
                        "requester" => "You".into(),
                        "him_staff" => "Records team".into(),
                        "reviewer" => "Reviewer".into(),
                        _ => "Portal".into(),
                    },
                    status: Status::parse(&e.to_status).map(|s| s.label()).unwrap_or("").into(),
                    note: e.note,
                })
                .collect(),
            files: Vec::new(),
            withheld: Vec::new(),
            grounds: Vec::new(),
            can_request_review: false,
        }
    }

    async fn events_of(&self, request_id: &str) -> Result<Vec<release_event::Model>, AppError> {
        release_event::Entity::find()
            .filter(release_event::Column::RequestId.eq(request_id))
            .order_by_asc(release_event::Column::AtMs)
            .all(&self.db)
            .await
            .map_err(db_failed("reading a request's timeline failed"))
    }

    /// The signed-in patient asks for a copy of their own record, for themselves. The clock
    /// starts today (45 CFR 164.524(b)(2)); the fee is shown before and kept.
    pub async fn submit_request(&self, request: NewRequest, response_days: i64, self_fee_cents: u32) -> Result<RequestView, AppError> {
        let patient_id = self.principal.patient_id.clone().ok_or(AppError::NotFound)?;
        self.authorize(Action::RequestCopy, Target::Patient(&patient_id), AuditAction::ReleaseRequest).await?;
        let received = today();
        let clock = Clock::start(received, response_days).ok_or(AppError::BadRequest)?;
        let fee = release::fee_cents(release::RecipientKind::Myself, self_fee_cents, 0);
        let failed = db_failed("saving a request failed");
        let txn = write_transaction(&self.db).await.map_err(failed)?;
        let last: Option<i64> = release_request::Entity::find()
            .select_only()
            .column_as(release_request::Column::Number.max(), "max")
            .into_tuple::<Option<i64>>()
            .one(&txn)
            .await
            .map_err(db_failed("numbering a request failed"))?
            .flatten();
        let id = uuid::Uuid::new_v4().to_string();
        let now = now_ms();
        let formats = [request.formats.pdf.then_some("pdf"), request.formats.fhir.then_some("fhir")].into_iter().flatten().collect::<Vec<_>>().join(",");
        release_request::Entity::insert(release_request::ActiveModel {
            id: Set(id.clone()),
            number: Set(last.unwrap_or(1000) + 1),
            patient_id: Set(patient_id.clone()),
            requester_user_id: Set(self.principal.user_id.clone()),
            on_behalf_of: Set(None),
            status: Set(Status::Submitted.as_str().into()),
            scope: Set(serde_json::to_string(&request.scope).unwrap_or_default()),
            formats: Set(formats),
            recipient_kind: Set("myself".into()),
            recipient_name: Set(None),
            recipient_address: Set(None),
            purpose: Set(None),
            fee_cents: Set(i32::try_from(fee).unwrap_or(i32::MAX)),
            received_on: Set(clock.received.to_string()),
            due_on: Set(clock.due.to_string()),
            extended: Set(false),
            extension_reason: Set(None),
            assigned_to: Set(None),
            created_at_ms: Set(now),
            updated_at_ms: Set(now),
        })
        .exec_without_returning(&txn)
        .await
        .map_err(db_failed("saving a request failed"))?;
        release_event::Entity::insert(release_event::ActiveModel {
            id: Set(uuid::Uuid::new_v4().to_string()),
            request_id: Set(id.clone()),
            at_ms: Set(now),
            actor_user_id: Set(Some(self.principal.user_id.clone())),
            actor_kind: Set(actor_kind(Actor::Requester).into()),
            from_status: Set(None),
            to_status: Set(Status::Submitted.as_str().into()),
            note: Set(None),
        })
        .exec_without_returning(&txn)
        .await
        .map_err(db_failed("saving a request failed"))?;
        audit::record(&txn, self.event(AuditAction::ReleaseRequest, Outcome::Success).patient(&patient_id).entity("release_request", &id).detail("submitted"))
            .await
            .map_err(db_failed("auditing a request failed"))?;
        txn.commit().await.map_err(db_failed("saving a request failed"))?;
        self.copy_request(&id).await
    }

    /// One request with its timeline: the patient's own, or any for HIM staff; else 404.
    pub async fn copy_request(&self, id: &str) -> Result<RequestView, AppError> {
        let row = release_request::Entity::find_by_id(id.to_string()).one(&self.db).await.map_err(db_failed("reading a request failed"))?;
        let Some(row) = row else { return Err(AppError::NotFound) };
        self.authorize(Action::ReadPatientRecord, Target::Patient(&row.patient_id), AuditAction::ReleaseRequest).await?;
        let events = self.events_of(&row.id).await?;
        let mut view = self.view(row, events);
        self.add_release_details(&mut view).await?;
        Ok(view)
    }

    /// The signed-in patient's requests, newest first.
    pub async fn my_requests(&self) -> Result<Vec<RequestView>, AppError> {
        let Some(patient_id) = self.principal.patient_id.clone() else { return Ok(Vec::new()) };
        self.authorize(Action::ReadPatientRecord, Target::Patient(&patient_id), AuditAction::ReleaseRequest).await?;
        let rows = release_request::Entity::find()
            .filter(release_request::Column::PatientId.eq(patient_id.as_str()))
            .order_by_desc(release_request::Column::CreatedAtMs)
            .limit(100)
            .all(&self.db)
            .await
            .map_err(db_failed("listing requests failed"))?;
        let mut out = Vec::with_capacity(rows.len());
        for row in rows {
            let events = self.events_of(&row.id).await?;
            out.push(self.view(row, events));
        }
        Ok(out)
    }

    /// The HIM queue: open requests, the nearest due date first.
    pub async fn request_queue(&self) -> Result<Vec<RequestView>, AppError> {
        self.require(Action::WorkRequests, AuditAction::ReleaseRequest).await?;
        let open: Vec<&str> = Status::ALL.iter().filter(|s| !s.is_final()).map(|s| s.as_str()).collect();
        let rows = release_request::Entity::find()
            .filter(release_request::Column::Status.is_in(open))
            .order_by_asc(release_request::Column::DueOn)
            .limit(500)
            .all(&self.db)
            .await
            .map_err(db_failed("listing the queue failed"))?;
        Ok(rows.into_iter().map(|r| self.view(r, Vec::new())).collect())
    }

    /// Moves a request on: the requester cancels; HIM staff check, review, decide, release,
    /// close. Refused transitions change nothing and are audited as such.
    pub async fn advance_request(&self, id: &str, event: Event, note: Option<String>) -> Result<RequestView, AppError> {
        let row = release_request::Entity::find_by_id(id.to_string()).one(&self.db).await.map_err(db_failed("reading a request failed"))?;
        let Some(row) = row else { return Err(AppError::NotFound) };
        let own = self.principal.patient_id.as_deref() == Some(row.patient_id.as_str()) && row.requester_user_id == self.principal.user_id;
        let actor = if own && event == Event::Cancel {
            Actor::Requester
        } else if self.principal.roles.contains(&Role::HimStaff) {
            self.authorize(Action::WorkRequests, Target::Site, AuditAction::ReleaseRequest).await?;
            Actor::HimStaff
        } else {
            // Someone else's request, or a step only staff take: as if it did not exist.
            self.authorize(Action::WorkRequests, Target::Site, AuditAction::ReleaseRequest).await?;
            return Err(AppError::NotFound);
        };
        let (from, to) = self.check_transition(&row, event, actor).await?;
        let note = note.map(|n| n.trim().chars().take(2000).collect::<String>()).filter(|n| !n.is_empty());
        let txn = write_transaction(&self.db).await.map_err(db_failed("updating a request failed"))?;
        self.move_in(&txn, &row, from, to, actor, note).await?;
        txn.commit().await.map_err(db_failed("updating a request failed"))?;
        self.copy_request(id).await
    }

    /// The transition a request takes, inside the caller's transaction: the status update
    /// (conditional on the status read, so two clerks acting at once cannot both win), the
    /// timeline entry and the audit event.
    pub(super) async fn move_in(
        &self,
        txn: &sea_orm::DatabaseTransaction,
        row: &release_request::Model,
        from: Status,
        to: Status,
        actor: Actor,
        note: Option<String>,
    ) -> Result<(), AppError> {
        let now = now_ms();
        let changed = release_request::Entity::update_many()
            .col_expr(release_request::Column::Status, Expr::value(to.as_str()))
            .col_expr(release_request::Column::UpdatedAtMs, Expr::value(now))
            .filter(release_request::Column::Id.eq(row.id.as_str()))
            .filter(release_request::Column::Status.eq(from.as_str()))
            .exec(txn)
            .await
            .map_err(db_failed("updating a request failed"))?;
        if changed.rows_affected != 1 {
            return Err(AppError::Conflict { message: "Someone else changed this request just now. Reload and try again.".into() });
        }
        release_event::Entity::insert(release_event::ActiveModel {
            id: Set(uuid::Uuid::new_v4().to_string()),
            request_id: Set(row.id.clone()),
            at_ms: Set(now),
            actor_user_id: Set(if actor == Actor::System { None } else { Some(self.principal.user_id.clone()) }),
            actor_kind: Set(actor_kind(actor).into()),
            from_status: Set(Some(from.as_str().into())),
            to_status: Set(to.as_str().into()),
            note: Set(note),
        })
        .exec_without_returning(txn)
        .await
        .map_err(db_failed("updating a request failed"))?;
        audit::record(
            txn,
            self.event(AuditAction::ReleaseRequest, Outcome::Success)
                .patient(&row.patient_id)
                .entity("release_request", &row.id)
                .detail(format!("{}->{}", from.as_str(), to.as_str())),
        )
        .await
        .map_err(db_failed("auditing a request failed"))?;
        Ok(())
    }

    /// Checks a transition, auditing a refused one (nothing changes): 409 with the reason.
    pub(super) async fn check_transition(&self, row: &release_request::Model, event: Event, actor: Actor) -> Result<(Status, Status), AppError> {
        let from = Status::parse(&row.status).unwrap_or(Status::Submitted);
        let reviewable = self.denial_is_reviewable(&row.id).await?;
        match release::transition(from, event, actor, reviewable) {
            Ok(to) => Ok((from, to)),
            Err(e) => {
                let refused = self.event(AuditAction::ReleaseRequest, Outcome::Failure).patient(&row.patient_id).entity("release_request", &row.id).detail(format!("refused: {e}"));
                audit::record_alone(&self.db, refused).await.map_err(db_failed("auditing a request failed"))?;
                Err(AppError::Conflict { message: format!("{}: {e}.", format_number(row.number)) })
            }
        }
    }
}

pub(super) fn format_number(number: i64) -> String {
    format!("Request R-{number}")
}
