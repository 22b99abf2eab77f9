//! The patient's invitations: inviting someone by email, withdrawing an invitation, revoking a
//! grant, and the invited person's preview and acceptance (45 CFR 164.502(g)).

use super::*;

impl AccessContext {
    /// The patient's own record id, for managing caregivers; a caregiver acting for someone
    /// cannot manage that person's caregivers (never onward).
    pub(super) async fn manage_target(&self, audit_as: AuditAction) -> Result<String, AppError> {
        let own = self.principal.patient_id.clone();
        let target = self.acting_for.clone().or(own).ok_or(AppError::NotFound)?;
        self.authorize(Action::ManageCaregivers, Target::Patient(&target), audit_as).await?;
        Ok(target)
    }

    /// "Who can see my records": active caregivers, pending invitations, representatives HIM
    /// staff decided, live shared links, authorizations in force, and the history of grants
    /// (connected apps come from their own function). Audited as a read.
    #[tracing::instrument(skip_all, fields(action = tracing::field::Empty, patient_id = tracing::field::Empty))]
    pub async fn caregivers_overview(&self, settings: &CaregiverSettings) -> Result<CaregiversOverview, AppError> {
        let patient_id = self.manage_target(AuditAction::CaregiverRevoke).await?;
        let grants = caregiver_grant::Entity::find()
            .filter(caregiver_grant::Column::PatientId.eq(patient_id.as_str()))
            .order_by_desc(caregiver_grant::Column::CreatedAtMs)
            .limit(200)
            .all(&self.db)
            .await?;
        let users: std::collections::HashMap<String, String> = grants.iter().map(|g| (g.id.clone(), g.user_id.clone())).collect();
        let views = self.grant_views(grants).await?;
        let (mut active, history): (Vec<GrantView>, Vec<GrantView>) = views.into_iter().partition(|g| g.active);
        // Each active caregiver's last action on the record, from the audit trail (what they did
        // is in the activity history): one grouped query.
        let acting: Vec<String> = active.iter().filter_map(|v| users.get(&v.id).cloned()).collect();
        let last = self.last_acted_for(&patient_id, acting).await?;
        for view in &mut active {
            view.last_used = users.get(&view.id).and_then(|user| last.get(user)).map(|at| self.clock.minutes(*at));
        }
        let now = now_ms();
        let invitations = caregiver_invitation::Entity::find()
            .filter(caregiver_invitation::Column::PatientId.eq(patient_id.as_str()))
            .order_by_desc(caregiver_invitation::Column::CreatedAtMs)
            .limit(100)
            .all(&self.db)
            .await?
            .iter()
            .map(|r| self.invitation_view(r, now))
            .collect::<Result<_, _>>()?;
        let representatives = representative_request::Entity::find()
            .filter(representative_request::Column::PatientId.eq(patient_id.as_str()))
            .order_by_desc(representative_request::Column::CreatedAtMs)
            .limit(100)
            .all(&self.db)
            .await?;
        let mut reps = Vec::new();
        for r in representatives {
            // The patient sees who asked and the outcome, not the documents.
            let mut view = self.representative_view(r).await?;
            view.documents.clear();
            view.statement.clear();
            reps.push(view);
        }
        let (links, authorizations) = self.sharing_of(&patient_id).await?;
        self.audit_alone(self.event(AuditAction::PatientRead, Outcome::Success).patient(&patient_id).entity("caregivers", &patient_id))
            .await?;
        Ok(CaregiversOverview { active, invitations, history, representatives: reps, links, authorizations, default_days: settings.default_days, max_days: settings.max_days })
    }

    /// The patient invites someone by email. Only the token's hash is stored; the link comes
    /// back once (the page shows it to pass on in person) and is mailed by the caller.
    #[tracing::instrument(skip_all, fields(action = tracing::field::Empty, patient_id = tracing::field::Empty))]
    pub async fn invite_caregiver(&self, form: &InviteForm, settings: &CaregiverSettings, base_url: &str) -> Result<InvitationSent, AppError> {
        let patient_id = self.manage_target(AuditAction::CaregiverInvite).await?;
        let own_email = self.my_email().await?;
        let invite = match form.check(&own_email, settings.max_days) {
            Ok(i) => i,
            Err(fields) => {
                let reason = if fields.iter().any(|f| f.message.contains("your own")) { "self_invitation" } else { "invalid_form" };
                self.audit_alone(self.event(AuditAction::CaregiverInvite, Outcome::Failure).patient(&patient_id).detail(reason))
                    .await?;
                return Err(AppError::Validation { fields });
            }
        };
        let token = new_token();
        let now = now_ms();
        let row = caregiver_invitation::Model {
            id: uuid::Uuid::new_v4().to_string(),
            patient_id: patient_id.clone(),
            invited_by: self.principal.user_id.clone(),
            email: invite.email.as_str().to_string(),
            token_hash: hash_token(&token),
            view_scope: invite.scope.view,
            request_copies: invite.scope.request_copies,
            track_requests: invite.scope.track_requests,
            days: i32::try_from(invite.days).unwrap_or(i32::MAX),
            created_at_ms: now,
            expires_at_ms: now + i64::from(settings.invitation_days) * DAY_MS,
            status: "pending".into(),
            accepted_by: None,
            finished_at_ms: None,
        };
        let txn = write_transaction(&self.db).await?;
        caregiver_invitation::Entity::insert(caregiver_invitation::ActiveModel::from(row.clone()))
            .exec_without_returning(&txn)
            .await?;
        audit::record(&txn, self.event(AuditAction::CaregiverInvite, Outcome::Success).patient(&patient_id).entity("caregiver_invitation", &row.id))
            .await?;
        txn.commit().await?;
        Ok(InvitationSent { invitation: self.invitation_view(&row, now)?, link: format!("{base_url}/caregivers/accept?token={token}") })
    }

    /// The patient withdraws a pending invitation; it can no longer be accepted.
    #[tracing::instrument(skip_all, fields(action = tracing::field::Empty, patient_id = tracing::field::Empty))]
    pub async fn withdraw_invitation(&self, id: &str) -> Result<(), AppError> {
        let patient_id = self.manage_target(AuditAction::CaregiverInvite).await?;
        let txn = write_transaction(&self.db).await?;
        let done = caregiver_invitation::Entity::update_many()
            .col_expr(caregiver_invitation::Column::Status, Expr::value("withdrawn"))
            .col_expr(caregiver_invitation::Column::FinishedAtMs, Expr::value(now_ms()))
            .filter(caregiver_invitation::Column::Id.eq(id))
            .filter(caregiver_invitation::Column::PatientId.eq(patient_id.as_str()))
            .filter(caregiver_invitation::Column::Status.eq("pending"))
            .exec(&txn)
            .await?;
        if done.rows_affected != 1 {
            return Err(AppError::Conflict { message: "This invitation is no longer pending.".into() });
        }
        audit::record(&txn, self.event(AuditAction::CaregiverInvite, Outcome::Success).patient(&patient_id).entity("caregiver_invitation", id).detail("withdrawn"))
            .await?;
        txn.commit().await?;
        Ok(())
    }

    /// Ends a grant: the patient revokes one of theirs (one click), effective on the caregiver's
    /// next request. The caregiver is told (no health information).
    #[tracing::instrument(skip_all, fields(action = tracing::field::Empty, patient_id = tracing::field::Empty))]
    pub async fn revoke_grant(&self, grant_id: &str) -> Result<(), AppError> {
        let patient_id = self.manage_target(AuditAction::CaregiverRevoke).await?;
        self.end_grant(grant_id, Some(&patient_id), "Revoked by the patient").await
    }

    pub(super) async fn end_grant(&self, grant_id: &str, patient_id: Option<&str>, reason: &str) -> Result<(), AppError> {
        let mut select = caregiver_grant::Entity::find_by_id(grant_id.to_string());
        if let Some(p) = patient_id {
            select = select.filter(caregiver_grant::Column::PatientId.eq(p));
        }
        let row = select.one(&self.db).await?.ok_or(AppError::NotFound)?;
        let txn = write_transaction(&self.db).await?;
        let done = caregiver_grant::Entity::update_many()
            .col_expr(caregiver_grant::Column::EndedAtMs, Expr::value(now_ms()))
            .col_expr(caregiver_grant::Column::EndedBy, Expr::value(self.principal.user_id.clone()))
            .col_expr(caregiver_grant::Column::EndReason, Expr::value(reason.chars().take(500).collect::<String>()))
            .filter(caregiver_grant::Column::Id.eq(grant_id))
            .filter(caregiver_grant::Column::EndedAtMs.is_null())
            .exec(&txn)
            .await?;
        if done.rows_affected != 1 {
            return Err(AppError::Conflict { message: "This access has already ended.".into() });
        }
        // The apps the caregiver connected for this patient end with the access.
        let apps = super::super::apps::end_apps_of(&txn, &row.user_id, &row.patient_id, "the caregiver's access ended").await?;
        notify_user(&txn, &row.user_id, "Your access to a person's record in the portal has ended.".into()).await?;
        // Ended by HIM: the patient is told too (they did not do it themselves).
        if let Some(account) = patient_account(&txn, &row.patient_id).await?.filter(|a| a.id != self.principal.user_id) {
            notify_user(&txn, &account.id, "HIM staff ended someone's access to your record. See \"Who can see my records\".".into()).await?;
        }
        audit::record(
            &txn,
            self.event(AuditAction::CaregiverRevoke, Outcome::Success).patient(&row.patient_id).entity("caregiver_grant", grant_id).detail(format!("user={} apps_disconnected={apps}", row.user_id)),
        )
        .await?;
        txn.commit().await?;
        Ok(())
    }

    pub(super) async fn invitation_by_token(&self, token: &str) -> Result<Option<caregiver_invitation::Model>, AppError> {
        if token.len() > 128 {
            return Ok(None);
        }
        caregiver_invitation::Entity::find()
            .filter(caregiver_invitation::Column::TokenHash.eq(hash_token(token)))
            .one(&self.db)
            .await.map_err(AppError::from)
    }

    /// Why an invitation cannot be accepted by the signed-in user, if it cannot.
    pub(super) fn refusal(&self, invitation: Option<&caregiver_invitation::Model>, email: &str, now: i64) -> Option<(&'static str, &'static str)> {
        let Some(inv) = invitation else {
            return Some(("unknown_invitation", "This invitation link is not valid. Check that you opened the whole link."));
        };
        match inv.status.as_str() {
            "accepted" => return Some(("already_accepted", "This invitation has already been accepted. Each invitation works once.")),
            "withdrawn" => return Some(("withdrawn", "The patient withdrew this invitation.")),
            _ => {}
        }
        if inv.expires_at_ms <= now {
            return Some(("expired", "This invitation has expired. Ask the patient to send a new one."));
        }
        if !inv.email.eq_ignore_ascii_case(email) {
            return Some(("other_email", "This invitation was sent to another email address. Sign in with the account for that address."));
        }
        if self.principal.patient_id.as_deref() == Some(inv.patient_id.as_str()) {
            return Some(("self_invitation", "You cannot accept an invitation to your own record."));
        }
        None
    }

    pub(super) async fn my_email(&self) -> Result<String, AppError> {
        // The signed-in user's own row: the session check has just read it.
        Ok(app_user::Entity::find_by_id(self.principal.user_id.clone())
            .one(&self.db)
            .await?
            .map(|u| u.email)
            .stored("app_user", "id")?)
    }

    /// What the invitation offers, for the accept page. An unusable one says why.
    #[tracing::instrument(skip_all, fields(action = tracing::field::Empty, patient_id = tracing::field::Empty))]
    pub async fn invitation_preview(&self, token: &str) -> Result<InvitationPreview, AppError> {
        let invitation = self.invitation_by_token(token).await?;
        let email = self.my_email().await?;
        let now = now_ms();
        if let Some((_, message)) = self.refusal(invitation.as_ref(), &email, now).filter(|(code, _)| *code != "other_email") {
            return Err(field("invitation", message));
        }
        let Some(inv) = invitation else { return Err(AppError::NotFound) };
        let patient = patient_row::Entity::find_by_id(inv.patient_id.clone()).one(&self.db).await?.ok_or(AppError::NotFound)?;
        let for_you = inv.email.eq_ignore_ascii_case(&email);
        if !for_you {
            // Only the invited address learns whose record it is, what it opens and until when:
            // a forwarded or leaked link tells anyone else nothing.
            let nothing = crate::domain::caregiver::GrantScope { view: crate::domain::caregiver::ViewScope::Limited, request_copies: false, track_requests: false };
            return Ok(InvitationPreview { patient_name: String::new(), scope: nothing, days: 0, expires_on: String::new(), for_you });
        }
        Ok(InvitationPreview {
            patient_name: full_name(&patient),
            scope: invitation_scope(&inv),
            days: u32::try_from(inv.days).unwrap_or(0),
            expires_on: self.clock.day(inv.expires_at_ms),
            for_you,
        })
    }

    /// The invited person accepts with their own account: the invitation is spent (once, even
    /// under a race), the grant starts now, the account gains the caregiver role, and the
    /// patient is told. Every refusal is audited and changes nothing.
    #[tracing::instrument(skip_all, fields(action = tracing::field::Empty, patient_id = tracing::field::Empty))]
    pub async fn accept_invitation(&self, token: &str) -> Result<ActingChoice, AppError> {
        let invitation = self.invitation_by_token(token).await?;
        let email = self.my_email().await?;
        let now = now_ms();
        if let Some((code, message)) = self.refusal(invitation.as_ref(), &email, now) {
            let mut event = AuditEvent::new(AuditAction::CaregiverAccept, Outcome::Failure, &self.request).actor(&self.principal.user_id).detail(code);
            if let Some(inv) = &invitation {
                event = event.patient(&inv.patient_id).entity("caregiver_invitation", &inv.id);
            }
            self.audit_alone(event).await?;
            return Err(field("invitation", message));
        }
        let Some(inv) = invitation else { return Err(AppError::NotFound) };
        let txn = write_transaction(&self.db).await?;
        let spent = caregiver_invitation::Entity::update_many()
            .col_expr(caregiver_invitation::Column::Status, Expr::value("accepted"))
            .col_expr(caregiver_invitation::Column::AcceptedBy, Expr::value(self.principal.user_id.clone()))
            .col_expr(caregiver_invitation::Column::FinishedAtMs, Expr::value(now))
            .filter(caregiver_invitation::Column::Id.eq(inv.id.as_str()))
            .filter(caregiver_invitation::Column::Status.eq("pending"))
            .exec(&txn)
            .await?;
        if spent.rows_affected != 1 {
            return Err(field("invitation", "This invitation has already been accepted. Each invitation works once."));
        }
        // The invitation was mailed to this address and its link is here: the address is theirs.
        crate::backend::auth::addresses::mark_verified(&txn, &self.principal.user_id).await?;
        let grant_id = uuid::Uuid::new_v4().to_string();
        let patient = patient_row::Entity::find_by_id(inv.patient_id.clone()).one(&txn).await?.ok_or(AppError::NotFound)?;
        let band = band_of(&patient.birth_date, self.ages, self.clock.today());
        caregiver_grant::Entity::insert(caregiver_grant::ActiveModel {
            id: Set(grant_id.clone()),
            patient_id: Set(inv.patient_id.clone()),
            user_id: Set(self.principal.user_id.clone()),
            kind: Set(GrantKind::Invitation),
            view_scope: Set(inv.view_scope),
            request_copies: Set(inv.request_copies),
            track_requests: Set(inv.track_requests),
            granted_by: Set(inv.invited_by.clone()),
            source_id: Set(Some(inv.id.clone())),
            starts_at_ms: Set(now),
            expires_at_ms: Set(Some(now + i64::from(inv.days) * DAY_MS)),
            applied_band: Set(band),
            ended_at_ms: Set(None),
            ended_by: Set(None),
            end_reason: Set(None),
            created_at_ms: Set(now),
        })
        .exec_without_returning(&txn)
        .await?;
        ensure_caregiver_role(&txn, &self.principal.user_id).await?;
        let name = self.display_name(&self.principal.user_id).await?;
        notify_user(&txn, &inv.invited_by, format!("{name} accepted your invitation and can now see your record as you chose.")).await?;
        audit::record(
            &txn,
            AuditEvent::new(AuditAction::CaregiverAccept, Outcome::Success, &self.request)
                .actor(&self.principal.user_id)
                .on_behalf_of(&inv.patient_id)
                .patient(&inv.patient_id)
                .entity("caregiver_grant", &grant_id),
        )
        .await?;
        txn.commit().await?;
        let scope = invitation_scope(&inv);
        Ok(ActingChoice {
            patient_id: inv.patient_id,
            name: full_name(&patient),
            kind: GrantKind::Invitation,
            scope: effective_scope(GrantKind::Invitation, scope, band).unwrap_or(scope),
            expires_on: Some(self.clock.day(now + i64::from(inv.days) * DAY_MS)),
        })
    }
}
