//! Activation and identity verification: HIM staff issue an activation code for a patient
//! record or link a self-registered account after checking identity (45 CFR 164.514(h)), and a
//! person redeems a code with their date of birth. Redeeming runs without an access context:
//! the person is not signed in yet; the code and the date of birth together are the proof.

use super::*;
use super::patients::to_summary;
use crate::domain::{LinkFacts, LinkPreview, link_differences};

impl AccessContext {
    /// Issues a new activation code for a patient record (any earlier unused code stops working).
    /// The code is shown once, for the letter; only its SHA-256 hash is stored.
    #[tracing::instrument(skip_all, fields(action = tracing::field::Empty, patient_id = tracing::field::Empty))]
    /// Whether this person may issue activation codes for `patient_id` (NotFound when not).
    pub async fn may_issue_activation_code(&self, patient_id: &str) -> Result<(), AppError> {
        self.authorize(Action::IssueActivationCode, Target::Patient(patient_id), AuditAction::ActivationIssue).await
    }

    pub async fn issue_activation_code(&self, patient_id: &str, valid_days: u32) -> Result<ActivationLetter, AppError> {
        use crate::backend::entities::one_time_token;
        self.authorize(Action::IssueActivationCode, Target::Patient(patient_id), AuditAction::ActivationIssue).await?;
        let patient = patient_row::Entity::find_by_id(patient_id.to_string())
            .filter(patient_row::Column::SiteCode.eq(self.site_code.as_str()))
            .one(&self.db)
            .await?
            .ok_or(AppError::NotFound)?;
        let code = new_code();
        let now = now_ms();
        let expires = now + i64::from(valid_days) * 86_400_000;
        let txn = write_transaction(&self.db).await?;
        one_time_token::Entity::delete_many()
            .filter(one_time_token::Column::PatientId.eq(patient_id))
            .filter(one_time_token::Column::Purpose.eq(PURPOSE))
            .filter(one_time_token::Column::UsedAtMs.is_null())
            .exec(&txn)
            .await?;
        one_time_token::Entity::insert(one_time_token::ActiveModel {
            token_hash: Set(hash(&code)),
            purpose: Set(PURPOSE.into()),
            user_id: Set(None),
            patient_id: Set(Some(patient_id.to_string())),
            issued_by: Set(Some(self.principal.user_id.clone())),
            created_at_ms: Set(now),
            expires_at_ms: Set(expires),
            used_at_ms: Set(None),
        })
        .exec(&txn)
        .await?;
        audit::record(
            &txn,
            self.event(AuditAction::ActivationIssue, Outcome::Success).patient(patient_id).entity("patient", patient_id),
        )
        .await?;
        txn.commit().await?;
        Ok(ActivationLetter {
            patient_id: patient.id,
            patient_name: format!("{} {}", patient.given_names, patient.family_name),
            mrn: patient.mrn,
            code,
            expires_on: self.clock.day(expires),
        })
    }
}

impl AccessContext {
    /// Self-registered accounts waiting for identity verification, oldest first.
    #[tracing::instrument(skip_all, fields(action = tracing::field::Empty, patient_id = tracing::field::Empty))]
    pub async fn pending_verifications(&self) -> Result<Vec<PendingVerification>, AppError> {
        use crate::backend::entities::{app_user, identity_claim};
        self.authorize(Action::VerifyIdentity, Target::Site, AuditAction::IdentityVerify).await?;
        let claims = identity_claim::Entity::find()
            .order_by_asc(identity_claim::Column::CreatedAtMs)
            .limit(200)
            .all(&self.db)
            .await?;
        let mut out = Vec::new();
        for claim in claims {
            let Some(user) = app_user::Entity::find_by_id(claim.user_id.clone())
                .one(&self.db)
                .await?
            else {
                continue;
            };
            // Only registrations finished from the mailbox: the rest may be someone else's
            // address, and cannot sign in anyway.
            if user.patient_id.is_some() || user.status != "active" || user.email_verified_at_ms.is_none() {
                continue;
            }
            out.push(PendingVerification {
                user_id: user.id,
                email: user.email,
                full_name: claim.full_name,
                birth_date: claim.birth_date,
                phone: claim.phone,
                registered: self.clock.minutes(claim.created_at_ms),
            });
        }
        self.audit_list("pending_verifications", out.len(), false).await?;
        Ok(out)
    }

    /// The account and the record side by side before linking (45 CFR 164.514(h)): the
    /// registered name, birth date and contact of each, and which facts differ. Audited as a
    /// read of the record.
    #[tracing::instrument(skip_all, fields(action = tracing::field::Empty, patient_id = tracing::field::Empty))]
    pub async fn link_preview(&self, user_id: &str, mrn: &str) -> Result<LinkPreview, AppError> {
        let (user, claim, patient) = self.link_parties(user_id, mrn).await?;
        let preview = link_preview_of(&user, claim.as_ref(), &patient, mrn);
        self.audit_alone(self.event(AuditAction::IdentityVerify, Outcome::Success).patient(&patient.id).entity("user", &user.id).detail("compared before linking"))
            .await?;
        Ok(preview)
    }

    /// The account waiting to be linked, its claim, and the record `mrn` names (refused, by
    /// field, when the record does not exist or already has an account).
    async fn link_parties(&self, user_id: &str, mrn: &str) -> Result<(crate::backend::entities::app_user::Model, Option<crate::backend::entities::identity_claim::Model>, patient_row::Model), AppError> {
        use crate::backend::entities::{app_user, identity_claim};
        self.authorize(Action::VerifyIdentity, Target::Site, AuditAction::IdentityVerify).await?;
        let mrn_field = |message: &str| AppError::Validation {
            fields: vec![FieldError { field: "mrn".into(), message: message.into() }],
        };
        let patient = patient_row::Entity::find()
            .filter(patient_row::Column::SiteCode.eq(self.site_code.as_str()))
            .filter(patient_row::Column::Mrn.eq(mrn.trim().to_ascii_uppercase()))
            .one(&self.db)
            .await?
            .ok_or_else(|| mrn_field("No patient has this medical record number."))?;
        let taken = app_user::Entity::find()
            .filter(app_user::Column::PatientId.eq(patient.id.as_str()))
            .one(&self.db)
            .await?;
        if taken.is_some() {
            return Err(mrn_field("This record already has an account linked to it."));
        }
        let user = app_user::Entity::find_by_id(user_id.to_string())
            .one(&self.db)
            .await?
            .filter(|u| u.patient_id.is_none())
            .ok_or(AppError::NotFound)?;
        // Only an account that asked to be linked, by its own pending identity claim, and never
        // the clerk's own or a staff account: a clerk must not give themselves (or a colleague)
        // a patient's record (45 CFR 164.514(h), 164.308(a)(4): access by role, not by desk).
        let claim = identity_claim::Entity::find_by_id(user.id.clone()).one(&self.db).await?;
        let staff = crate::backend::auth::users::roles_of(&self.db, &user.id).await?.iter().any(|r| r.is_staff());
        let refusal = if user.id == self.principal.user_id {
            Some("link refused: the clerk's own account")
        } else if staff {
            Some("link refused: a staff account")
        } else if claim.is_none() {
            Some("link refused: no pending identity claim")
        } else if user.email_verified_at_ms.is_none() {
            // A registration nobody finished from the mailbox may be someone else's address.
            Some("link refused: the account's address is not confirmed")
        } else {
            None
        };
        if let Some(detail) = refusal {
            self.audit_alone(self.event(AuditAction::IdentityVerify, Outcome::Failure).patient(&patient.id).entity("user", &user.id).detail(detail)).await?;
            return Err(AppError::NotFound);
        }
        Ok((user, claim, patient))
    }

    /// Links a self-registered account to the patient record `mrn` after HIM staff verified the
    /// person's identity (45 CFR 164.514(h)): grants the patient role, ends the account's
    /// sessions (new privileges need a new sign-in), audited in the same transaction. When the
    /// account's family name or birth date differs from the record's, linking needs a written
    /// reason, kept in the audit trail with what differed.
    #[tracing::instrument(skip_all, fields(action = tracing::field::Empty, patient_id = tracing::field::Empty))]
    pub async fn verify_identity(&self, user_id: &str, mrn: &str, reason: Option<&str>) -> Result<PatientSummary, AppError> {
        use crate::backend::entities::{app_user, identity_claim, user_role};
        let (user, claim, patient) = self.link_parties(user_id, mrn).await?;
        let preview = link_preview_of(&user, claim.as_ref(), &patient, mrn);
        let reason: Option<String> = reason.map(|r| r.split_whitespace().collect::<Vec<_>>().join(" ").chars().take(500).collect()).filter(|r: &String| !r.is_empty());
        if !preview.differs.is_empty() && reason.is_none() {
            let refused = self.event(AuditAction::IdentityVerify, Outcome::Failure).patient(&patient.id).entity("user", &user.id).detail(format!("link refused: {} differ, no reason", preview.differs.join(" and ")));
            self.audit_alone(refused).await?;
            return Err(AppError::Validation {
                fields: vec![FieldError::new(
                    "reason",
                    format!(
                        "The account says {}, born {}; the record says {}, born {}. Write why they are the same person to link anyway.",
                        preview.account.name, preview.account.birth_date, preview.record.name, preview.record.birth_date
                    ),
                )],
            });
        }
        let detail = match (&reason, preview.differs.is_empty()) {
            (Some(r), false) => format!("linked despite {} differing: {r}", preview.differs.join(" and ")),
            (Some(r), true) => format!("linked: {r}"),
            (None, _) => "linked: name and birth date agree".to_string(),
        };
        let txn = write_transaction(&self.db).await?;
        app_user::Entity::update_many()
            .col_expr(app_user::Column::PatientId, Expr::value(patient.id.clone()))
            .filter(app_user::Column::Id.eq(user.id.as_str()))
            .exec(&txn)
            .await
            ?;
        user_role::Entity::insert(user_role::ActiveModel {
            user_id: Set(user.id.clone()),
            role: Set(crate::domain::Role::Patient.as_str().into()),
            granted_at_ms: Set(now_ms()),
        })
        .exec(&txn)
        .await
        ?;
        identity_claim::Entity::delete_by_id(user.id.clone()).exec(&txn).await?;
        crate::backend::auth::sessions::revoke_all(&txn, &user.id).await?;
        audit::record(
            &txn,
            self.event(AuditAction::IdentityVerify, Outcome::Success).patient(&patient.id).entity("user", &user.id).detail(detail),
        )
        .await
        ?;
        audit::record(
            &txn,
            self.event(AuditAction::RoleGrant, Outcome::Success).entity("user", &user.id).detail("role=patient"),
        )
        .await
        ?;
        txn.commit().await?;
        Ok(to_summary(patient))
    }
}

/// The comparison HIM staff read before linking.
fn link_preview_of(user: &crate::backend::entities::app_user::Model, claim: Option<&crate::backend::entities::identity_claim::Model>, patient: &patient_row::Model, mrn: &str) -> LinkPreview {
    let name = claim.map(|c| c.full_name.clone()).unwrap_or_else(|| user.display_name.clone());
    let birth = claim.map(|c| c.birth_date.clone()).unwrap_or_default();
    let account_contact = [Some(user.email.clone()), claim.and_then(|c| c.phone.clone())].into_iter().flatten().collect::<Vec<_>>().join(" · ");
    let record_contact = [patient.email.clone(), patient.phone.clone()].into_iter().flatten().collect::<Vec<_>>().join(" · ");
    LinkPreview {
        user_id: user.id.clone(),
        mrn: mrn.trim().to_ascii_uppercase(),
        differs: link_differences(&name, &birth, &patient.family_name, &patient.birth_date),
        account: LinkFacts { name, birth_date: birth, contact: account_contact },
        record: LinkFacts { name: format!("{} {}", patient.given_names, patient.family_name), birth_date: patient.birth_date.clone(), contact: record_contact },
    }
}

use crate::backend::auth::throttle::{self, ThrottlePolicy};
use crate::backend::auth::users::{self, NewUser, UserError};
use crate::backend::entities::{app_user, one_time_token};
use sha2::{Digest, Sha256};

pub const PURPOSE: &str = "activation";

/// `ABCD-EFGH-JKMN`: 12 characters from an alphabet without look-alikes (about 59 bits).
pub fn new_code() -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHJKMNPQRSTUVWXYZ23456789";
    let chars: String = (0..12).map(|_| ALPHABET[usize::from(rand::random::<u8>()) % ALPHABET.len()] as char).collect();
    format!("{}-{}-{}", &chars[..4], &chars[4..8], &chars[8..])
}

/// Typed in any case, with or without dashes or spaces.
pub fn hash(code: &str) -> String {
    let normalized: String = code.chars().filter(|c| c.is_ascii_alphanumeric()).collect::<String>().to_ascii_uppercase();
    hex::encode(Sha256::digest(normalized.as_bytes()))
}

#[derive(Debug, thiserror::Error)]
pub enum RedeemError {
    /// Unknown, used or expired code, or a date of birth that does not match: one answer.
    #[error("the code or the date of birth is not right")]
    Invalid,
    #[error("locked for {retry_after_secs} s")]
    Locked { retry_after_secs: u64 },
    #[error("this record already has an account")]
    AlreadyActivated,
    #[error(transparent)]
    User(#[from] UserError),
    #[error(transparent)]
    Db(#[from] sea_orm::DbErr),
}

/// What the registration form carries.
pub struct Redeem {
    /// The code's hash ([`hash_typed`]); `None` when what was typed cannot be a code.
    pub code_hash: Option<String>,
    pub birth_date: String,
    pub new_user: NewUser,
    /// An OpenID identity to link to the new account instead of a password.
    pub link: Option<Link>,
}

/// A provider identity to link at activation.
pub struct Link {
    pub issuer: String,
    pub subject: String,
    pub provider_label: String,
}

/// The hash of a typed code, or `None` when it is far too long to be one.
pub fn hash_typed(code: &str) -> Option<String> {
    (code.len() <= 64).then(|| hash(code))
}

/// Checks the code and date of birth, then creates the patient's account linked to the record
/// and spends the code, all in one transaction. Failures are counted per client address and
/// audited. Returns the new user's id.
pub async fn redeem(
    db: &DatabaseConnection,
    auth: &crate::backend::auth::Auth,
    policy: &ThrottlePolicy,
    redeem: Redeem,
    request: &RequestMeta,
) -> Result<String, RedeemError> {
    let now = now_ms();
    let key = format!("activation:{}", request.client_address);
    // Counted before the code is looked at (see `throttle::take`); a redemption that works
    // clears the address's count below.
    let txn = write_transaction(db).await?;
    if let throttle::Taken::Locked { ms } = throttle::take(&txn, policy, &key, policy.account_threshold, now).await? {
        audit::record(&txn, AuditEvent::new(AuditAction::ActivationRedeem, Outcome::Failure, request).detail("locked")).await?;
        txn.commit().await?;
        return Err(RedeemError::Locked { retry_after_secs: (ms as u64).div_ceil(1000) });
    }
    txn.commit().await?;
    let token = match &redeem.code_hash {
        Some(code_hash) => {
            one_time_token::Entity::find_by_id(code_hash.clone())
                .filter(one_time_token::Column::Purpose.eq(PURPOSE))
                .one(db)
                .await?
        }
        None => None,
    };
    let patient = match &token {
        Some(t) => match &t.patient_id {
            Some(id) => patient_row::Entity::find_by_id(id.clone()).one(db).await?,
            None => None,
        },
        None => None,
    };
    let reason = match (&token, &patient) {
        (None, _) | (_, None) => Some("unknown_code"),
        (Some(t), _) if t.used_at_ms.is_some() => Some("used_code"),
        (Some(t), _) if t.expires_at_ms <= now => Some("expired_code"),
        (_, Some(p)) if p.birth_date != redeem.birth_date.trim() => Some("birth_date_mismatch"),
        _ => None,
    };
    if let Some(reason) = reason {
        let mut event = AuditEvent::new(AuditAction::ActivationRedeem, Outcome::Failure, request).detail(reason);
        if let Some(p) = &patient {
            event = event.patient(&p.id);
        }
        audit::record_alone(db, event).await?;
        return Err(RedeemError::Invalid);
    }
    let (Some(token), Some(patient)) = (token, patient) else { return Err(RedeemError::Invalid) };
    let taken = app_user::Entity::find().filter(app_user::Column::PatientId.eq(patient.id.as_str())).one(db).await?;
    if taken.is_some() {
        audit::record_alone(db, AuditEvent::new(AuditAction::ActivationRedeem, Outcome::Failure, request).patient(&patient.id).detail("already_activated")).await?;
        return Err(RedeemError::AlreadyActivated);
    }
    let mut new_user = redeem.new_user;
    new_user.patient_id = Some(patient.id.clone());
    new_user.roles = [crate::domain::Role::Patient].into_iter().collect();
    // The address was typed by the person: confirmed by the link mailed after activation.
    let prepared = users::prepare(auth, new_user).await?.unverified();
    let txn = write_transaction(db).await?;
    // Spend the code first, conditionally, so two registrations racing with one code cannot both win.
    let spent = one_time_token::Entity::update_many()
        .col_expr(one_time_token::Column::UsedAtMs, sea_orm::sea_query::Expr::value(now))
        .filter(one_time_token::Column::TokenHash.eq(token.token_hash.as_str()))
        .filter(one_time_token::Column::UsedAtMs.is_null())
        .exec(&txn)
        .await?;
    if spent.rows_affected != 1 {
        return Err(RedeemError::Invalid);
    }
    let user_id = users::insert(&txn, prepared, None, request).await?;
    if let Some(link) = &redeem.link {
        use crate::backend::auth::identities::{self, LinkError};
        identities::link(&txn, &user_id, &link.issuer, &link.subject, &link.provider_label, request).await.map_err(|e| match e {
            LinkError::Db(e) => RedeemError::Db(e),
            // Checked before the code was spent; lost a race with another account: start over.
            _ => RedeemError::Invalid,
        })?;
    }
    audit::record(
        &txn,
        AuditEvent::new(AuditAction::ActivationRedeem, Outcome::Success, request)
            .actor(&user_id)
            .patient(&patient.id)
            .entity("user", &user_id),
    )
    .await?;
    txn.commit().await?;
    throttle::record_success(db, &throttle::Keys { account: key, address: String::new() }).await?;
    Ok(user_id)
}
