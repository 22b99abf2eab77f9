//! The daily job that applies the age thresholds and expiries to caregivers' grants (DOMAIN.md:
//! a parent's access narrows at 12 and ends at 18), once a day across every server.

use super::*;
use crate::backend::access::SystemContext;

/// What one run of the daily job changed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AgeRun {
    /// Parents' grants that became limited (the child turned 12).
    pub narrowed: usize,
    /// Parents' grants that ended (the patient turned 18).
    pub ended_at_majority: usize,
    /// Grants past their expiry, closed.
    pub expired: usize,
}

/// The daily job (DOMAIN.md: proxy narrows at 12, ends at 18 unless the adult grants it anew):
/// closes grants past their expiry and parents' grants of patients now adult, records when a
/// child's grant became limited, and tells the caregiver and the patient (no health information
/// in the message). Access checks apply the same rules on every request; the job makes the
/// change visible and notified. Audited as the system.
async fn apply_age_rules(system: &SystemContext, ages: AgeThresholds, today: IsoDate) -> Result<AgeRun, AppError> {
    let db = &system.db;
    let now = now_ms().max(today.start_ms());
    let mut run = AgeRun::default();
    let rows = caregiver_grant::Entity::find()
        .filter(caregiver_grant::Column::EndedAtMs.is_null())
        .all(db)
        .await?;
    for row in rows {
        let Some(patient) = patient_row::Entity::find_by_id(row.patient_id.clone()).one(db).await? else { continue };
        let band = band_of(&patient.birth_date, ages, today);
        let kind = row.kind;
        let expired = row.expires_at_ms.is_some_and(|e| e <= now);
        let majority = kind == GrantKind::ParentOfMinor && band == AgeBand::Adult;
        let txn = write_transaction(db).await?;
        let account = patient_account(&txn, &patient.id).await?;
        if expired || majority {
            let reason = if majority { "Ended: the patient turned 18" } else { "Expired" };
            let done = caregiver_grant::Entity::update_many()
                .col_expr(caregiver_grant::Column::EndedAtMs, Expr::value(now))
                .col_expr(caregiver_grant::Column::EndReason, Expr::value(reason))
                .col_expr(caregiver_grant::Column::AppliedBand, Expr::value(band.as_str()))
                .filter(caregiver_grant::Column::Id.eq(row.id.as_str()))
                .filter(caregiver_grant::Column::EndedAtMs.is_null())
                .exec(&txn)
                .await?;
            if done.rows_affected == 1 {
                notify_user(&txn, &row.user_id, "Your access to a person's record in the portal has ended.".into()).await?;
                if let Some(a) = &account {
                    let message = if majority {
                        "You are now 18: your parent's access to your record has ended. You can invite them again under \"Who can see my records\"."
                    } else {
                        "A caregiver's access to your record has expired."
                    };
                    notify_user(&txn, &a.id, message.into()).await?;
                }
                let detail = if majority { "ended: age of majority" } else { "ended: expired" };
                audit::record(&txn, system.event(AuditAction::CaregiverRevoke, Outcome::Success).patient(&patient.id).entity("caregiver_grant", &row.id).detail(detail))
                    .await?;
                if majority {
                    run.ended_at_majority += 1;
                } else {
                    run.expired += 1;
                }
            }
        } else if row.applied_band != band {
            caregiver_grant::Entity::update_many()
                .col_expr(caregiver_grant::Column::AppliedBand, Expr::value(band.as_str()))
                .filter(caregiver_grant::Column::Id.eq(row.id.as_str()))
                .exec(&txn)
                .await?;
            if kind == GrantKind::ParentOfMinor && band == AgeBand::Adolescent {
                notify_user(&txn, &row.user_id, "Your access to a person's record in the portal is now limited, as the law provides for teenagers.".into()).await?;
                audit::record(&txn, system.event(AuditAction::CaregiverRevoke, Outcome::Success).patient(&patient.id).entity("caregiver_grant", &row.id).detail("narrowed: adolescent"))
                    .await?;
                run.narrowed += 1;
            }
        }
        txn.commit().await?;
    }
    Ok(run)
}

/// How long a server holds the day's run before another may take it over: a server killed
/// mid-run (or a database that went away) leaves the day unfinished, and the next tick after the
/// lease, here or on another server, runs the rules again (each grant's change is its own
/// transaction and the rules are idempotent).
pub const DAILY_JOB_LEASE_MS: i64 = 30 * 60 * 1000;

/// Runs [`apply_age_rules`] at most once per day across every server sharing the database: the
/// first server to move `job_run` to today runs it, and marks it finished when done. Returns
/// `None` when it had already run or another server is running it.
async fn run_daily_age_rules(system: &SystemContext, ages: AgeThresholds, today: IsoDate) -> Result<Option<AgeRun>, AppError> {
    let db = &system.db;
    const NAME: &str = "caregiver_age_rules";
    let today_text = today.to_string();
    let existing = job_run::Entity::find_by_id(NAME.to_string()).one(db).await?;
    let previous = existing.as_ref().map(|row| (row.last_run_on.clone(), row.finished_at_ms));
    let now = now_ms();
    let claimed = match existing {
        None => job_run::Entity::insert(job_run::ActiveModel { name: Set(NAME.into()), last_run_on: Set(today_text.clone()), at_ms: Set(now), finished_at_ms: Set(None) })
            .exec_without_returning(db)
            .await
            .is_ok(),
        // A new day, or today's run left unfinished past its lease: claimed by a conditional
        // update on what was read, so two servers never both win.
        Some(row) if row.last_run_on < today_text || (row.last_run_on == today_text && row.finished_at_ms.is_none() && row.at_ms + DAILY_JOB_LEASE_MS <= now) => {
            job_run::Entity::update_many()
                .col_expr(job_run::Column::LastRunOn, Expr::value(today_text.clone()))
                .col_expr(job_run::Column::AtMs, Expr::value(now))
                .col_expr(job_run::Column::FinishedAtMs, Expr::value(Option::<i64>::None))
                .filter(job_run::Column::Name.eq(NAME))
                .filter(job_run::Column::LastRunOn.eq(row.last_run_on))
                .filter(job_run::Column::AtMs.eq(row.at_ms))
                .exec(db)
                .await?
                .rows_affected
                == 1
        }
        Some(_) => false,
    };
    if !claimed {
        return Ok(None);
    }
    let mine = || job_run::Entity::update_many().filter(job_run::Column::Name.eq(NAME)).filter(job_run::Column::LastRunOn.eq(today_text.as_str())).filter(job_run::Column::AtMs.eq(now));
    match apply_age_rules(system, ages, today).await {
        Ok(run) => {
            mine().col_expr(job_run::Column::FinishedAtMs, Expr::value(now_ms())).exec(db).await?;
            Ok(Some(run))
        }
        Err(e) => {
            // The day was claimed but the rules did not run through: give the claim back so the
            // next tick (here or on another server) runs them again.
            let given_back = match previous {
                Some((day, finished)) => mine().col_expr(job_run::Column::LastRunOn, Expr::value(day)).col_expr(job_run::Column::FinishedAtMs, Expr::value(finished)).exec(db).await.map(|_| ()),
                None => job_run::Entity::delete_many().filter(job_run::Column::Name.eq(NAME)).filter(job_run::Column::AtMs.eq(now)).exec(db).await.map(|_| ()),
            };
            if let Err(unclaim) = given_back {
                tracing::warn!(error = %unclaim, "the caregiver rules' day could not be given back; another server takes it over after the lease");
            }
            Err(e)
        }
    }
}

impl SystemContext {
    /// The daily caregiver rules (ages and expiries), applied now.
    #[tracing::instrument(skip_all)]
    pub async fn apply_age_rules(&self, ages: AgeThresholds, today: IsoDate) -> Result<AgeRun, AppError> {
        apply_age_rules(self, ages, today).await
    }

    /// The daily caregiver rules, at most once a day across every server sharing the database;
    /// `None` when they had already run today.
    #[tracing::instrument(skip_all)]
    pub async fn run_daily_age_rules(&self, ages: AgeThresholds, today: IsoDate) -> Result<Option<AgeRun>, AppError> {
        run_daily_age_rules(self, ages, today).await
    }
}
