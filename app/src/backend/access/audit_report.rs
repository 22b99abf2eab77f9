//! The audit report for administrators (ONC 170.315(d)(3)): events filtered and sorted, with
//! user emails and record numbers resolved. Reading it is itself audited.

use super::*;

impl AccessContext {
    /// The audit report (ONC 170.315(d)(3)): the newest `limit` events matching the filters,
    /// with user emails and record numbers resolved, sorted as asked. Administrators only; the
    /// reading itself is audited (`export` for the CSV download).
    #[tracing::instrument(skip_all, fields(action = tracing::field::Empty, patient_id = tracing::field::Empty))]
    pub async fn audit_report(&self, query: &AuditReportQuery, limit: u64, export: bool) -> Result<Vec<AuditReportRow>, AppError> {
        use crate::backend::entities::{app_user, audit_event};
        use std::collections::{BTreeSet, HashMap};
        let action = if export { AuditAction::AuditExport } else { AuditAction::AuditReportRead };
        self.authorize(Action::ReadAuditReport, Target::Site, action).await?;

        // Names to ids; a name that matches nothing matches no event.
        let mut select = audit_event::Entity::find();
        let mut impossible = false;
        if let Some(email) = &query.user {
            match app_user::Entity::find().filter(app_user::Column::Email.eq(email.as_str())).one(&self.db).await {
                Ok(Some(u)) => select = select.filter(audit_event::Column::ActorUserId.eq(u.id)),
                Ok(None) => impossible = true,
                Err(e) => return Err(e.into()),
            }
        }
        if let Some(mrn) = &query.patient {
            let found = patient_row::Entity::find()
                .filter(patient_row::Column::SiteCode.eq(self.site_code.as_str()))
                .filter(patient_row::Column::Mrn.eq(mrn.as_str()))
                .one(&self.db)
                .await?;
            match found {
                Some(p) => select = select.filter(audit_event::Column::PatientId.eq(p.id)),
                None => impossible = true,
            }
        }
        if let Some(from) = query.from {
            select = select.filter(audit_event::Column::OccurredAtMs.gte(self.clock.start_of(from)));
        }
        if let Some(to) = query.to {
            // `to` is included: up to the start of the next day.
            select = select.filter(audit_event::Column::OccurredAtMs.lt(to.add_days(1).map_or(i64::MAX, |next| self.clock.start_of(next))));
        }
        if let Some(action) = &query.action {
            select = select.filter(audit_event::Column::Action.eq(action.as_str()));
        }
        let events = if impossible {
            Vec::new()
        } else {
            // Newest by time, then by number: the order of the (time, number) index, so the
            // database reads the newest `limit` rows and stops, however many the day holds (by
            // number alone it sorted the whole day on every read: 15 reads a second under load).
            select
                .order_by_desc(audit_event::Column::OccurredAtMs)
                .order_by_desc(audit_event::Column::Seq)
                .limit(limit)
                .all(&self.db)
                .await?
        };

        let user_ids: BTreeSet<String> =
            events.iter().flat_map(|e| [e.actor_user_id.clone(), e.on_behalf_of.clone()]).flatten().collect();
        let emails: HashMap<String, String> = if user_ids.is_empty() {
            HashMap::new()
        } else {
            app_user::Entity::find()
                .filter(app_user::Column::Id.is_in(user_ids))
                .all(&self.db)
                .await?
                .into_iter()
                .map(|u| (u.id, u.email))
                .collect()
        };
        let patient_ids: BTreeSet<String> = events.iter().flat_map(|e| [e.patient_id.clone(), e.on_behalf_of.clone()]).flatten().collect();
        let mrns: HashMap<String, String> = if patient_ids.is_empty() {
            HashMap::new()
        } else {
            patient_row::Entity::find()
                .filter(patient_row::Column::Id.is_in(patient_ids))
                .all(&self.db)
                .await?
                .into_iter()
                .map(|p| (p.id, p.mrn))
                .collect()
        };
        // An id whose row is gone is still shown, so nothing disappears from the report.
        let name = |map: &HashMap<String, String>, id: &Option<String>| id.as_ref().map(|i| map.get(i).cloned().unwrap_or_else(|| i.clone()));
        let mut rows: Vec<AuditReportRow> = events
            .into_iter()
            .map(|e| AuditReportRow {
                seq: e.seq,
                time: self.clock.seconds(e.occurred_at_ms),
                user: name(&emails, &e.actor_user_id),
                // A caregiver acts for a patient record (shown by its number); older events name a user.
                on_behalf_of: e.on_behalf_of.as_ref().map(|i| {
                    emails.get(i).cloned().or_else(|| mrns.get(i).map(|m| format!("patient {m}"))).unwrap_or_else(|| i.clone())
                }),
                patient: name(&mrns, &e.patient_id),
                action: e.action,
                entity: e.entity_type.map(|t| match e.entity_id { Some(id) => format!("{t} {id}"), None => t }),
                outcome: e.outcome,
                detail: e.detail,
                client_address: e.client_address,
                request_id: e.request_id,
            })
            .collect();
        // Events without a user or patient (sign-in failures, system jobs) sort first.
        let key = |r: &AuditReportRow| -> (Option<String>, i64) {
            let text = match query.sort {
                AuditSort::Time => None,
                AuditSort::User => r.user.clone(),
                AuditSort::Patient => r.patient.clone(),
                AuditSort::Action => Some(r.action.clone()),
                AuditSort::Outcome => Some(r.outcome.clone()),
            };
            (text, r.seq)
        };
        rows.sort_by_key(key);
        if query.descending {
            rows.reverse();
        }
        self.audit_alone(self.event(action, Outcome::Success).detail(format!("rows={}", rows.len())))
            .await?;
        Ok(rows)
    }
}
