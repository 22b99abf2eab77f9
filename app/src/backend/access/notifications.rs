//! In-portal messages about requests, and the mail outbox that tells each user (without health
//! information) that something changed.

use super::AccessContext;
use crate::backend::db::now_ms;
use crate::error::AppError;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter};

impl AccessContext {
    /// The signed-in user's messages about their requests, newest first (50).
    #[tracing::instrument(skip_all, fields(action = tracing::field::Empty, patient_id = tracing::field::Empty))]
    pub async fn my_notifications(&self) -> Result<Vec<crate::domain::release::NotificationView>, AppError> {
        use super::rows::notification;
        use sea_orm::{QueryOrder, QuerySelect};
        let rows = notification::Entity::find()
            .filter(notification::Column::UserId.eq(self.principal.user_id.as_str()))
            .order_by_desc(notification::Column::CreatedAtMs)
            .limit(50)
            .all(&self.db)
            .await?;
        Ok(rows
            .into_iter()
            .map(|n| crate::domain::release::NotificationView { message: n.message, at: self.clock.minutes(n.created_at_ms), request_id: n.request_id, unread: n.read_at_ms.is_none() })
            .collect())
    }

    /// Marks the signed-in user's messages read.
    #[tracing::instrument(skip_all, fields(action = tracing::field::Empty, patient_id = tracing::field::Empty))]
    pub async fn mark_notifications_read(&self) -> Result<(), AppError> {
        use super::rows::notification;
        notification::Entity::update_many()
            .col_expr(notification::Column::ReadAtMs, Expr::value(now_ms()))
            .filter(notification::Column::UserId.eq(self.principal.user_id.as_str()))
            .filter(notification::Column::ReadAtMs.is_null())
            .exec(&self.db)
            .await?;
        Ok(())
    }
}

/// A message for `user_id` in the portal, queued for the mail outbox (the mail says only that
/// something changed). Written in the caller's transaction: no message without its change.
pub(super) async fn queue(conn: &impl sea_orm::ConnectionTrait, user_id: &str, request_id: Option<&str>, message: String) -> Result<(), AppError> {
    use super::rows::notification;
    use sea_orm::Set;
    notification::Entity::insert(notification::ActiveModel {
        id: Set(uuid::Uuid::new_v4().to_string()),
        user_id: Set(user_id.to_string()),
        request_id: Set(request_id.map(str::to_string)),
        message: Set(message),
        created_at_ms: Set(now_ms()),
        read_at_ms: Set(None),
        emailed_at_ms: Set(None),
        mail_attempts: Set(0),
        mail_next_at_ms: Set(None),
        mail_failed_at_ms: Set(None),
        mail_error: Set(None),
    })
    .exec_without_returning(conn)
    .await?;
    Ok(())
}

/// How long a server holds a message it is sending: another server (or this one after a
/// restart) tries it again once the lease has passed without a mark. Longer than any SMTP
/// exchange, so a slow send is not sent twice.
pub const MAIL_LEASE_MS: i64 = 5 * 60 * 1000;

/// Attempts before a message is given up (and shown to HIM staff), and the wait after each
/// failure: 1 minute, then 5, 15, 60 and 240 (about five and a half hours in all).
pub const MAIL_ATTEMPTS: i32 = 6;
const MAIL_BACKOFF_MS: [i64; 5] = [60_000, 5 * 60_000, 15 * 60_000, 60 * 60_000, 240 * 60_000];

/// The mail outbox: sends each message not yet emailed to its user's address, saying only that
/// the request has an update ("sign in to see it"). Send, then mark: each message is leased with
/// a conditional update (so several servers never send one at the same time), sent, and marked
/// emailed only once the relay took it. A server that dies between the two leaves the lease to
/// pass and the message goes again (at least once; never lost). A failed send is retried with
/// back-off; after [`MAIL_ATTEMPTS`] it is given up and HIM staff see it
/// ([`AccessContext::undelivered_mail`]). Returns how many were sent.
async fn send_pending_notifications(db: &DatabaseConnection, mailer: &crate::backend::mail::Mailer, base_url: &str) -> Result<usize, AppError> {
    use super::rows::notification;
    use crate::backend::entities::app_user;
    use sea_orm::{Condition, QueryOrder, QuerySelect};
    let due = |now: i64| Condition::all()
        .add(notification::Column::EmailedAtMs.is_null())
        .add(notification::Column::MailFailedAtMs.is_null())
        .add(Condition::any().add(notification::Column::MailNextAtMs.is_null()).add(notification::Column::MailNextAtMs.lte(now)));
    let pending = notification::Entity::find().filter(due(now_ms())).order_by_asc(notification::Column::CreatedAtMs).limit(100).all(db).await?;
    let mut sent = 0;
    for n in pending {
        let now = now_ms();
        let leased = notification::Entity::update_many()
            .col_expr(notification::Column::MailNextAtMs, Expr::value(now + MAIL_LEASE_MS))
            .col_expr(notification::Column::MailAttempts, Expr::value(n.mail_attempts + 1))
            .filter(notification::Column::Id.eq(n.id.as_str()))
            .filter(notification::Column::MailAttempts.eq(n.mail_attempts))
            .filter(due(now))
            .exec(db)
            .await?;
        if leased.rows_affected != 1 {
            continue;
        }
        let attempt = n.mail_attempts + 1;
        let Some(user) = app_user::Entity::find_by_id(n.user_id.clone()).one(db).await? else { continue };
        let (subject, body) = if n.request_id.is_some() {
            let number = n.message.split_whitespace().nth(2).unwrap_or("").to_string();
            (
                format!("Your request {number} has an update"),
                format!("Your request {number} has an update: sign in to see it.\n\n{base_url}/requests\n\nThis message does not contain health information.\n"),
            )
        } else {
            // Caregiver changes: who may see a record. No names, no health information.
            (
                "A change to access in your patient portal".to_string(),
                format!("There is a change to who can see a record in your patient portal account: sign in to see it.\n\n{base_url}/\n\nThis message does not contain health information.\n"),
            )
        };
        let outcome = mailer.send(&user.email, &subject, body).await;
        let mark = notification::Entity::update_many().filter(notification::Column::Id.eq(n.id.as_str())).filter(notification::Column::MailAttempts.eq(attempt));
        match outcome {
            Ok(()) => {
                sent += 1;
                mark.col_expr(notification::Column::EmailedAtMs, Expr::value(now_ms())).col_expr(notification::Column::MailError, Expr::value(Option::<String>::None)).exec(db).await?;
            }
            Err(e) => {
                // The relay's words (no message content: that never goes in the error).
                let error: String = e.to_string().chars().take(300).collect();
                let mark = mark.col_expr(notification::Column::MailError, Expr::value(error));
                match MAIL_BACKOFF_MS.get(usize::try_from(attempt - 1).unwrap_or(0)).filter(|_| attempt < MAIL_ATTEMPTS) {
                    Some(wait) => {
                        tracing::warn!(error = %e, attempt, "a notification could not be mailed; it will be tried again");
                        mark.col_expr(notification::Column::MailNextAtMs, Expr::value(now_ms() + wait)).exec(db).await?;
                    }
                    None => {
                        tracing::error!(error = %e, attempt, "a notification could not be mailed and was given up; HIM staff see it on the request queue");
                        mark.col_expr(notification::Column::MailFailedAtMs, Expr::value(now_ms())).exec(db).await?;
                    }
                }
            }
        }
    }
    Ok(sent)
}

impl AccessContext {
    /// The mail the outbox gave up on (HIM staff): to whom, about which request, how often it
    /// was tried and the relay's last answer, so the clerk can phone or write instead. Newest
    /// first, 100 at most. Audited as a list read.
    #[tracing::instrument(skip_all, fields(action = tracing::field::Empty, patient_id = tracing::field::Empty))]
    pub async fn undelivered_mail(&self) -> Result<Vec<crate::domain::release::UndeliveredMail>, AppError> {
        use super::rows::{notification, release_request};
        use crate::backend::audit::{AuditAction, Outcome};
        use crate::backend::entities::app_user;
        use crate::backend::policy::Action;
        use sea_orm::{QueryOrder, QuerySelect};
        self.require(Action::WorkRequests, AuditAction::MailOutbox).await?;
        let rows = notification::Entity::find()
            .filter(notification::Column::MailFailedAtMs.is_not_null())
            .filter(notification::Column::EmailedAtMs.is_null())
            .order_by_desc(notification::Column::MailFailedAtMs)
            .limit(100)
            .all(&self.db)
            .await?;
        // Addressees and requests read in one query each, not one per message.
        let user_ids: Vec<&str> = rows.iter().map(|n| n.user_id.as_str()).collect();
        let emails: std::collections::HashMap<String, String> =
            app_user::Entity::find().filter(app_user::Column::Id.is_in(user_ids)).all(&self.db).await?.into_iter().map(|u| (u.id, u.email)).collect();
        let request_ids: Vec<&str> = rows.iter().filter_map(|n| n.request_id.as_deref()).collect();
        let numbers: std::collections::HashMap<String, String> = release_request::Entity::find()
            .filter(release_request::Column::Id.is_in(request_ids))
            .all(&self.db)
            .await?
            .into_iter()
            .map(|r| (r.id, crate::domain::release::format_number(r.number)))
            .collect();
        let mut out = Vec::with_capacity(rows.len());
        for n in rows {
            let to = emails.get(&n.user_id).cloned().unwrap_or_default();
            let request = n.request_id.as_ref().and_then(|id| numbers.get(id).map(|number| (id.clone(), number.clone())));
            out.push(crate::domain::release::UndeliveredMail {
                id: n.id,
                to,
                request_id: request.as_ref().map(|(id, _)| id.clone()),
                request: request.map(|(_, number)| number),
                attempts: u32::try_from(n.mail_attempts).unwrap_or(0),
                error: n.mail_error.unwrap_or_default(),
                given_up: n.mail_failed_at_ms.map(|at| self.clock.minutes(at)).unwrap_or_default(),
            });
        }
        self.audit_alone(self.event(AuditAction::MailOutbox, Outcome::Success).detail(format!("listed {} undelivered", out.len()))).await?;
        Ok(out)
    }

    /// Puts a given-up message back in the outbox (HIM staff, once the address or the relay is
    /// mended): tried again at the next round, with a fresh count of attempts. Audited.
    #[tracing::instrument(skip_all, fields(action = tracing::field::Empty, patient_id = tracing::field::Empty))]
    pub async fn retry_mail(&self, id: &str) -> Result<(), AppError> {
        use super::rows::notification;
        use crate::backend::audit::{AuditAction, Outcome};
        use crate::backend::policy::Action;
        self.require(Action::WorkRequests, AuditAction::MailOutbox).await?;
        let put_back = notification::Entity::update_many()
            .col_expr(notification::Column::MailFailedAtMs, Expr::value(Option::<i64>::None))
            .col_expr(notification::Column::MailNextAtMs, Expr::value(Option::<i64>::None))
            .col_expr(notification::Column::MailAttempts, Expr::value(0))
            .filter(notification::Column::Id.eq(id))
            .filter(notification::Column::MailFailedAtMs.is_not_null())
            .filter(notification::Column::EmailedAtMs.is_null())
            .exec(&self.db)
            .await?;
        if put_back.rows_affected != 1 {
            return Err(AppError::NotFound);
        }
        self.audit_alone(self.event(AuditAction::MailOutbox, Outcome::Success).entity("notification", id).detail("retry")).await?;
        Ok(())
    }
}

impl super::SystemContext {
    /// The mail outbox: sends what is waiting; returns how many were sent.
    #[tracing::instrument(skip_all)]
    pub async fn send_pending_notifications(&self, mailer: &crate::backend::mail::Mailer, base_url: &str) -> Result<usize, AppError> {
        send_pending_notifications(&self.db, mailer, base_url).await
    }
}
