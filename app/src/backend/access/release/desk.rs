//! The HIM release desk through the access context (issue 17): HIM staff log a request that
//! arrived by mail, fax, in person, phone or email, with the patient found and confirmed side by
//! side, the scans of the paper (content-sniffed, sealed, several per request) and the clerk's
//! checklist of what the requester type needs; the fee is estimated from the administrator's
//! schedule (the patient's own copy stays cost-based, 45 CFR 164.524(c)(4)) and billed by a PDF
//! invoice; "paid" is a step. A request whose checklist is incomplete waits: it cannot be
//! approved or released, and the page says for what.

use super::super::AccessContext;
use super::super::rows::{JsonText, patient_row, release_event, release_request};
use super::copy::Produced;
use super::files::{LETTER_KEEP_MS, ReleaseSettings};
use crate::backend::audit::{self, AuditAction, Outcome};
use crate::backend::copies;
use crate::backend::db::{now_ms, write_transaction};
use crate::backend::policy::{Action, Target};
use crate::domain::release::intake::{self, check_fee, estimate_fee, waiting_for};
use crate::domain::release::{Actor, FeeRow, FeeScheduleRow, IntakeForm, PatientMatch, PatientSearch, RecipientKind, RequestView, RequesterType, Status, fee_text};
use crate::domain::{FieldError, IsoDate};
use crate::error::AppError;
use sea_orm::sea_query::{Expr, ExprTrait, Func};
use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QuerySelect};

/// At most this many scans travel with one request.
pub const MAX_SCANS: usize = 10;

/// What a scan of the paper may be, by its content (never its name): a PDF, or a PNG, JPEG or
/// TIFF image (fax machines write TIFF).
pub fn sniff_scan(bytes: &[u8]) -> Option<&'static str> {
    if bytes.starts_with(b"II*\0") || bytes.starts_with(b"MM\0*") {
        return Some("image/tiff");
    }
    super::super::caregivers::sniff_document(bytes)
}

fn name_of(p: &patient_row::Model) -> String {
    format!("{} {}", p.given_names, p.family_name)
}

fn fold(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ").to_lowercase()
}

impl AccessContext {
    /// The records that may be the patient the paper names: by record number, or by birth date
    /// and name, each with what agrees and what does not, for the clerk to compare side by side
    /// before confirming. Audited as a patient search.
    #[tracing::instrument(skip_all, fields(action = tracing::field::Empty, patient_id = tracing::field::Empty))]
    pub async fn intake_matches(&self, search: &PatientSearch) -> Result<Vec<PatientMatch>, AppError> {
        self.require(Action::WorkRequests, AuditAction::PatientSearch).await?;
        let mut fields = Vec::new();
        let mut text = |field: &str, v: &Option<String>| crate::domain::search_text(field, v.as_deref()).unwrap_or_else(|e| {
            fields.push(e);
            None
        });
        let (name, birth, mrn) = (text("name", &search.name), text("birth_date", &search.birth_date), text("mrn", &search.mrn).map(|m| m.to_ascii_uppercase()));
        if name.is_none() && mrn.is_none() {
            fields.push(FieldError::new("name", "Type the patient's name as the paper gives it, or the record number."));
        }
        if let Some(b) = &birth
            && IsoDate::parse(b).is_err()
        {
            fields.push(FieldError::new("birth_date", "Use a date like 1984-03-07."));
        }
        if !fields.is_empty() {
            return Err(AppError::Validation { fields });
        }
        let mut any = sea_orm::Condition::any();
        if let Some(m) = &mrn {
            any = any.add(patient_row::Column::Mrn.eq(m.as_str()));
        }
        if let Some(n) = &name {
            // Every word of the name is in the given or the family name.
            let mut all = sea_orm::Condition::all();
            for word in n.split_whitespace().take(4) {
                let like = format!("%{}%", word.to_lowercase().replace(['%', '_'], ""));
                all = all.add(
                    sea_orm::Condition::any()
                        .add(Expr::expr(Func::lower(Expr::col(patient_row::Column::FamilyName))).like(like.clone()))
                        .add(Expr::expr(Func::lower(Expr::col(patient_row::Column::GivenNames))).like(like)),
                );
            }
            if let Some(b) = &birth {
                all = all.add(patient_row::Column::BirthDate.eq(b.as_str()));
            }
            any = any.add(all);
        }
        let rows = patient_row::Entity::find().filter(patient_row::Column::SiteCode.eq(self.site_code.as_str())).filter(any).limit(20).all(&self.db).await?;
        let matches: Vec<PatientMatch> = rows
            .into_iter()
            .map(|p| {
                let mut agrees = Vec::new();
                let mut disagrees = Vec::new();
                let mut compare = |field: &str, typed: &Option<String>, same: bool| match typed {
                    Some(_) if same => agrees.push(field.to_string()),
                    Some(_) => disagrees.push(field.to_string()),
                    None => {}
                };
                compare("name", &name, name.as_deref().is_some_and(|n| fold(n) == fold(&name_of(&p)) || fold(n) == fold(&format!("{} {}", p.family_name, p.given_names))));
                compare("birth_date", &birth, birth.as_deref() == Some(p.birth_date.as_str()));
                compare("mrn", &mrn, mrn.as_deref() == Some(p.mrn.as_str()));
                PatientMatch { patient_id: p.id.clone(), name: name_of(&p), birth_date: p.birth_date.clone(), record_number: p.mrn.clone(), agrees, disagrees }
            })
            .collect();
        self.audit_alone(self.event(AuditAction::PatientSearch, Outcome::Success).detail(format!("release desk intake: {} match(es)", matches.len()))).await?;
        Ok(matches)
    }

    /// The fee schedule's row for a requester type (zero when the administrator set none).
    async fn fee_row(&self, kind: RequesterType) -> Result<FeeRow, AppError> {
        let row: Option<(i32, i32)> = super::super::rows::fee_schedule::Entity::find_by_id(kind.as_str().to_string())
            .select_only()
            .columns([super::super::rows::fee_schedule::Column::FlatCents, super::super::rows::fee_schedule::Column::PerPageCents])
            .into_tuple()
            .one(&self.db)
            .await?;
        Ok(row.map(|(flat, page)| FeeRow { flat_cents: u32::try_from(flat).unwrap_or(0), per_page_cents: u32::try_from(page).unwrap_or(0) }).unwrap_or_default())
    }

    /// HIM staff log a request received on paper or by phone. Every field is checked in one step
    /// (each error on its field) and nothing is stored unless all is valid: the request, its
    /// first timeline entry, the sealed scans and the invoice commit together. A retried post
    /// with the same idempotency key answers the request already logged.
    #[tracing::instrument(skip_all, fields(action = tracing::field::Empty, patient_id = tracing::field::Empty))]
    pub async fn log_request(&self, form: &IntakeForm, uploads: Vec<super::super::caregivers::Upload>, max_scan_bytes: u64, settings: ReleaseSettings<'_>) -> Result<RequestView, AppError> {
        self.require(Action::WorkRequests, AuditAction::ReleaseRequest).await?;
        let key = crate::domain::release::idempotency_key(form.idempotency_key.as_deref()).map_err(|e| AppError::Validation { fields: vec![e] })?;
        if let Some(done) = self.filed_with(key.as_deref()).await? {
            return Ok(done);
        }
        let today = self.clock.today();
        let mut fields = Vec::new();
        let checked = form.check(today);
        let patient = match patient_row::Entity::find_by_id(form.patient_id.trim().to_string()).one(&self.db).await? {
            Some(p) if p.site_code == self.site_code => Some(p),
            _ => {
                if !form.patient_id.trim().is_empty() {
                    fields.push(FieldError::new("patient_id", "No record of this site has that id: search again and confirm the match."));
                }
                None
            }
        };
        let mut scans = Vec::new();
        let real: Vec<_> = uploads.into_iter().filter(|(name, bytes)| !(name.is_empty() && bytes.as_ref().is_ok_and(|b| b.is_empty()))).collect();
        if real.len() > MAX_SCANS {
            fields.push(FieldError::new("scans", format!("Attach at most {MAX_SCANS} scans.")));
        }
        let max_mb = max_scan_bytes / (1024 * 1024);
        for (file_name, bytes) in real {
            match bytes {
                Err(e) => fields.push(FieldError::new("scans", format!("{file_name}: {e}"))),
                Ok(b) if b.len() as u64 > max_scan_bytes => fields.push(FieldError::new("scans", format!("{file_name} is larger than {max_mb} MB."))),
                Ok(b) => match sniff_scan(&b) {
                    Some(content_type) => scans.push((file_name, content_type, b)),
                    None => fields.push(FieldError::new("scans", format!("{file_name} is not a scan: a PDF, PNG, JPEG or TIFF file (its content was checked, not its name)."))),
                },
            }
        }
        let intake = match checked {
            Ok(i) if fields.is_empty() => i,
            Ok(_) => return self.refuse_intake(fields, patient.as_ref()).await,
            Err(mut errors) => {
                errors.extend(fields);
                return self.refuse_intake(errors, patient.as_ref()).await;
            }
        };
        let Some(patient) = patient else { return Err(AppError::bad_request()) };
        // The fee: typed by the clerk (checked against the law and the cap) or estimated.
        let kind = intake.requester_type;
        let fee_row = self.fee_row(kind).await?;
        let fee = match intake.fee_cents {
            Some(cents) => match check_fee(kind, cents, settings.fee_cap_cents, intake.actual_costs) {
                Ok(c) => c,
                Err(e) => return self.refuse_intake(vec![e], Some(&patient)).await,
            },
            None => estimate_fee(kind, fee_row, settings.self_fee_cents, intake.pages, settings.fee_cap_cents),
        };
        // The clock starts the day the paper arrived, not the day it is typed in.
        let days = if kind.is_access() { settings.response_days } else { settings.third_party_response_days };
        let clock = crate::domain::release::Clock::start(intake.received, days).ok_or_else(AppError::bad_request)?;
        let now = now_ms();
        let id = uuid::Uuid::new_v4().to_string();
        let txn = write_transaction(&self.db).await?;
        let number = super::copy::next_request_number(&txn).await?;
        let formats = [intake.request.formats.pdf.then_some("pdf"), intake.request.formats.fhir.then_some("fhir")].into_iter().flatten().collect::<Vec<_>>().join(",");
        let to_someone_else = !kind.is_access();
        let row = release_request::Model {
            id: id.clone(),
            number,
            patient_id: patient.id.clone(),
            // The account that logged it stands as the requester of record; the requester
            // themselves is named below.
            requester_user_id: self.principal.user_id.clone(),
            on_behalf_of: None,
            status: Status::Submitted,
            scope: JsonText(intake.request.scope.clone()),
            formats,
            recipient_kind: if to_someone_else { RecipientKind::ThirdParty } else { RecipientKind::Myself },
            recipient_name: to_someone_else.then(|| intake.requester_name.clone()),
            recipient_address: if to_someone_else { intake.requester_address.clone() } else { None },
            purpose: intake.purpose.clone().or_else(|| to_someone_else.then(|| kind.label().to_string())),
            fee_cents: i32::try_from(fee).unwrap_or(i32::MAX),
            received_on: clock.received.to_string(),
            due_on: clock.due.to_string(),
            extended: false,
            extension_reason: None,
            assigned_to: None,
            created_at_ms: now,
            updated_at_ms: now,
            channel: intake.channel,
            requester_type: kind,
            requester_name: Some(intake.requester_name.clone()),
            requester_address: intake.requester_address.clone(),
            checklist: JsonText(intake.checklist.clone()),
            logged_by: Some(self.principal.user_id.clone()),
            provided_on: None,
            turnaround_days: None,
            pages: i32::try_from(intake.pages).unwrap_or(0),
            paid_at_ms: None,
            idempotency_key: key.clone(),
        };
        // The same post twice at once: the second waited on the key's unique index and answers
        // what the first logged.
        if let Err(e) = release_request::Entity::insert(sea_orm::IntoActiveModel::into_active_model(row.clone())).exec_without_returning(&txn).await {
            drop(txn);
            return self.filed_meanwhile(e, key.as_deref()).await;
        }
        release_event::Entity::insert(release_event::ActiveModel {
            id: Set(uuid::Uuid::new_v4().to_string()),
            request_id: Set(id.clone()),
            at_ms: Set(now),
            actor_user_id: Set(Some(self.principal.user_id.clone())),
            actor_kind: Set(Actor::HimStaff),
            from_status: Set(None),
            to_status: Set(Status::Submitted),
            note: Set(Some(format!(
                "Received by {} on {} from {} ({}); logged by the records team.",
                intake.channel.label().to_lowercase(),
                clock.received,
                intake.requester_name,
                kind.label()
            ))),
        })
        .exec_without_returning(&txn)
        .await?;
        let mut files: Vec<Produced> = Vec::new();
        for (n, (file_name, content_type, bytes)) in scans.into_iter().enumerate() {
            let kind: &'static str = SCAN_KINDS.get(n).copied().unwrap_or("scan");
            files.push(Produced { kind, file_name: file_name.chars().take(200).collect(), content_type, pages: None, bytes });
        }
        if fee > 0 {
            files.push(self.invoice_file(&patient, &row, fee_row, settings).await?);
        }
        let stored = self.store_files(&txn, &id, files, now + LETTER_KEEP_MS, settings.keys).await?;
        audit::record(
            &txn,
            self.event(AuditAction::ReleaseRequest, Outcome::Success)
                .patient(&patient.id)
                .entity("release_request", &id)
                .detail(format!("logged: {} by {}, received {}; files {}", kind.as_str(), intake.channel.as_str(), clock.received, stored.join(" "))),
        )
        .await?;
        txn.commit().await?;
        self.copy_request(&id).await
    }

    /// The extension letter of a request, rendered (not yet stored).
    pub(super) async fn extension_letter(&self, row: &release_request::Model, new_due: &str, reason: &str, settings: ReleaseSettings<'_>) -> Result<Produced, AppError> {
        let patient = self.patient_row_of(row).await?;
        let addressee = match &row.requester_name {
            Some(name) => name.clone(),
            None => self.display_name(&row.requester_user_id).await?,
        };
        let facts = self.desk_facts(&patient, row, addressee, row.requester_address.clone(), settings);
        let (due, why) = (new_due.to_string(), reason.to_string());
        let rendered = tokio::task::spawn_blocking(move || copies::pdf::render(copies::desk::extension_letter(&facts, &due, &why), &|_, _| {})).await??;
        Ok(Produced { kind: "extension_letter", file_name: format!("extension-letter-R-{}.pdf", row.number), content_type: "application/pdf", pages: i32::try_from(rendered.pages).ok(), bytes: rendered.bytes })
    }

    fn desk_facts(&self, patient: &patient_row::Model, row: &release_request::Model, addressee: String, address: Option<String>, settings: ReleaseSettings<'_>) -> copies::desk::DeskFacts {
        copies::desk::DeskFacts {
            letterhead: settings.letterhead.clone(),
            date: self.clock.today().to_string(),
            addressee,
            address,
            patient_name: name_of(patient),
            birth_date: patient.birth_date.clone(),
            record_number: patient.mrn.clone(),
            request_number: format!("R-{}", row.number),
            received: row.received_on.clone(),
            scope: row.scope.0.describe(),
            created_unix: now_ms() / 1000,
        }
    }

    /// A refused intake: audited (naming the patient when one was confirmed), nothing stored.
    async fn refuse_intake(&self, fields: Vec<FieldError>, patient: Option<&patient_row::Model>) -> Result<RequestView, AppError> {
        let names: Vec<&str> = fields.iter().map(|f| f.field.as_str()).collect();
        let mut event = self.event(AuditAction::ReleaseRequest, Outcome::Failure).detail(format!("intake refused: {}", names.join(",")));
        if let Some(p) = patient {
            event = event.patient(&p.id);
        }
        self.audit_alone(event).await?;
        Err(AppError::Validation { fields })
    }

    /// The invoice of a request with a fee: how it was reckoned, and the rule that bounds it.
    async fn invoice_file(&self, patient: &patient_row::Model, row: &release_request::Model, fee_row: FeeRow, settings: ReleaseSettings<'_>) -> Result<Produced, AppError> {
        let facts = self.desk_facts(patient, row, row.requester_name.clone().unwrap_or_default(), row.requester_address.clone(), settings);
        let (kind, fee, pages, row_fee) = (row.requester_type, u32::try_from(row.fee_cents).unwrap_or(0), u32::try_from(row.pages).unwrap_or(0), fee_row);
        let (lines, rule) = match kind.fee_rule() {
            intake::FeeRule::CostBased => (
                vec![("Copy of the patient's own record".to_string(), fee_text(fee))],
                "Cost-based fee for the patient's own copy: no charge for search or retrieval (45 CFR 164.524(c)(4)).".to_string(),
            ),
            intake::FeeRule::Schedule => (
                vec![("Flat fee".to_string(), fee_text(row_fee.flat_cents)), (format!("{pages} pages at {} a page", fee_text(row_fee.per_page_cents)), fee_text(row_fee.per_page_cents.saturating_mul(pages)))],
                format!("From the fee schedule for {}{}.", kind.label().to_lowercase(), if settings.fee_cap_cents > 0 { format!(", within the state's cap of {}", fee_text(settings.fee_cap_cents)) } else { String::new() }),
            ),
        };
        let total = fee_text(fee);
        let rendered = tokio::task::spawn_blocking(move || copies::pdf::render(copies::desk::invoice(&facts, &lines, &total, &rule), &|_, _| {})).await??;
        Ok(Produced { kind: "invoice", file_name: format!("invoice-R-{}.pdf", row.number), content_type: "application/pdf", pages: i32::try_from(rendered.pages).ok(), bytes: rendered.bytes })
    }

    /// The clerk ticks what the paper shows (the 164.508 elements, an assurance that arrived
    /// later): saved with the request, on the timeline and audited.
    #[tracing::instrument(skip_all, fields(action = tracing::field::Empty, patient_id = tracing::field::Empty))]
    pub async fn update_checklist(&self, id: &str, ticked: &str) -> Result<RequestView, AppError> {
        self.authorize(Action::WorkRequests, Target::Site, AuditAction::ReleaseRequest).await?;
        let row = release_request::Entity::find_by_id(id.to_string()).one(&self.db).await?.ok_or(AppError::NotFound)?;
        let items = intake::parse_ticked(row.requester_type, ticked).map_err(|e| AppError::Validation { fields: vec![e] })?;
        if row.status.clock_stopped() {
            return Err(AppError::Conflict { message: format!("{} is already decided: its checklist is kept as it was.", super::format_number(row.number)) });
        }
        let missing = row.requester_type.missing(&items);
        let txn = write_transaction(&self.db).await?;
        release_request::Entity::update_many()
            .col_expr(release_request::Column::Checklist, Expr::value(JsonText(items.clone())))
            .col_expr(release_request::Column::UpdatedAtMs, Expr::value(now_ms()))
            .filter(release_request::Column::Id.eq(id))
            .exec(&txn)
            .await?;
        self.staff_note(&txn, &row, waiting_for(row.requester_type, &missing).unwrap_or_else(|| "Checklist complete: ready for review.".into())).await?;
        let codes: Vec<&str> = items.iter().map(|i| i.as_str()).collect();
        audit::record(&txn, self.event(AuditAction::ReleaseRequest, Outcome::Success).patient(&row.patient_id).entity("release_request", id).detail(format!("checklist: {}", codes.join(","))))
            .await?;
        txn.commit().await?;
        self.copy_request(id).await
    }

    /// Refuses a decision or release while the requester type's needs are not met (a logged
    /// request only: a portal request was signed in and, for a third party, signed its
    /// authorization on the portal's own checked form). Audited; nothing changes.
    pub(super) async fn require_checklist(&self, row: &release_request::Model) -> Result<(), AppError> {
        if !row.channel.logged() {
            return Ok(());
        }
        let missing = row.requester_type.missing(&row.checklist);
        let Some(why) = waiting_for(row.requester_type, &missing) else { return Ok(()) };
        let refused = self.event(AuditAction::ReleaseRequest, Outcome::Failure).patient(&row.patient_id).entity("release_request", &row.id).detail(format!("waiting: {}", missing.iter().map(|i| i.as_str()).collect::<Vec<_>>().join(",")));
        self.audit_alone(refused).await?;
        Err(AppError::Validation { fields: vec![FieldError::new("checklist", why)] })
    }

    /// Records the payment of the fee: a step on the timeline, audited.
    #[tracing::instrument(skip_all, fields(action = tracing::field::Empty, patient_id = tracing::field::Empty))]
    pub async fn mark_paid(&self, id: &str) -> Result<RequestView, AppError> {
        self.authorize(Action::WorkRequests, Target::Site, AuditAction::ReleaseRequest).await?;
        let row = release_request::Entity::find_by_id(id.to_string()).one(&self.db).await?.ok_or(AppError::NotFound)?;
        if row.fee_cents <= 0 {
            return Err(AppError::Validation { fields: vec![FieldError::new("paid", "This request has no fee to pay.")] });
        }
        let now = now_ms();
        let txn = write_transaction(&self.db).await?;
        let changed = release_request::Entity::update_many()
            .col_expr(release_request::Column::PaidAtMs, Expr::value(now))
            .filter(release_request::Column::Id.eq(id))
            .filter(release_request::Column::PaidAtMs.is_null())
            .exec(&txn)
            .await?;
        if changed.rows_affected != 1 {
            return Err(AppError::Conflict { message: format!("{} is already marked paid.", super::format_number(row.number)) });
        }
        self.staff_note(&txn, &row, format!("Paid: {}.", fee_text(u32::try_from(row.fee_cents).unwrap_or(0)))).await?;
        audit::record(&txn, self.event(AuditAction::ReleaseRequest, Outcome::Success).patient(&row.patient_id).entity("release_request", id).detail("paid")).await?;
        txn.commit().await?;
        self.copy_request(id).await
    }

    /// The fee schedule, one row per requester type (the cost-based ones shown as such).
    #[tracing::instrument(skip_all, fields(action = tracing::field::Empty, patient_id = tracing::field::Empty))]
    pub async fn fee_schedule(&self) -> Result<Vec<FeeScheduleRow>, AppError> {
        // The administrator who sets it, and the clerks who quote it.
        let setter = crate::backend::policy::decide(&self.principal, Action::SetFees, Target::Site, &crate::backend::policy::Relations::default()) == crate::backend::policy::Decision::Allow;
        if !setter {
            self.require(Action::WorkRequests, AuditAction::FeeSchedule).await?;
        }
        let rows = super::super::rows::fee_schedule::Entity::find().all(&self.db).await?;
        Ok(RequesterType::ALL
            .into_iter()
            .map(|kind| {
                let row = rows.iter().find(|r| r.requester_type == kind.as_str());
                let flat = row.map(|r| u32::try_from(r.flat_cents).unwrap_or(0)).unwrap_or(0);
                let page = row.map(|r| u32::try_from(r.per_page_cents).unwrap_or(0)).unwrap_or(0);
                FeeScheduleRow {
                    requester_type: kind,
                    label: kind.label().into(),
                    flat: fee_text(flat),
                    per_page: fee_text(page),
                    flat_cents: flat,
                    per_page_cents: page,
                    cost_based: kind.fee_rule() == intake::FeeRule::CostBased,
                }
            })
            .collect())
    }

    /// The administrator sets one requester type's fees. The patient's and representatives' fee
    /// is cost-based by law and not on the schedule; neither amount may pass the state's cap.
    #[tracing::instrument(skip_all, fields(action = tracing::field::Empty, patient_id = tracing::field::Empty))]
    pub async fn set_fee(&self, kind: RequesterType, flat_cents: u32, per_page_cents: u32, cap_cents: u32) -> Result<Vec<FeeScheduleRow>, AppError> {
        self.require(Action::SetFees, AuditAction::FeeSchedule).await?;
        if kind.fee_rule() == intake::FeeRule::CostBased {
            return Err(AppError::Validation { fields: vec![FieldError::new("requester_type", "The patient's own copy is cost-based by law (45 CFR 164.524(c)(4)): set self_copy_fee_cents instead.")] });
        }
        check_fee(kind, flat_cents, cap_cents, false).map_err(|e| AppError::Validation { fields: vec![FieldError::new("flat", e.message)] })?;
        check_fee(kind, per_page_cents, cap_cents, false).map_err(|e| AppError::Validation { fields: vec![FieldError::new("per_page", e.message)] })?;
        use super::super::rows::fee_schedule;
        let txn = write_transaction(&self.db).await?;
        fee_schedule::Entity::delete_by_id(kind.as_str().to_string()).exec(&txn).await?;
        fee_schedule::Entity::insert(fee_schedule::ActiveModel {
            requester_type: Set(kind.as_str().into()),
            flat_cents: Set(i32::try_from(flat_cents).unwrap_or(i32::MAX)),
            per_page_cents: Set(i32::try_from(per_page_cents).unwrap_or(i32::MAX)),
            updated_by: Set(self.principal.user_id.clone()),
            updated_at_ms: Set(now_ms()),
        })
        .exec_without_returning(&txn)
        .await?;
        audit::record(&txn, self.event(AuditAction::FeeSchedule, Outcome::Success).detail(format!("{}: flat {flat_cents}, per page {per_page_cents}", kind.as_str()))).await?;
        txn.commit().await?;
        self.fee_schedule().await
    }
}

/// The kinds scans are stored under (`scan-1` ...), one per file, so each downloads by its own
/// address.
const SCAN_KINDS: [&str; MAX_SCANS] = ["scan-1", "scan-2", "scan-3", "scan-4", "scan-5", "scan-6", "scan-7", "scan-8", "scan-9", "scan-10"];
