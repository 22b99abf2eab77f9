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

/// The mail outbox: sends each message not yet emailed to its user's address, saying only that
/// the request has an update ("sign in to see it"). Each message is claimed with a conditional
/// update first, so several servers running this never send one twice; a failed send is put
/// back for the next round. Returns how many were sent.
async fn send_pending_notifications(db: &DatabaseConnection, mailer: &crate::backend::mail::Mailer, base_url: &str) -> Result<usize, AppError> {
    use super::rows::notification;
    use crate::backend::entities::app_user;
    use sea_orm::{QueryOrder, QuerySelect};
    let pending = notification::Entity::find()
        .filter(notification::Column::EmailedAtMs.is_null())
        .order_by_asc(notification::Column::CreatedAtMs)
        .limit(100)
        .all(db)
        .await?;
    let mut sent = 0;
    for n in pending {
        let claimed = notification::Entity::update_many()
            .col_expr(notification::Column::EmailedAtMs, Expr::value(now_ms()))
            .filter(notification::Column::Id.eq(n.id.as_str()))
            .filter(notification::Column::EmailedAtMs.is_null())
            .exec(db)
            .await?;
        if claimed.rows_affected != 1 {
            continue;
        }
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
        match mailer.send(&user.email, &subject, body).await {
            Ok(()) => sent += 1,
            Err(e) => {
                tracing::warn!(error = %e, "a notification could not be mailed; it will be tried again");
                notification::Entity::update_many()
                    .col_expr(notification::Column::EmailedAtMs, Expr::value(Option::<i64>::None))
                    .filter(notification::Column::Id.eq(n.id.as_str()))
                    .exec(db)
                    .await?;
            }
        }
    }
    Ok(sent)
}

impl super::SystemContext {
    /// The mail outbox: sends what is waiting; returns how many were sent.
    #[tracing::instrument(skip_all)]
    pub async fn send_pending_notifications(&self, mailer: &crate::backend::mail::Mailer, base_url: &str) -> Result<usize, AppError> {
        send_pending_notifications(&self.db, mailer, base_url).await
    }
}
