//! Requests for copies through the access context: a patient submits one for their own record,
//! follows it and may cancel it before release; HIM staff work the queue and move each request
//! through the lifecycle (`domain::release::transition`). Every transition is stored with actor,
//! time and note, and audited; another patient's request answers 404.

use super::AccessContext;
use crate::backend::audit::{self, AuditAction, Outcome};
use crate::backend::db::{now_ms, write_transaction};
use crate::backend::policy::{Action, Target};
mod copy;
mod desk;
mod files;
mod instant;
mod lead;
mod segment;
pub use desk::{MAX_SCANS, sniff_scan};
use copy::Produced;
pub use copy::{InstantSettings, normalize_code};
pub use files::{LinkNotice, ReleaseSettings};
pub use instant::InstantFile;
use crate::backend::copies;
use crate::backend::error::{BackendError, Stored};
use crate::domain::release::{self, Actor, AuthorizationForm, Clock, Event, NewRequest, RequestView, Status, TimelineRow};
use crate::domain::{IsoDate, Role};
use crate::error::AppError;
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};

use super::rows::{JsonText, release_event, release_request};


/// The specific description an authorization needs (164.508(c)(1)(i)): scope and formats.
fn describe_request(request: &NewRequest) -> String {
    let formats = [request.formats.pdf.then_some("a PDF copy"), request.formats.fhir.then_some("FHIR R4 data")].into_iter().flatten().collect::<Vec<_>>().join(" and ");
    format!("{} ({formats})", request.scope.describe())
}

impl AccessContext {
    pub(super) fn view(&self, row: release_request::Model, events: Vec<release_event::Model>) -> Result<RequestView, AppError> {
        let status = row.status;
        let received = IsoDate::parse(&row.received_on).stored("release_request", "received_on")?;
        let due = IsoDate::parse(&row.due_on).stored("release_request", "due_on")?;
        let clock = Clock { received, due, extended: row.extended };
        let scope: release::Scope = row.scope.0.clone();
        let formats: Vec<&str> = row.formats.split(',').filter(|f| !f.is_empty()).collect();
        Ok(RequestView {
            number: format!("R-{}", row.number),
            id: row.id,
            patient_id: row.patient_id,
            status,
            status_label: status.label().into(),
            received: received.to_string(),
            due: due.to_string(),
            days_left: clock.days_left(self.clock.today()),
            overdue: clock.overdue(status, self.clock.today()),
            scope: scope.describe(),
            formats: formats
                .iter()
                .map(|f| match *f {
                    "pdf" => "PDF",
                    "ccda" => "C-CDA summary",
                    _ => "FHIR data",
                })
                .collect::<Vec<_>>()
                .join(" and "),
            fee: release::fee_text(u32::try_from(row.fee_cents).unwrap_or(0)),
            can_cancel: release::transition(status, Event::Cancel, Actor::Requester, false).is_ok(),
            timeline: events
                .into_iter()
                .map(|e| {
                    Ok(TimelineRow {
                        at: self.clock.minutes(e.at_ms),
                        who: match e.actor_kind {
                            Actor::Requester => "You".into(),
                            Actor::HimStaff => "Records team".into(),
                            Actor::Reviewer => "Reviewer".into(),
                            Actor::System => "Portal".into(),
                        },
                        status: e.to_status.label().into(),
                        note: e.note,
                    })
                })
                .collect::<Result<_, BackendError>>()?,
            files: Vec::new(),
            withheld: Vec::new(),
            grounds: Vec::new(),
            can_request_review: false,
            recipient: match (&row.recipient_name, &row.recipient_address) {
                (Some(n), Some(a)) => format!("{n}, {a}"),
                (Some(n), None) => n.clone(),
                _ => String::new(),
            },
            share: None,
            representative: None,
            assigned_to_me: row.assigned_to.as_deref() == Some(self.principal.user_id.as_str()),
            assignee: row.assigned_to.clone(),
            assignee_id: row.assigned_to.clone(),
            patient_label: String::new(),
            extended: row.extended,
            extension_reason: row.extension_reason.clone(),
            channel: row.channel.label().into(),
            requester_type: row.requester_type,
            requester: String::new(),
            checklist: if !row.channel.logged() { Vec::new() } else { release::intake::checklist_rows(row.requester_type, &row.checklist) },
            waiting_for: if !row.channel.logged() { None } else { release::intake::waiting_for(row.requester_type, &row.requester_type.missing(&row.checklist)) },
            paid: row.paid_at_ms.is_some(),
            accountable: row.requester_type.accountable(),
            segments: Vec::new(),
            receiver: None,
            named: Vec::new(),
            consent: Vec::new(),
            authorization_state: None,
            can_revoke: false,
        })
    }

    async fn events_of(&self, request_id: &str) -> Result<Vec<release_event::Model>, AppError> {
        release_event::Entity::find()
            .filter(release_event::Column::RequestId.eq(request_id))
            .order_by_asc(release_event::Column::AtMs)
            .all(&self.db)
            .await.map_err(AppError::from)
    }

    /// The signed-in patient asks for a copy of their own record: for themselves, or sent to
    /// someone else on an authorization signed here (45 CFR 164.508; typed name, consent box,
    /// time and client address as the signature, kept as a PDF). Errors of the request and of
    /// the authorization come back together; nothing is stored unless all is valid. The clock
    /// starts today (45 CFR 164.524(b)(2)); the fee is shown before and kept.
    #[tracing::instrument(skip_all, fields(action = tracing::field::Empty, patient_id = tracing::field::Empty))]
    pub async fn submit_request(
        &self,
        request: Result<NewRequest, Vec<crate::error::FieldError>>,
        third_party: Option<AuthorizationForm>,
        key: Option<String>,
        today: IsoDate,
        settings: ReleaseSettings<'_>,
    ) -> Result<RequestView, AppError> {
        // A caregiver asks for the person they switched to (45 CFR 164.502(g)), if their grant
        // allows copies; the request keeps both: the requester and on whose behalf.
        let patient_id = self.subject().ok_or(AppError::NotFound)?;
        self.authorize(Action::RequestCopy, Target::Patient(&patient_id), AuditAction::ReleaseRequest).await?;
        // A post retried after its answer was lost answers the request it already filed.
        if let Some(done) = self.filed_with(key.as_deref()).await? {
            return Ok(done);
        }
        let signer = self.display_name(&self.principal.user_id).await?;
        let (request, authorization) = match (request, third_party) {
            (Ok(r), None) => (r, None),
            (Err(fields), None) => return Err(AppError::Validation { fields }),
            (request, Some(mut form)) => {
                form.description = request.as_ref().map(describe_request).unwrap_or_else(|_| "(see the request)".into());
                // What it names is written out in the description the recipient and HIM read.
                if !form.sensitive.is_empty() {
                    let named: Vec<&str> = form.sensitive.iter().map(|c| c.label()).collect();
                    form.description = format!("{}, including: {}", form.description, named.join("; "));
                }
                match (request, form.check(today, &signer)) {
                    (Ok(r), Ok(a)) => (r, Some(a)),
                    (r, a) => {
                        let mut fields = r.err().unwrap_or_default();
                        fields.extend(a.err().unwrap_or_default());
                        return Err(AppError::Validation { fields });
                    }
                }
            }
        };
        let received = today;
        let clock = Clock::start(received, settings.response_days).ok_or_else(AppError::bad_request)?;
        let kind = if authorization.is_some() { release::RecipientKind::ThirdParty } else { release::RecipientKind::Myself };
        let fee = release::fee_cents(kind, settings.self_fee_cents, settings.third_party_fee_cents);
        let txn = write_transaction(&self.db).await?;
        let number = copy::next_request_number(&txn).await?;
        let id = uuid::Uuid::new_v4().to_string();
        let now = now_ms();
        // The signed authorization as a PDF, rendered before anything is stored.
        let authorization_pdf = match &authorization {
            Some(a) => {
                let patient = super::rows::patient_row::Entity::find_by_id(patient_id.clone())
                    .one(&txn)
                    .await?
                    .ok_or(AppError::NotFound)?;
                let facts = copies::AuthorizationFacts {
                    site: settings.site.to_string(),
                    request_number: format!("R-{number}"),
                    patient_name: super::patients::full_name(&patient),
                    birth_date: patient.birth_date,
                    record_number: patient.mrn,
                    description: a.form.description.clone(),
                    recipient_name: a.form.recipient_name.trim().to_string(),
                    recipient_address: a.form.recipient_address.trim().to_string(),
                    purpose: a.form.purpose.trim().to_string(),
                    expires: if a.form.expires_on.trim().is_empty() { a.form.expiry_event.trim().to_string() } else { a.form.expires_on.trim().to_string() },
                    signer: a.form.signature_name.split_whitespace().collect::<Vec<_>>().join(" "),
                    signed_at: self.clock.seconds(now),
                    client_address: self.request.client_address.clone(),
                    representative_authority: a.form.representative_authority.clone(),
                    created_unix: now / 1000,
                };
                let rendered = tokio::task::spawn_blocking(move || copies::pdf::render(copies::authorization_form(&facts), &|_, _| {}))
                    .await??;
                Some(Produced { kind: "authorization", file_name: format!("authorization-R-{number}.pdf"), content_type: "application/pdf", pages: i32::try_from(rendered.pages).ok(), bytes: rendered.bytes })
            }
            None => None,
        };
        let formats = [request.formats.pdf.then_some("pdf"), request.formats.fhir.then_some("fhir")].into_iter().flatten().collect::<Vec<_>>().join(",");
        let form = authorization.as_ref().map(|a| &a.form);
        let inserted = release_request::Entity::insert(release_request::ActiveModel {
            id: Set(id.clone()),
            number: Set(number),
            patient_id: Set(patient_id.clone()),
            requester_user_id: Set(self.principal.user_id.clone()),
            on_behalf_of: Set(self.acting_for.clone()),
            status: Set(Status::Submitted),
            scope: Set(JsonText(request.scope.clone())),
            formats: Set(formats),
            recipient_kind: Set(if form.is_some() { release::RecipientKind::ThirdParty } else { release::RecipientKind::Myself }),
            recipient_name: Set(form.map(|f| f.recipient_name.trim().to_string())),
            recipient_address: Set(form.map(|f| f.recipient_address.trim().to_string())),
            purpose: Set(form.map(|f| f.purpose.trim().to_string())),
            fee_cents: Set(i32::try_from(fee).unwrap_or(i32::MAX)),
            received_on: Set(clock.received.to_string()),
            due_on: Set(clock.due.to_string()),
            extended: Set(false),
            extension_reason: Set(None),
            assigned_to: Set(None),
            created_at_ms: Set(now),
            updated_at_ms: Set(now),
            channel: Set(release::Channel::Portal),
            // The patient, or a caregiver acting for them (164.502(g)).
            requester_type: Set(if self.acting_for.is_some() { release::RequesterType::Representative } else { release::RequesterType::Patient }),
            requester_name: Set(None),
            requester_address: Set(None),
            checklist: Set(JsonText(Vec::new())),
            logged_by: Set(None),
            provided_on: Set(None),
            turnaround_days: Set(None),
            pages: Set(0),
            paid_at_ms: Set(None),
            idempotency_key: Set(key.clone()),
        })
        .exec_without_returning(&txn)
        .await;
        // The same post twice at once: the second waited on the key's unique index and answers
        // what the first filed.
        if let Err(e) = inserted {
            drop(txn);
            return self.filed_meanwhile(e, key.as_deref()).await;
        }
        release_event::Entity::insert(release_event::ActiveModel {
            id: Set(uuid::Uuid::new_v4().to_string()),
            request_id: Set(id.clone()),
            at_ms: Set(now),
            actor_user_id: Set(Some(self.principal.user_id.clone())),
            actor_kind: Set(Actor::Requester),
            from_status: Set(None),
            to_status: Set(Status::Submitted),
            note: Set(form.map(|f| format!("To be sent to {}; authorization signed.", f.recipient_name.trim()))),
        })
        .exec_without_returning(&txn)
        .await?;
        if let (Some(a), Some(pdf)) = (&authorization, authorization_pdf) {
            super::rows::release_authorization::Entity::insert(super::rows::release_authorization::ActiveModel {
                id: Set(uuid::Uuid::new_v4().to_string()),
                request_id: Set(id.clone()),
                signer_name: Set(a.form.signature_name.split_whitespace().collect::<Vec<_>>().join(" ")),
                signer_user_id: Set(self.principal.user_id.clone()),
                signed_at_ms: Set(now),
                client_address: Set(self.request.client_address.chars().take(64).collect()),
                description: Set(a.form.description.clone()),
                recipient_name: Set(a.form.recipient_name.trim().to_string()),
                recipient_address: Set(a.form.recipient_address.trim().to_string()),
                purpose: Set(a.form.purpose.trim().to_string()),
                expires_on: Set(if a.form.expires_on.trim().is_empty() { String::new() } else { a.form.expires_on.trim().to_string() }),
                revoked_at_ms: Set(None),
                revoked_by: Set(None),
                revocation_note: Set(None),
                named: Set(JsonText(a.form.sensitive.iter().map(|c| c.as_str().to_string()).collect())),
            })
            .exec_without_returning(&txn)
            .await?;
            self.store_files(&txn, &id, vec![pdf], now + files::LETTER_KEEP_MS, settings.keys).await?;
        }
        let detail = if authorization.is_some() { "submitted: to a third party, authorization signed" } else { "submitted" };
        audit::record(&txn, self.event(AuditAction::ReleaseRequest, Outcome::Success).patient(&patient_id).entity("release_request", &id).detail(detail))
            .await?;
        txn.commit().await?;
        self.copy_request(&id).await
    }

    /// The request already filed with this idempotency key by this person, if any. A key
    /// filed by someone else is refused on its field (keys are random: it is a forged post).
    pub(super) async fn filed_with(&self, key: Option<&str>) -> Result<Option<RequestView>, AppError> {
        let Some(key) = key else { return Ok(None) };
        let Some(row) = release_request::Entity::find().filter(release_request::Column::IdempotencyKey.eq(key)).one(&self.db).await? else {
            return Ok(None);
        };
        if row.requester_user_id != self.principal.user_id && row.logged_by.as_deref() != Some(self.principal.user_id.as_str()) {
            return Err(AppError::Validation { fields: vec![crate::domain::FieldError::new("idempotency_key", "The form's key is not valid: reload the page and send it again.")] });
        }
        self.copy_request(&row.id).await.map(Some)
    }

    /// An insert the key's unique index refused: the same post arrived twice at once, and the
    /// first one's request answers. Any other error stays an error.
    /// Any other failure is answered as itself, without reading anything first: after a failed
    /// commit (a full disk) the connection may still show the insert that did not happen.
    pub(super) async fn filed_meanwhile(&self, error: sea_orm::DbErr, key: Option<&str>) -> Result<RequestView, AppError> {
        if crate::backend::error::is_unique_violation(&error)
            && let Some(done) = self.filed_with(key).await?
        {
            return Ok(done);
        }
        Err(error.into())
    }

    /// One request with its timeline: the patient's own, or any for HIM staff; else 404.
    #[tracing::instrument(skip_all, fields(action = tracing::field::Empty, patient_id = tracing::field::Empty))]
    pub async fn copy_request(&self, id: &str) -> Result<RequestView, AppError> {
        let row = release_request::Entity::find_by_id(id.to_string()).one(&self.db).await?;
        let Some(row) = row else { return Err(AppError::NotFound) };
        // The requester (the patient, or a caregiver while their grant lasts) follows their own;
        // others need the right to follow this patient's requests.
        if row.requester_user_id == self.principal.user_id && self.subject().as_deref() == Some(row.patient_id.as_str()) {
            self.authorize(Action::ReadPatientRecord, Target::Patient(&row.patient_id), AuditAction::ReleaseRequest).await?;
            return self.request_view(row).await;
        }
        // Someone else's request (staff, a reviewer, a caregiver): the read is audited, with
        // the patient it is about (164.312(b)).
        let read = self.event(AuditAction::RequestRead, Outcome::Success).patient(&row.patient_id).entity("release_request", &row.id);
        if self.reviewed_by_me(&row).await? {
            // The reviewer who decided a review keeps sight of that request (what they decided
            // and why), not of the record: the review no longer waits.
        } else {
            self.authorize(Action::TrackRequests, Target::Patient(&row.patient_id), AuditAction::ReleaseRequest).await?;
            // What the patient asked for themselves (a copy for a clinic, the categories named in
            // an authorization) is outside a limited proxy's view (45 CFR 164.502(g)(3)).
            if self.acting_for.is_some() {
                self.authorize(Action::ReadSensitive, Target::Patient(&row.patient_id), AuditAction::ReleaseRequest).await?;
            }
        }
        self.audit_alone(read).await?;
        self.request_view(row).await
    }

    /// The signed-in reviewer decided a review of this request.
    async fn reviewed_by_me(&self, row: &release_request::Model) -> Result<bool, AppError> {
        use sea_orm::PaginatorTrait;
        if !self.principal.has(Role::HimReviewer) {
            return Ok(false);
        }
        let decided = super::rows::release_event::Entity::find()
            .filter(super::rows::release_event::Column::RequestId.eq(row.id.as_str()))
            .filter(super::rows::release_event::Column::ActorUserId.eq(self.principal.user_id.as_str()))
            .filter(super::rows::release_event::Column::ActorKind.eq(Actor::Reviewer))
            .count(&self.db)
            .await?;
        Ok(decided > 0)
    }

    /// The page's view of a request, once the caller was authorized for it (a reviewer's
    /// answer to the review they just decided, when the record is already closed to them).
    pub(in crate::backend::access) async fn request_view(&self, row: release_request::Model) -> Result<RequestView, AppError> {
        let events = self.events_of(&row.id).await?;
        let mut view = self.view(row, events)?;
        self.add_release_details(&mut view).await?;
        Ok(view)
    }

    /// A request with its passcode link filled in for its requester (the page shows it to pass on).
    #[tracing::instrument(skip_all, fields(action = tracing::field::Empty, patient_id = tracing::field::Empty))]
    pub async fn with_share(&self, mut view: RequestView, keys: &crate::backend::copies::seal::FileKeys, base_url: &str) -> Result<RequestView, AppError> {
        if let Some(row) = release_request::Entity::find_by_id(view.id.clone()).one(&self.db).await? {
            view.share = self.share_of(&row, keys, base_url).await?;
        }
        Ok(view)
    }

    /// The signed-in patient's requests, newest first.
    #[tracing::instrument(skip_all, fields(action = tracing::field::Empty, patient_id = tracing::field::Empty))]
    pub async fn my_requests(&self) -> Result<Vec<RequestView>, AppError> {
        let Some(patient_id) = self.subject() else { return Ok(Vec::new()) };
        // What came through the portal: a request HIM logged from someone else's paper is not
        // the patient's to follow (its disclosure is in their accounting when accountable).
        let mut select = release_request::Entity::find()
            .filter(release_request::Column::PatientId.eq(patient_id.as_str()))
            .filter(release_request::Column::Channel.is_in([release::Channel::Portal.as_str(), release::Channel::SelfService.as_str()]));
        // A caregiver who may not follow the patient's requests, or whose view is limited (the
        // patient's own requests can name sensitive care), still sees the ones they made.
        if self.acting_for.is_some() && !(self.allows(Action::TrackRequests, &patient_id).await? && self.allows(Action::ReadSensitive, &patient_id).await?) {
            self.authorize(Action::RequestCopy, Target::Patient(&patient_id), AuditAction::ReleaseRequest).await?;
            select = select.filter(release_request::Column::RequesterUserId.eq(self.principal.user_id.as_str()));
        } else {
            self.authorize(Action::TrackRequests, Target::Patient(&patient_id), AuditAction::ReleaseRequest).await?;
        }
        let rows = select
            .order_by_desc(release_request::Column::CreatedAtMs)
            .limit(100)
            .all(&self.db)
            .await?;
        // Every request's timeline in one query, grouped here (not one query per request).
        let ids: Vec<String> = rows.iter().map(|r| r.id.clone()).collect();
        let mut events: std::collections::HashMap<String, Vec<release_event::Model>> = std::collections::HashMap::new();
        for event in release_event::Entity::find()
            .filter(release_event::Column::RequestId.is_in(ids))
            .order_by_asc(release_event::Column::AtMs)
            .all(&self.db)
            .await?
        {
            events.entry(event.request_id.clone()).or_default().push(event);
        }
        rows.into_iter()
            .map(|row| {
                let timeline = events.remove(&row.id).unwrap_or_default();
                self.view(row, timeline)
            })
            .collect()
    }

    /// The HIM queue: open requests, the nearest due date first, filtered (status, due within
    /// N days, overdue, assigned to me, recipient) and searched (the start of a patient's name or
    /// record number, a request number or id), a page of [`release::QUEUE_PAGE`] at a time.
    /// Each shows the patient's name and record number and who works it.
    #[tracing::instrument(skip_all, fields(action = tracing::field::Empty, patient_id = tracing::field::Empty))]
    pub async fn request_queue(&self, filter: &release::QueueFilter) -> Result<Vec<RequestView>, AppError> {
        self.require(Action::WorkRequests, AuditAction::ReleaseRequest).await?;
        let filter = filter.check().map_err(|fields| AppError::Validation { fields })?;
        // Desk work only: a copy the patient sent at once is not in the queue.
        let mut select = release_request::Entity::find().filter(release_request::Column::Channel.ne(release::Channel::SelfService.as_str()));
        if let Some(status) = filter.status {
            select = select.filter(release_request::Column::Status.eq(status.as_str()));
        }
        // Open requests (also when one open status is asked for) are paged from the partial
        // index on them, whose condition this repeats (issue 21).
        if filter.status.is_none_or(|s| !s.is_final()) {
            select = select.filter(Expr::cust(release::OPEN_REQUESTS));
        }
        let today = self.clock.today();
        if let Some(days) = filter.due_within {
            let until = today.add_days(days).unwrap_or(today);
            select = select.filter(release_request::Column::DueOn.lte(until.to_string()));
        }
        if filter.overdue {
            select = select
                .filter(release_request::Column::DueOn.lt(today.to_string()))
                .filter(release_request::Column::Status.is_in(Status::CLOCK_RUNNING.map(Status::as_str)));
        }
        if filter.mine {
            select = select.filter(release_request::Column::AssignedTo.eq(self.principal.user_id.as_str()));
        }
        if let Some(kind) = filter.recipient {
            select = select.filter(release_request::Column::RecipientKind.eq(kind.as_str()));
        }
        if let Some(q) = filter.q.as_deref() {
            let number = q.trim_start_matches(['R', 'r']).trim_start_matches('-').parse::<i64>().ok();
            // The start of a family name, a given name or a record number (an index each:
            // migration 14), as a clerk types it.
            let patients: Vec<String> = super::rows::patient_row::Entity::find()
                .select_only()
                .column(super::rows::patient_row::Column::Id)
                .filter(super::rows::patient_row::Column::SiteCode.eq(self.site_code.as_str()))
                .filter({
                    use super::rows::patient_row::{Column, starts_with};
                    sea_orm::Condition::any().add(starts_with(Column::FamilyName, q)).add(starts_with(Column::GivenNames, q)).add(starts_with(Column::Mrn, q))
                })
                .limit(200)
                .into_tuple()
                .all(&self.db)
                .await?;
            let mut any = sea_orm::Condition::any().add(release_request::Column::Id.eq(q)).add(release_request::Column::PatientId.is_in(patients));
            if let Some(n) = number {
                any = any.add(release_request::Column::Number.eq(n));
            }
            select = select.filter(any);
        }
        let rows = select
            .order_by_asc(release_request::Column::DueOn)
            .order_by_asc(release_request::Column::Number)
            .limit(release::QUEUE_PAGE)
            .offset((filter.page - 1) * release::QUEUE_PAGE)
            .all(&self.db)
            .await?;
        let ids: Vec<String> = rows.iter().map(|r| r.patient_id.clone()).collect();
        let patients = super::rows::patient_row::Entity::find().filter(super::rows::patient_row::Column::Id.is_in(ids)).all(&self.db).await?;
        // The workers' names in one query too (not one per row).
        let workers: Vec<String> = rows.iter().filter_map(|r| r.assigned_to.clone()).chain(rows.iter().filter(|r| r.requester_name.is_none()).map(|r| r.requester_user_id.clone())).collect();
        let names: std::collections::HashMap<String, String> = if workers.is_empty() {
            std::collections::HashMap::new()
        } else {
            crate::backend::entities::app_user::Entity::find()
                .filter(crate::backend::entities::app_user::Column::Id.is_in(workers))
                .all(&self.db)
                .await?
                .into_iter()
                .map(|u| (u.id, u.display_name))
                .collect()
        };
        let mut out = Vec::with_capacity(rows.len());
        for row in rows {
            let label = patients.iter().find(|p| p.id == row.patient_id).map(|p| format!("{} {} · {}", p.given_names, p.family_name, p.mrn)).stored("release_request", "patient_id")?;
            // As `display_name` says it: an account that is gone is "Unknown user".
            let assignee = row.assigned_to.as_ref().map(|user| names.get(user).cloned().unwrap_or_else(|| "Unknown user".into()));
            // Who asked, as the clerk says it (the page fills in a representative's capacity).
            let requester = match &row.requester_name {
                Some(name) => format!("{name} ({})", row.requester_type.label().to_lowercase()),
                None => format!("{} ({})", names.get(&row.requester_user_id).cloned().unwrap_or_else(|| "Unknown user".into()), row.requester_type.label().to_lowercase()),
            };
            let mut view = self.view(row, Vec::new())?;
            view.patient_label = label;
            view.assignee = assignee;
            view.requester = requester;
            out.push(view);
        }
        self.audit_list("request_queue", out.len(), filter.q.is_some()).await?;
        Ok(out)
    }

    /// HIM staff claim a request (it is then theirs in "assigned to me"), or let it go.
    #[tracing::instrument(skip_all, fields(action = tracing::field::Empty, patient_id = tracing::field::Empty))]
    pub async fn claim_request(&self, id: &str, claim: bool) -> Result<RequestView, AppError> {
        self.authorize(Action::WorkRequests, Target::Site, AuditAction::ReleaseRequest).await?;
        let row = release_request::Entity::find_by_id(id.to_string()).one(&self.db).await?.ok_or(AppError::NotFound)?;
        let txn = write_transaction(&self.db).await?;
        let mut update = release_request::Entity::update_many()
            .col_expr(release_request::Column::AssignedTo, Expr::value(claim.then(|| self.principal.user_id.clone())))
            .col_expr(release_request::Column::UpdatedAtMs, Expr::value(now_ms()))
            .filter(release_request::Column::Id.eq(id));
        if claim {
            // Claiming does not take a request someone else holds.
            update = update.filter(sea_orm::Condition::any().add(release_request::Column::AssignedTo.is_null()).add(release_request::Column::AssignedTo.eq(self.principal.user_id.as_str())));
        } else {
            update = update.filter(release_request::Column::AssignedTo.eq(self.principal.user_id.as_str()));
        }
        let changed = update.exec(&txn).await?;
        if changed.rows_affected != 1 {
            return Err(AppError::Conflict { message: format!("{} is being worked by someone else.", format_number(row.number)) });
        }
        audit::record(&txn, self.event(AuditAction::ReleaseRequest, Outcome::Success).patient(&row.patient_id).entity("release_request", id).detail(if claim { "claimed" } else { "unclaimed" }))
            .await?;
        txn.commit().await?;
        self.copy_request(id).await
    }

    /// The one extension of 164.524(b)(2)(iii): before the deadline, with the reason and the new
    /// date, which the patient reads on the timeline and is told of (the written notice).
    #[tracing::instrument(skip_all, fields(action = tracing::field::Empty, patient_id = tracing::field::Empty))]
    pub async fn extend_request(&self, id: &str, new_due: IsoDate, reason: &str, max_days: i64, settings: ReleaseSettings<'_>) -> Result<RequestView, AppError> {
        self.authorize(Action::WorkRequests, Target::Site, AuditAction::ReleaseRequest).await?;
        let row = release_request::Entity::find_by_id(id.to_string()).one(&self.db).await?.ok_or(AppError::NotFound)?;
        let status = row.status;
        let received = IsoDate::parse(&row.received_on).stored("release_request", "received_on")?;
        let due = IsoDate::parse(&row.due_on).stored("release_request", "due_on")?;
        let clock = Clock { received, due, extended: row.extended };
        let extended = match clock.extend(status, self.clock.today(), new_due, reason, max_days) {
            Ok(c) => c,
            Err(e) => {
                let refused = self.event(AuditAction::ReleaseRequest, Outcome::Failure).patient(&row.patient_id).entity("release_request", id).detail(format!("extension refused: {e}"));
                self.audit_alone(refused).await?;
                return Err(AppError::Validation { fields: vec![crate::error::FieldError { field: "new_due".into(), message: e.to_string() }] });
            }
        };
        let reason = reason.trim().chars().take(1000).collect::<String>();
        // The written notice (164.524(b)(2)(iii)): a letter to the requester, in their messages
        // and, for a request that came by mail, printed and mailed by the desk.
        let letter = self.extension_letter(&row, &extended.due.to_string(), &reason, settings).await?;
        let txn = write_transaction(&self.db).await?;
        self.store_files(&txn, &row.id, vec![letter], now_ms() + files::LETTER_KEEP_MS, settings.keys).await?;
        let changed = release_request::Entity::update_many()
            .col_expr(release_request::Column::DueOn, Expr::value(extended.due.to_string()))
            .col_expr(release_request::Column::Extended, Expr::value(true))
            .col_expr(release_request::Column::ExtensionReason, Expr::value(reason.clone()))
            .col_expr(release_request::Column::UpdatedAtMs, Expr::value(now_ms()))
            .filter(release_request::Column::Id.eq(id))
            .filter(release_request::Column::Extended.eq(false))
            .exec(&txn)
            .await?;
        if changed.rows_affected != 1 {
            return Err(AppError::Conflict { message: "This request was already extended.".into() });
        }
        self.staff_note(&txn, &row, format!(
                "We need more time: the new due date is {}. Why: {reason}{}",
                extended.due,
                if row.channel == release::Channel::Mail { " The extension letter is to be mailed." } else { "" }
            )).await?;
        if !row.channel.logged() {
        super::notifications::queue(&txn, &row.requester_user_id, Some(&row.id), format!("Your request R-{} has an update: new due date {}. The letter is on the request's page.", row.number, extended.due)).await?;
        }
        audit::record(&txn, self.event(AuditAction::ReleaseRequest, Outcome::Success).patient(&row.patient_id).entity("release_request", id).detail(format!("extended to {}", extended.due)))
            .await?;
        txn.commit().await?;
        self.copy_request(id).await
    }

    /// Moves a request on: the requester cancels; HIM staff check, review, decide, release,
    /// close. Refused transitions change nothing and are audited as such.
    #[tracing::instrument(skip_all, fields(action = tracing::field::Empty, patient_id = tracing::field::Empty))]
    pub async fn advance_request(&self, id: &str, event: Event, note: Option<String>) -> Result<RequestView, AppError> {
        let row = release_request::Entity::find_by_id(id.to_string()).one(&self.db).await?;
        let Some(row) = row else { return Err(AppError::NotFound) };
        let own = self.subject().as_deref() == Some(row.patient_id.as_str()) && row.requester_user_id == self.principal.user_id;
        let actor = if own && event == Event::Cancel {
            // Still entitled: a caregiver whose access ended no longer acts on the patient's
            // requests, even the ones they made (the grant is read afresh: 404 when it ended).
            self.authorize(Action::RequestCopy, Target::Patient(&row.patient_id), AuditAction::ReleaseRequest).await?;
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
        let txn = write_transaction(&self.db).await?;
        self.move_in(&txn, &row, from, to, actor, note).await?;
        txn.commit().await?;
        self.copy_request(id).await
    }

    /// A step on the timeline by HIM staff that leaves the status as it is (an extension, the
    /// checklist, a payment, an assignment), inside the caller's transaction.
    pub(super) async fn staff_note(&self, txn: &sea_orm::DatabaseTransaction, row: &release_request::Model, note: impl Into<String>) -> Result<(), AppError> {
        release_event::Entity::insert(release_event::ActiveModel {
            id: Set(uuid::Uuid::new_v4().to_string()),
            request_id: Set(row.id.clone()),
            at_ms: Set(now_ms()),
            actor_user_id: Set(Some(self.principal.user_id.clone())),
            actor_kind: Set(Actor::HimStaff),
            from_status: Set(Some(row.status)),
            to_status: Set(row.status),
            note: Set(Some(note.into())),
        })
        .exec_without_returning(txn)
        .await?;
        Ok(())
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
        let mut update = release_request::Entity::update_many()
            .col_expr(release_request::Column::Status, Expr::value(to.as_str()))
            .col_expr(release_request::Column::UpdatedAtMs, Expr::value(now));
        // The day the copy was made available or the denial sent: the clock stops here
        // (45 CFR 164.524(b)(2)), and the dashboard counts the turnaround to it.
        if row.provided_on.is_none() && matches!(to, Status::Released | Status::Delivered | Status::Denied) {
            let today = self.clock.today();
            let days = IsoDate::parse(&row.received_on).map(|r| r.days_until(today)).unwrap_or(0);
            update = update
                .col_expr(release_request::Column::ProvidedOn, Expr::value(today.to_string()))
                .col_expr(release_request::Column::TurnaroundDays, Expr::value(i32::try_from(days).unwrap_or(i32::MAX)));
        }
        let changed = update
            .filter(release_request::Column::Id.eq(row.id.as_str()))
            .filter(release_request::Column::Status.eq(from.as_str()))
            .exec(txn)
            .await?;
        if changed.rows_affected != 1 {
            return Err(AppError::Conflict { message: "Someone else changed this request just now. Reload and try again.".into() });
        }
        release_event::Entity::insert(release_event::ActiveModel {
            id: Set(uuid::Uuid::new_v4().to_string()),
            request_id: Set(row.id.clone()),
            at_ms: Set(now),
            actor_user_id: Set(if actor == Actor::System { None } else { Some(self.principal.user_id.clone()) }),
            actor_kind: Set(actor),
            from_status: Set(Some(from)),
            to_status: Set(to),
            note: Set(note),
        })
        .exec_without_returning(txn)
        .await?;
        audit::record(
            txn,
            self.event(AuditAction::ReleaseRequest, Outcome::Success)
                .patient(&row.patient_id)
                .entity("release_request", &row.id)
                .detail(format!("{}->{}", from.as_str(), to.as_str())),
        )
        .await?;
        // The requester hears of every step but their own (a request logged by HIM has no
        // requester account: its letters go by the channel it came by).
        if actor != Actor::Requester && !row.channel.logged() {
            notify(txn, row, to).await?;
        }
        Ok(())
    }

    /// Checks a transition, auditing a refused one (nothing changes): 409 with the reason.
    pub(super) async fn check_transition(&self, row: &release_request::Model, event: Event, actor: Actor) -> Result<(Status, Status), AppError> {
        let from = row.status;
        let reviewable = self.denial_is_reviewable(&row.id).await?;
        match release::transition(from, event, actor, reviewable) {
            Ok(to) => Ok((from, to)),
            Err(e) => {
                let refused = self.event(AuditAction::ReleaseRequest, Outcome::Failure).patient(&row.patient_id).entity("release_request", &row.id).detail(format!("refused: {e}"));
                self.audit_alone(refused).await?;
                Err(AppError::Conflict { message: format!("{}: {e}.", format_number(row.number)) })
            }
        }
    }
}

/// A transition the portal itself makes (a recipient opened a link), on the timeline.
pub(super) async fn record_system_event(txn: &sea_orm::DatabaseTransaction, request_id: &str, from: Status, to: Status, note: &str) -> Result<(), AppError> {
    release_event::Entity::insert(release_event::ActiveModel {
        id: Set(uuid::Uuid::new_v4().to_string()),
        request_id: Set(request_id.to_string()),
        at_ms: Set(now_ms()),
        actor_user_id: Set(None),
        actor_kind: Set(Actor::System),
        from_status: Set(Some(from)),
        to_status: Set(to),
        note: Set(Some(note.to_string())),
    })
    .exec_without_returning(txn)
    .await?;
    if let Some(row) = release_request::Entity::find_by_id(request_id.to_string()).one(txn).await?
        && !row.channel.logged()
    {
        notify(txn, &row, to).await?;
    }
    Ok(())
}

/// A message to the requester about their request, in the portal and (through the outbox) by
/// email. It names the request and its new status only: no health information. A caregiver whose
/// access to the patient has ended is told nothing more about the patient's requests.
pub(super) async fn notify(txn: &sea_orm::DatabaseTransaction, row: &release_request::Model, to: Status) -> Result<(), AppError> {
    if !files::still_entitled(txn, row).await? {
        return Ok(());
    }
    super::notifications::queue(txn, &row.requester_user_id, Some(&row.id), format!("Your request R-{} has an update: {}.", row.number, to.label())).await?;
    Ok(())
}

pub(super) use crate::domain::release::format_number;
