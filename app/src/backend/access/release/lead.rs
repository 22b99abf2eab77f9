//! The HIM lead's side of the desk (issue 17): assigning and reassigning requests to named
//! colleagues (two leads assigning the same request at once: the second is told, nothing is
//! overwritten), and the dashboard, every figure an SQL aggregate (no row-by-row loops), so it
//! answers at the same speed with a million requests. Both are audited.

use super::super::AccessContext;
use super::super::rows::release_request;
use crate::backend::audit::{self, AuditAction, Outcome};
use crate::backend::db::{now_ms, numbered as statement, write_transaction};
use crate::backend::entities::{app_user, user_role};
use crate::backend::policy::{Action, Target};
use crate::domain::release::dashboard::{AGE_BANDS, Bucket, OverdueRow, StatusAges, turnaround_of};
use crate::domain::release::{Colleague, Dashboard, RequestView, RequesterType, Status};
use crate::domain::{FieldError, Role};
use crate::error::AppError;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect};

/// The statuses a lead counts as open work: the clock runs, or a denial waits for its reviewer.
fn open_statuses() -> Vec<Status> {
    let mut open = Status::CLOCK_RUNNING.to_vec();
    open.push(Status::DenialUnderReview);
    open
}

/// The first day of the month `months - 1` months before today's: the dashboard's period.
fn months_back(today: crate::domain::IsoDate, months: u32) -> String {
    let text = today.to_string();
    let year: i64 = text[..4].parse().unwrap_or(1970);
    let month: i64 = text[5..7].parse().unwrap_or(1);
    let index = year * 12 + (month - 1) - i64::from(months.saturating_sub(1));
    format!("{:04}-{:02}-01", index.div_euclid(12), index.rem_euclid(12) + 1)
}

/// "Nov 2026" for `2026-11`.
fn month_label(key: &str) -> String {
    const MONTHS: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
    match key.split_once('-') {
        Some((year, month)) => match month.parse::<usize>().ok().and_then(|m| MONTHS.get(m.wrapping_sub(1))) {
            Some(name) => format!("{name} {year}"),
            None => key.to_string(),
        },
        None => key.to_string(),
    }
}

impl AccessContext {
    /// HIM staff a lead may assign work to, with how much open work each holds.
    #[tracing::instrument(skip_all, fields(action = tracing::field::Empty, patient_id = tracing::field::Empty))]
    pub async fn colleagues(&self) -> Result<Vec<Colleague>, AppError> {
        self.require(Action::WorkRequests, AuditAction::ReleaseRequest).await?;
        let staff: Vec<String> = user_role::Entity::find()
            .select_only()
            .column(user_role::Column::UserId)
            .filter(user_role::Column::Role.eq(Role::HimStaff.as_str()))
            .into_tuple()
            .all(&self.db)
            .await?;
        let users = app_user::Entity::find().filter(app_user::Column::Id.is_in(staff)).filter(app_user::Column::Status.eq("active")).order_by_asc(app_user::Column::DisplayName).all(&self.db).await?;
        let open: Vec<&str> = open_statuses().iter().map(|s| s.as_str()).collect();
        let counts: Vec<(Option<String>, i64)> = release_request::Entity::find()
            .select_only()
            .column(release_request::Column::AssignedTo)
            .column_as(release_request::Column::Id.count(), "n")
            .filter(release_request::Column::Status.is_in(open))
            .filter(release_request::Column::AssignedTo.is_not_null())
            .group_by(release_request::Column::AssignedTo)
            .into_tuple()
            .all(&self.db)
            .await?;
        Ok(users
            .into_iter()
            .map(|u| Colleague { open: counts.iter().find(|(who, _)| who.as_deref() == Some(u.id.as_str())).map(|(_, n)| *n).unwrap_or(0), id: u.id, name: u.display_name })
            .collect())
    }

    /// A lead assigns a request to a colleague (or takes it back: `to` empty). `expected` is
    /// who the lead saw it assigned to: if another lead changed it meanwhile, nothing is
    /// overwritten and the lead is told (409).
    #[tracing::instrument(skip_all, fields(action = tracing::field::Empty, patient_id = tracing::field::Empty))]
    pub async fn assign_request(&self, id: &str, to: Option<&str>, expected: Option<&str>) -> Result<RequestView, AppError> {
        self.authorize(Action::LeadDesk, Target::Site, AuditAction::ReleaseRequest).await?;
        let row = release_request::Entity::find_by_id(id.to_string()).one(&self.db).await?.ok_or(AppError::NotFound)?;
        let to_name = match to {
            None => None,
            Some(user) => match self.colleagues().await?.into_iter().find(|c| c.id == user) {
                Some(c) => Some(c.name),
                None => return Err(AppError::Validation { fields: vec![FieldError::new("assignee", "Choose a colleague on the release desk.")] }),
            },
        };
        if row.status.is_final() {
            return Err(AppError::Conflict { message: format!("{} is closed.", super::format_number(row.number)) });
        }
        let txn = write_transaction(&self.db).await?;
        let mut update = release_request::Entity::update_many()
            .col_expr(release_request::Column::AssignedTo, Expr::value(to.map(str::to_string)))
            .col_expr(release_request::Column::UpdatedAtMs, Expr::value(now_ms()))
            .filter(release_request::Column::Id.eq(id));
        update = match expected {
            Some(who) => update.filter(release_request::Column::AssignedTo.eq(who)),
            None => update.filter(release_request::Column::AssignedTo.is_null()),
        };
        if update.exec(&txn).await?.rows_affected != 1 {
            let refused = self.event(AuditAction::ReleaseRequest, Outcome::Failure).patient(&row.patient_id).entity("release_request", id).detail("assignment refused: changed meanwhile");
            drop(txn);
            self.audit_alone(refused).await?;
            return Err(AppError::Conflict { message: format!("{} was just assigned by someone else. Reload to see who has it.", super::format_number(row.number)) });
        }
        let lead = self.display_name(&self.principal.user_id).await?;
        self.staff_note(&txn, &row, match &to_name {
                Some(name) => format!("Assigned to {name} by {lead}."),
                None => format!("Unassigned by {lead}."),
            }).await?;
        audit::record(&txn, self.event(AuditAction::ReleaseRequest, Outcome::Success).patient(&row.patient_id).entity("release_request", id).detail(format!("assigned to {}", to.unwrap_or("nobody"))))
            .await?;
        txn.commit().await?;
        self.copy_request(id).await
    }

    /// The lead's dashboard: open requests by status and age band, the overdue list, and the
    /// turnaround per month and per requester type for the requests received since `since`
    /// (the first day of a month). Every figure is an SQL aggregate; audited.
    #[tracing::instrument(skip_all, fields(action = tracing::field::Empty, patient_id = tracing::field::Empty))]
    pub async fn dashboard(&self, months: u32) -> Result<Dashboard, AppError> {
        self.require(Action::LeadDesk, AuditAction::ReleaseRequest).await?;
        let today = self.clock.today();
        let backend = self.db.get_database_backend();
        let open = open_statuses();
        let listed = open.iter().map(|s| format!("'{}'", s.as_str())).collect::<Vec<_>>().join(",");
        // Open work by status and age band (days since receipt).
        let bounds: Vec<String> = AGE_BANDS.iter().take(3).map(|(days, _)| today.add_days(-days).unwrap_or(today).to_string()).collect();
        let sql = format!(
            "SELECT status, CAST(SUM(CASE WHEN received_on >= $1 THEN 1 ELSE 0 END) AS BIGINT), \
             CAST(SUM(CASE WHEN received_on < $1 AND received_on >= $2 THEN 1 ELSE 0 END) AS BIGINT), \
             CAST(SUM(CASE WHEN received_on < $2 AND received_on >= $3 THEN 1 ELSE 0 END) AS BIGINT), \
             CAST(SUM(CASE WHEN received_on < $3 THEN 1 ELSE 0 END) AS BIGINT) \
             FROM release_request WHERE status IN ({listed}) GROUP BY status"
        );
        let rows = self.db.query_all_raw(statement(backend, &sql, bounds.iter().map(|b| b.as_str().into()).collect())).await?;
        let mut by_status: Vec<StatusAges> = Vec::new();
        for row in rows {
            let status: String = row.try_get_by_index(0)?;
            let counts: Vec<i64> = (1..=4).map(|i| row.try_get_by_index::<Option<i64>>(i).map(Option::unwrap_or_default)).collect::<Result<_, _>>()?;
            let label = Status::parse(&status).map(|s| s.label().to_string()).unwrap_or(status);
            by_status.push(StatusAges { total: counts.iter().sum(), status: label, counts });
        }
        // In the lifecycle's order.
        by_status.sort_by_key(|s| open.iter().position(|o| o.label() == s.status).unwrap_or(usize::MAX));
        // The overdue list: past due, the clock still running, the most overdue first.
        let running: Vec<&str> = Status::CLOCK_RUNNING.iter().map(|s| s.as_str()).collect();
        let late = release_request::Entity::find().filter(release_request::Column::Status.is_in(running)).filter(release_request::Column::DueOn.lt(today.to_string()));
        let overdue_total = i64::try_from(late.clone().count(&self.db).await?).unwrap_or(i64::MAX);
        let late_rows = late.order_by_asc(release_request::Column::DueOn).limit(50).all(&self.db).await?;
        let workers: Vec<String> = late_rows.iter().filter_map(|r| r.assigned_to.clone()).collect();
        let names: Vec<(String, String)> = if workers.is_empty() {
            Vec::new()
        } else {
            app_user::Entity::find().select_only().columns([app_user::Column::Id, app_user::Column::DisplayName]).filter(app_user::Column::Id.is_in(workers)).into_tuple().all(&self.db).await?
        };
        let overdue = late_rows
            .into_iter()
            .map(|r| OverdueRow {
                days_late: crate::domain::IsoDate::parse(&r.due_on).map(|d| d.days_until(today)).unwrap_or(0),
                id: r.id,
                number: format!("R-{}", r.number),
                requester_type: r.requester_type.label().into(),
                due: r.due_on,
                assignee: r.assigned_to.and_then(|a| names.iter().find(|(id, _)| *id == a).map(|(_, n)| n.clone())),
            })
            .collect();
        // Turnaround: the database counts the requests provided per month, requester type, day
        // count and on-time flag (one pass over the covering index; on time when provided by the
        // due date, ISO dates comparing as text); the percentiles are read off that histogram.
        // Self-service copies have no turnaround and are not counted.
        let start = months_back(today, months.clamp(1, 36));
        let sql = "SELECT substr(received_on, 1, 7), requester_type, CAST(turnaround_days AS BIGINT), CAST(CASE WHEN provided_on <= due_on THEN 1 ELSE 0 END AS BIGINT), CAST(COUNT(*) AS BIGINT) \
                   FROM release_request WHERE received_on >= $1 AND turnaround_days IS NOT NULL GROUP BY 1, 2, 3, 4";
        let rows = self.db.query_all_raw(statement(backend, sql, vec![start.as_str().into()])).await?;
        let mut counted: Vec<(String, String, i64, bool, i64)> = Vec::with_capacity(rows.len());
        for row in rows {
            counted.push((row.try_get_by_index(0)?, row.try_get_by_index(1)?, row.try_get_by_index(2)?, row.try_get_by_index::<i64>(3)? == 1, row.try_get_by_index(4)?));
        }
        let by_month: Vec<Bucket<'_>> = counted.iter().map(|(month, _, days, on_time, count)| Bucket { key: month, days: *days, on_time: *on_time, count: *count }).collect();
        let by_type: Vec<Bucket<'_>> = counted.iter().map(|(_, kind, days, on_time, count)| Bucket { key: kind, days: *days, on_time: *on_time, count: *count }).collect();
        let months = turnaround_of(&by_month, month_label);
        let types = turnaround_of(&by_type, |k| RequesterType::parse(k).map(|k| k.label().to_string()).unwrap_or_else(|| k.to_string()));
        self.audit_alone(self.event(AuditAction::ReleaseRequest, Outcome::Success).detail("desk dashboard read")).await?;
        Ok(Dashboard {
            today: today.to_string(),
            bands: AGE_BANDS.iter().map(|(_, l)| l.to_string()).collect(),
            open: by_status,
            overdue,
            overdue_total,
            since: start,
            months,
            types,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_period_starts_on_the_first_of_the_month_and_months_are_named() {
        let day = |s: &str| crate::domain::IsoDate::parse(s).unwrap_or_else(|_| panic!("{s}"));
        assert_eq!(months_back(day("2026-12-02"), 12), "2026-01-01");
        assert_eq!(months_back(day("2026-03-31"), 3), "2026-01-01");
        assert_eq!(months_back(day("2026-02-10"), 3), "2025-12-01");
        assert_eq!(months_back(day("2026-02-10"), 1), "2026-02-01");
        assert_eq!(month_label("2026-11"), "Nov 2026");
        assert_eq!(month_label("2026-13"), "2026-13");
    }
}
