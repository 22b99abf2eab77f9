//! Personal representatives that HIM staff establish from documents (45 CFR 164.502(g)): the
//! request with its sealed documents, HIM's queue and decision, and ending a representative's
//! access where abuse is suspected (164.502(g)(5)).

use super::*;

/// Checks an upload by its content, not its name: a PDF starts `%PDF-`, a PNG and a JPEG by
/// their signatures. Returns the content type to store.
pub fn sniff_document(bytes: &[u8]) -> Option<&'static str> {
    if bytes.starts_with(b"%PDF-") {
        Some("application/pdf")
    } else if bytes.starts_with(&[0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A]) {
        Some("image/png")
    } else if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some("image/jpeg")
    } else {
        None
    }
}

/// A request to be recognised as a representative, as typed.
#[derive(Debug, Clone, Default)]
pub struct RepresentativeForm {
    pub kind: String,
    pub patient_name: String,
    pub birth_date: String,
    pub mrn: String,
    pub statement: String,
}

/// One uploaded file: its name as sent, its bytes, or the reason it could not be read.
pub type Upload = (String, Result<Vec<u8>, String>);

impl AccessContext {

    /// The bytes of documents this account uploaded since `since_ms` (every request of theirs).
    async fn uploaded_since(&self, since_ms: i64) -> Result<u64, AppError> {
        let requests: Vec<String> = representative_request::Entity::find()
            .select_only()
            .column(representative_request::Column::Id)
            .filter(representative_request::Column::RequesterUserId.eq(self.principal.user_id.as_str()))
            .filter(representative_request::Column::CreatedAtMs.gte(since_ms))
            .into_tuple()
            .all(&self.db)
            .await?;
        if requests.is_empty() {
            return Ok(0);
        }
        let sizes: Vec<i64> = representative_document::Entity::find()
            .select_only()
            .column(representative_document::Column::Size)
            .filter(representative_document::Column::RequestId.is_in(requests))
            .into_tuple()
            .all(&self.db)
            .await?;
        Ok(sizes.into_iter().map(|s| u64::try_from(s).unwrap_or(0)).sum())
    }
    pub(super) async fn representative_view(&self, row: representative_request::Model) -> Result<RepresentativeView, AppError> {
        let requester = app_user::Entity::find_by_id(row.requester_user_id.clone()).one(&self.db).await?.stored("representative_request", "requester_user_id")?;
        let documents = representative_document::Entity::find()
            .select_only()
            .columns([
                representative_document::Column::Id,
                representative_document::Column::FileName,
                representative_document::Column::ContentType,
                representative_document::Column::Size,
            ])
            .filter(representative_document::Column::RequestId.eq(row.id.as_str()))
            .order_by_asc(representative_document::Column::CreatedAtMs)
            .into_tuple::<(String, String, String, i64)>()
            .all(&self.db)
            .await?;
        Ok(RepresentativeView {
            id: row.id,
            requester_name: requester.display_name,
            requester_email: requester.email,
            kind: row.kind,
            patient_name: row.patient_name,
            birth_date: row.birth_date,
            mrn: row.mrn,
            statement: row.statement,
            submitted_on: self.clock.day(row.created_at_ms),
            status: row.status,
            reason: row.reason,
            documents: documents.into_iter().map(|(id, file_name, content_type, size)| DocumentLink { id, file_name, content_type, size }).collect(),
        })
    }

    /// Someone asks to be recognised as a patient's personal representative, with supporting
    /// documents (a PDF or an image, checked by content, at most `document_max_bytes` each),
    /// sealed before they are stored. Any problem is reported on its field and nothing is kept.
    #[tracing::instrument(skip_all, fields(action = tracing::field::Empty, patient_id = tracing::field::Empty))]
    pub async fn submit_representative_request(
        &self,
        form: &RepresentativeForm,
        uploads: Vec<Upload>,
        settings: &CaregiverSettings,
        keys: &FileKeys,
    ) -> Result<RepresentativeView, AppError> {
        let mut fields = Vec::new();
        let mut problem = |name: &str, message: String| fields.push(FieldError { field: name.into(), message });
        let kind = GrantKind::parse(form.kind.trim()).filter(|k| *k != GrantKind::Invitation);
        if kind.is_none() {
            problem("kind", "Choose how you are related to the patient.".into());
        }
        let name = form.patient_name.split_whitespace().collect::<Vec<_>>().join(" ");
        if name.is_empty() || name.chars().count() > 200 {
            problem("patient_name", "Enter the patient's full name (up to 200 characters).".into());
        }
        if IsoDate::parse(&form.birth_date).is_err() {
            problem("birth_date", "Enter the patient's date of birth as YYYY-MM-DD.".into());
        }
        let mrn = form.mrn.trim();
        if !mrn.is_empty() && Mrn::parse(mrn).is_err() {
            problem("mrn", "The medical record number is letters and digits, as on a letter or wristband; leave it empty if you do not know it.".into());
        }
        let statement = form.statement.trim();
        if statement.chars().count() > 2000 {
            problem("statement", "Keep the explanation under 2000 characters.".into());
        }
        let mut files = Vec::new();
        let real: Vec<&Upload> = uploads.iter().filter(|(name, bytes)| !(name.is_empty() && bytes.as_ref().is_ok_and(|b| b.is_empty()))).collect();
        if real.is_empty() {
            problem("documents", "Attach at least one document that shows your authority (a birth certificate, court order or power of attorney).".into());
        }
        if real.len() > MAX_DOCUMENTS {
            problem("documents", format!("Attach at most {MAX_DOCUMENTS} documents."));
        }
        let max_mb = settings.document_max_bytes / (1024 * 1024);
        for (file_name, bytes) in real {
            match bytes {
                Err(e) => problem("documents", format!("{file_name}: {e}")),
                Ok(b) if b.len() as u64 > settings.document_max_bytes => problem("documents", format!("{file_name} is larger than {max_mb} MB.")),
                Ok(b) => match sniff_document(b) {
                    Some(content_type) => files.push((file_name.clone(), content_type, b.clone())),
                    None => problem("documents", format!("{file_name} is not a PDF, PNG or JPEG file (its content was checked, not its name).")),
                },
            }
        }
        if !fields.is_empty() {
            self.audit_alone(self.event(AuditAction::RepresentativeRequest, Outcome::Failure).detail("invalid_form"))
                .await?;
            return Err(AppError::Validation { fields });
        }
        // At most `upload_bytes_per_day` per account over 24 hours.
        let sent_today = self.uploaded_since(now_ms() - 24 * 3600 * 1000).await?;
        let adding: u64 = files.iter().map(|(_, _, b)| b.len() as u64).sum();
        if sent_today.saturating_add(adding) > settings.upload_bytes_per_day {
            self.audit_alone(self.event(AuditAction::RepresentativeRequest, Outcome::Failure).detail("daily_upload_limit")).await?;
            let mb = |b: u64| b.div_ceil(1024 * 1024);
            return Err(AppError::Validation {
                fields: vec![FieldError::new(
                    "documents",
                    format!("You have sent {} MB of documents in the last 24 hours; the limit is {} MB a day. Try again tomorrow, or bring the papers to the records office.", mb(sent_today), mb(settings.upload_bytes_per_day)),
                )],
            });
        }
        let Some(kind) = kind else { return Err(AppError::bad_request()) };
        let id = uuid::Uuid::new_v4().to_string();
        let now = now_ms();
        let txn = write_transaction(&self.db).await?;
        representative_request::Entity::insert(representative_request::ActiveModel {
            id: Set(id.clone()),
            requester_user_id: Set(self.principal.user_id.clone()),
            kind: Set(kind),
            patient_name: Set(name),
            birth_date: Set(form.birth_date.trim().to_string()),
            mrn: Set(mrn.to_ascii_uppercase()),
            statement: Set(statement.to_string()),
            status: Set("pending".into()),
            patient_id: Set(None),
            grant_id: Set(None),
            decided_by: Set(None),
            decided_at_ms: Set(None),
            reason: Set(None),
            created_at_ms: Set(now),
        })
        .exec_without_returning(&txn)
        .await?;
        for (file_name, content_type, bytes) in files {
            let doc_id = uuid::Uuid::new_v4().to_string();
            let sealed = keys.seal(&bytes, &format!("representative/{id}/{doc_id}"))?;
            representative_document::Entity::insert(representative_document::ActiveModel {
                id: Set(doc_id),
                request_id: Set(id.clone()),
                file_name: Set(file_name.chars().take(200).collect()),
                content_type: Set(content_type.into()),
                size: Set(bytes.len() as i64),
                sha256: Set(crate::backend::copies::sha256_hex(&bytes)),
                key_id: Set(sealed.key_id),
                nonce: Set(sealed.nonce),
                ciphertext: Set(sealed.ciphertext),
                created_at_ms: Set(now),
            })
            .exec_without_returning(&txn)
            .await?;
        }
        audit::record(&txn, self.event(AuditAction::RepresentativeRequest, Outcome::Success).entity("representative_request", &id).detail(format!("kind={}", kind.as_str())))
            .await?;
        txn.commit().await?;
        let row = representative_request::Entity::find_by_id(id).one(&self.db).await?.ok_or(AppError::NotFound)?;
        self.representative_view(row).await
    }

    /// The signed-in user's own representative requests, newest first.
    #[tracing::instrument(skip_all, fields(action = tracing::field::Empty, patient_id = tracing::field::Empty))]
    pub async fn my_representative_requests(&self) -> Result<Vec<RepresentativeView>, AppError> {
        let rows = representative_request::Entity::find()
            .filter(representative_request::Column::RequesterUserId.eq(self.principal.user_id.as_str()))
            .order_by_desc(representative_request::Column::CreatedAtMs)
            .limit(50)
            .all(&self.db)
            .await?;
        let mut out = Vec::new();
        for r in rows {
            out.push(self.representative_view(r).await?);
        }
        Ok(out)
    }

    /// HIM staff's queue: pending requests, oldest first.
    #[tracing::instrument(skip_all, fields(action = tracing::field::Empty, patient_id = tracing::field::Empty))]
    pub async fn representative_queue(&self) -> Result<Vec<RepresentativeView>, AppError> {
        self.require(Action::VerifyRepresentatives, AuditAction::RepresentativeDecide).await?;
        let rows = representative_request::Entity::find()
            .filter(representative_request::Column::Status.eq("pending"))
            .order_by_asc(representative_request::Column::CreatedAtMs)
            .limit(200)
            .all(&self.db)
            .await?;
        let mut out = Vec::new();
        for r in rows {
            out.push(self.representative_view(r).await?);
        }
        self.audit_list("representative_queue", out.len(), false).await?;
        Ok(out)
    }

    /// A supporting document, opened for HIM staff (or the person who sent it). Audited.
    #[tracing::instrument(skip_all, fields(action = tracing::field::Empty, patient_id = tracing::field::Empty))]
    pub async fn representative_document(&self, request_id: &str, document_id: &str, keys: &FileKeys) -> Result<(DocumentLink, Vec<u8>), AppError> {
        let request = representative_request::Entity::find_by_id(request_id.to_string()).one(&self.db).await?.ok_or(AppError::NotFound)?;
        if request.requester_user_id != self.principal.user_id {
            self.require(Action::VerifyRepresentatives, AuditAction::RepresentativeDecide).await?;
        }
        let doc = representative_document::Entity::find_by_id(document_id.to_string())
            .filter(representative_document::Column::RequestId.eq(request_id))
            .one(&self.db)
            .await?
            .ok_or(AppError::NotFound)?;
        let sealed = Sealed { key_id: doc.key_id.clone(), nonce: doc.nonce.clone(), ciphertext: doc.ciphertext.clone() };
        let bytes = keys.open(&sealed, &format!("representative/{request_id}/{}", doc.id))?;
        self.audit_alone(self.event(AuditAction::RepresentativeDecide, Outcome::Success).entity("representative_document", &doc.id).detail("document opened"))
            .await?;
        Ok((DocumentLink { id: doc.id, file_name: doc.file_name, content_type: doc.content_type, size: doc.size }, bytes))
    }

    /// HIM staff approve a representative (matched to a record by its number; the scope and
    /// expiry they verified) or refuse with a reason (45 CFR 164.502(g)(5): also where abuse or
    /// endangerment is suspected). The requester is told either way.
    #[tracing::instrument(skip_all, fields(action = tracing::field::Empty, patient_id = tracing::field::Empty))]
    pub async fn decide_representative(&self, id: &str, approve: bool, mrn: &str, scope: GrantScope, days: Option<u32>, reason: &str) -> Result<RepresentativeView, AppError> {
        self.require(Action::VerifyRepresentatives, AuditAction::RepresentativeDecide).await?;
        let row = representative_request::Entity::find_by_id(id.to_string()).one(&self.db).await?.ok_or(AppError::NotFound)?;
        if row.status != "pending" {
            return Err(AppError::Conflict { message: "This request has already been decided.".into() });
        }
        let reason = reason.trim();
        let now = now_ms();
        if !approve {
            if reason.is_empty() {
                return Err(field("reason", "Give the reason for refusing; the requester is told."));
            }
            let txn = write_transaction(&self.db).await?;
            let decided = representative_request::Entity::update_many()
                .col_expr(representative_request::Column::Status, Expr::value("refused"))
                .col_expr(representative_request::Column::DecidedBy, Expr::value(self.principal.user_id.clone()))
                .col_expr(representative_request::Column::DecidedAtMs, Expr::value(now))
                .col_expr(representative_request::Column::Reason, Expr::value(reason.chars().take(500).collect::<String>()))
                .filter(representative_request::Column::Id.eq(id))
                .filter(representative_request::Column::Status.eq("pending"))
                .exec(&txn)
                .await?;
            // Two clerks deciding at once: only the first decision counts.
            if decided.rows_affected != 1 {
                return Err(AppError::Conflict { message: "This request has already been decided.".into() });
            }
            notify_user(&txn, &row.requester_user_id, "Your request to act for a patient was refused. Sign in to see the reason.".into()).await?;
            audit::record(&txn, self.event(AuditAction::RepresentativeDecide, Outcome::Success).entity("representative_request", id).detail("refused"))
                .await?;
            txn.commit().await?;
        } else {
            let mrn_value = Mrn::parse(mrn.trim()).map_err(|_| field("mrn", "Enter the medical record number of the patient you verified."))?;
            let patient = patient_row::Entity::find()
                .filter(patient_row::Column::SiteCode.eq(self.site_code.as_str()))
                .filter(patient_row::Column::Mrn.eq(mrn_value.as_str()))
                .one(&self.db)
                .await?
                .ok_or_else(|| field("mrn", "No patient has this medical record number."))?;
            if patient.birth_date != row.birth_date {
                return Err(field("mrn", "This record's date of birth does not match the one in the request."));
            }
            let kind = row.kind;
            let band = band_of(&patient.birth_date, self.ages, self.clock.today());
            if kind == GrantKind::ParentOfMinor && band == AgeBand::Adult {
                return Err(field("mrn", "This patient is an adult: a parent's access ended at 18. The patient can invite them instead."));
            }
            if kind == GrantKind::Executor && patient.deceased_date.is_none() {
                return Err(field("mrn", "This record does not show the patient as deceased; an executor acts only for a deceased patient."));
            }
            if let Some(d) = days
                && d == 0
            {
                return Err(field("days", "Enter a number of days, or leave it empty for no end date."));
            }
            let grant_id = uuid::Uuid::new_v4().to_string();
            let txn = write_transaction(&self.db).await?;
            caregiver_grant::Entity::insert(caregiver_grant::ActiveModel {
                id: Set(grant_id.clone()),
                patient_id: Set(patient.id.clone()),
                user_id: Set(row.requester_user_id.clone()),
                kind: Set(kind),
                view_scope: Set(scope.view),
                request_copies: Set(scope.request_copies),
                track_requests: Set(scope.track_requests),
                granted_by: Set(self.principal.user_id.clone()),
                source_id: Set(Some(row.id.clone())),
                starts_at_ms: Set(now),
                expires_at_ms: Set(days.map(|d| now + i64::from(d) * DAY_MS)),
                applied_band: Set(band),
                ended_at_ms: Set(None),
                ended_by: Set(None),
                end_reason: Set(None),
                created_at_ms: Set(now),
            })
            .exec_without_returning(&txn)
            .await?;
            let decided = representative_request::Entity::update_many()
                .col_expr(representative_request::Column::Status, Expr::value("approved"))
                .col_expr(representative_request::Column::PatientId, Expr::value(patient.id.clone()))
                .col_expr(representative_request::Column::GrantId, Expr::value(grant_id.clone()))
                .col_expr(representative_request::Column::DecidedBy, Expr::value(self.principal.user_id.clone()))
                .col_expr(representative_request::Column::DecidedAtMs, Expr::value(now))
                .filter(representative_request::Column::Id.eq(id))
                .filter(representative_request::Column::Status.eq("pending"))
                .exec(&txn)
                .await?;
            // Decided by someone else meanwhile: the transaction (and its grant) is dropped.
            if decided.rows_affected != 1 {
                return Err(AppError::Conflict { message: "This request has already been decided.".into() });
            }
            ensure_caregiver_role(&txn, &row.requester_user_id).await?;
            notify_user(&txn, &row.requester_user_id, "Your request to act for a patient was approved. Choose them under \"People I help\".".into()).await?;
            if let Some(account) = patient_account(&txn, &patient.id).await? {
                notify_user(&txn, &account.id, "HIM staff recognised a representative who can now see your record. See \"Who can see my records\".".into()).await?;
            }
            audit::record(
                &txn,
                self.event(AuditAction::RepresentativeDecide, Outcome::Success)
                    .patient(&patient.id)
                    .entity("caregiver_grant", &grant_id)
                    .detail(format!("approved kind={} user={}", kind.as_str(), row.requester_user_id)),
            )
            .await?;
            txn.commit().await?;
        }
        let row = representative_request::Entity::find_by_id(id.to_string()).one(&self.db).await?.ok_or(AppError::NotFound)?;
        self.representative_view(row).await
    }

    /// Every grant on a patient's record, for HIM staff (to end one where abuse is suspected).
    #[tracing::instrument(skip_all, fields(action = tracing::field::Empty, patient_id = tracing::field::Empty))]
    pub async fn patient_grants(&self, patient_id: &str) -> Result<Vec<GrantView>, AppError> {
        self.authorize(Action::VerifyRepresentatives, Target::Site, AuditAction::RepresentativeDecide).await?;
        let rows = caregiver_grant::Entity::find()
            .filter(caregiver_grant::Column::PatientId.eq(patient_id))
            .order_by_desc(caregiver_grant::Column::CreatedAtMs)
            .limit(200)
            .all(&self.db)
            .await?;
        self.audit_alone(self.event(AuditAction::PatientRead, Outcome::Success).patient(patient_id).entity("caregivers", patient_id))
            .await?;
        self.grant_views(rows).await
    }

    /// HIM staff end a representative's access (45 CFR 164.502(g)(5): abuse, neglect or
    /// endangerment suspected), with the reason kept in the history.
    #[tracing::instrument(skip_all, fields(action = tracing::field::Empty, patient_id = tracing::field::Empty))]
    pub async fn end_grant_by_staff(&self, grant_id: &str, reason: &str) -> Result<(), AppError> {
        self.authorize(Action::VerifyRepresentatives, Target::Site, AuditAction::CaregiverRevoke).await?;
        let reason = reason.trim();
        if reason.is_empty() {
            return Err(field("reason", "Give the reason for ending this access; it is kept in the record's history."));
        }
        self.end_grant(grant_id, None, &format!("Ended by HIM: {reason}")).await
    }
}
