//! Users and roles: creating accounts, granting and revoking roles (each change audited in the
//! same transaction), and reading a user's roles for the policy.

use super::password::check_new_password;
use crate::backend::audit::{self, AuditAction, AuditEvent, Outcome};
use crate::backend::db::{now_ms, write_transaction};
use crate::backend::entities::{app_user, user_role};
use crate::backend::request::RequestMeta;
use crate::domain::{EmailAddress, PasswordError, Role};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseConnection, DatabaseTransaction, DbErr,
    EntityTrait, QueryFilter,
};
use std::collections::BTreeSet;

/// A user as the rest of the portal sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub id: String,
    pub email: String,
    pub display_name: String,
    pub patient_id: Option<String>,
    pub active: bool,
    pub has_password: bool,
    pub mfa_enabled: bool,
    pub roles: BTreeSet<Role>,
    /// The owner showed they read mail at `email` (see `auth::addresses`).
    pub email_verified: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum UserError {
    #[error("an account with this email address already exists")]
    EmailTaken,
    #[error("{0}")]
    Password(#[from] PasswordError),
    #[error("the display name must have 1 to 100 characters")]
    DisplayName,
    #[error(transparent)]
    Hash(#[from] super::password::HashError),
    #[error(transparent)]
    Db(#[from] DbErr),
}

impl UserError {
    /// The answer a person sees: their own mistakes point at the field, the rest is logged.
    pub fn into_app_error(self) -> crate::error::AppError {
        use crate::error::{AppError, FieldError};
        let field = |field: &str, message: &str| AppError::Validation {
            fields: vec![FieldError { field: field.into(), message: message.into() }],
        };
        match self {
            UserError::EmailTaken => field("email", "An account with this email address already exists. Sign in, or use another address."),
            UserError::Password(p) => field("password", &p.to_string()),
            UserError::DisplayName => field("name", "Enter a name of up to 100 characters."),
            UserError::Hash(e) => crate::backend::error::internal("hashing a password failed", &e),
            UserError::Db(e) => crate::backend::error::internal("saving an account failed", &e),
        }
    }
}

/// What a new account needs.
#[derive(Debug, Clone)]
pub struct NewUser {
    pub email: EmailAddress,
    pub display_name: String,
    pub password: Option<String>,
    pub roles: BTreeSet<Role>,
    pub patient_id: Option<String>,
}

pub(crate) fn to_user(row: app_user::Model, roles: BTreeSet<Role>) -> User {
    User {
        id: row.id,
        email: row.email,
        display_name: row.display_name,
        patient_id: row.patient_id,
        active: row.status == "active",
        has_password: row.password_hash.is_some(),
        mfa_enabled: row.totp_enabled_at_ms.is_some(),
        roles,
        email_verified: row.email_verified_at_ms.is_some(),
    }
}

/// The roles stored for `user_id` (unknown role names from a newer version are ignored).
pub async fn roles_of(db: &impl ConnectionTrait, user_id: &str) -> Result<BTreeSet<Role>, DbErr> {
    let rows = user_role::Entity::find().filter(user_role::Column::UserId.eq(user_id)).all(db).await?;
    Ok(rows.iter().filter_map(|r| Role::parse(&r.role)).collect())
}

pub async fn find_by_id(db: &impl ConnectionTrait, user_id: &str) -> Result<Option<User>, DbErr> {
    let Some(row) = app_user::Entity::find_by_id(user_id.to_string()).one(db).await? else {
        return Ok(None);
    };
    let roles = roles_of(db, &row.id).await?;
    Ok(Some(to_user(row, roles)))
}

/// A sign-in row and its user with their roles, in one query: every request asks (issue 21: one
/// round trip instead of three). `None` when the sign-in does not exist.
pub(crate) async fn login_with_user(
    db: &impl ConnectionTrait,
    login_id: &str,
) -> Result<Option<(crate::backend::entities::login_session::Model, User)>, DbErr> {
    use crate::backend::entities::login_session;
    use sea_orm::sea_query::{Alias, Expr, ExprTrait, JoinType, Query};
    use sea_orm::{FromQueryResult, IdenStatic, Iterable};
    let roles = match db.get_database_backend() {
        sea_orm::DatabaseBackend::Postgres => "(SELECT string_agg(r.role, ',') FROM user_role r WHERE r.user_id = app_user.id)",
        _ => "(SELECT group_concat(r.role, ',') FROM user_role r WHERE r.user_id = app_user.id)",
    };
    let mut query = Query::select();
    for c in login_session::Column::iter() {
        query.expr_as(Expr::col((login_session::Entity, c)), Alias::new(format!("l_{}", c.as_str())));
    }
    for c in app_user::Column::iter() {
        query.expr_as(Expr::col((app_user::Entity, c)), Alias::new(format!("u_{}", c.as_str())));
    }
    query
        .expr_as(Expr::cust(roles), Alias::new("roles"))
        .from(login_session::Entity)
        .join(JoinType::InnerJoin, app_user::Entity, Expr::col((app_user::Entity, app_user::Column::Id)).equals((login_session::Entity, login_session::Column::UserId)))
        .and_where(Expr::col((login_session::Entity, login_session::Column::Id)).eq(login_id));
    let Some(row) = db.query_one(&query).await? else {
        return Ok(None);
    };
    let login = login_session::Model::from_query_result(&row, "l_")?;
    let user = app_user::Model::from_query_result(&row, "u_")?;
    let roles: Option<String> = row.try_get("", "roles")?;
    let roles = roles.iter().flat_map(|r| r.split(',')).filter_map(Role::parse).collect();
    Ok(Some((login, to_user(user, roles))))
}

/// The stored password hash (never leaves the backend).
pub(crate) async fn password_hash(db: &impl ConnectionTrait, user_id: &str) -> Result<Option<String>, DbErr> {
    Ok(app_user::Entity::find_by_id(user_id.to_string()).one(db).await?.and_then(|r| r.password_hash))
}

pub async fn find_by_email(db: &impl ConnectionTrait, email: &EmailAddress) -> Result<Option<User>, DbErr> {
    let Some(row) = app_user::Entity::find()
        .filter(app_user::Column::Email.eq(email.as_str()))
        .one(db)
        .await?
    else {
        return Ok(None);
    };
    let roles = roles_of(db, &row.id).await?;
    Ok(Some(to_user(row, roles)))
}

/// A display name of 1 to 100 characters with no control characters, trimmed (the domain's rule).
pub fn check_display_name(name: &str) -> Result<String, UserError> {
    crate::domain::check_display_name(name).ok_or(UserError::DisplayName)
}

/// A new account whose input was checked and whose password was hashed, ready to insert.
#[derive(Debug, Clone)]
pub struct PreparedUser {
    email: EmailAddress,
    display_name: String,
    password_hash: Option<String>,
    roles: BTreeSet<Role>,
    patient_id: Option<String>,
    email_verified: bool,
}

impl PreparedUser {
    /// An address the person typed for themselves (registration, activation): not verified
    /// until a link mailed to it is opened. Accounts an administrator creates are vouched for.
    pub fn unverified(self) -> Self {
        PreparedUser { email_verified: false, ..self }
    }
}

/// Checks the name and the password policy and hashes the password (slow: do it before opening
/// a transaction).
pub async fn prepare(auth: &super::Auth, new: NewUser) -> Result<PreparedUser, UserError> {
    let display_name = check_display_name(&new.display_name)?;
    let password_hash = match new.password {
        Some(password) => {
            check_new_password(&password, Some(&new.email))?;
            Some(auth.passwords.hash(password).await?)
        }
        None => None,
    };
    Ok(PreparedUser { email: new.email, display_name, password_hash, roles: new.roles, patient_id: new.patient_id, email_verified: true })
}

/// Inserts a prepared account and its roles inside `txn`, auditing the creation and each role.
/// Returns the new user's id.
pub async fn insert(
    txn: &DatabaseTransaction,
    user: PreparedUser,
    actor: Option<&str>,
    request: &RequestMeta,
) -> Result<String, UserError> {
    let id = uuid::Uuid::new_v4().to_string();
    let now = now_ms();
    let inserted = app_user::Entity::insert(app_user::ActiveModel {
        id: Set(id.clone()),
        email: Set(user.email.as_str().to_string()),
        display_name: Set(user.display_name),
        password_hash: Set(user.password_hash),
        patient_id: Set(user.patient_id.clone()),
        status: Set("active".into()),
        totp_secret: Set(None),
        totp_enabled_at_ms: Set(None),
        totp_last_step: Set(None),
        created_at_ms: Set(now),
        email_verified_at_ms: Set(user.email_verified.then_some(now)),
    })
    .exec(txn)
    .await;
    if let Err(e) = inserted {
        return Err(if crate::backend::error::is_unique_violation(&e) { UserError::EmailTaken } else { UserError::Db(e) });
    }
    let with_actor = |event: AuditEvent| match actor {
        Some(a) => event.actor(a),
        None => event,
    };
    let mut event = with_actor(AuditEvent::new(AuditAction::UserCreate, Outcome::Success, request)).entity("user", &id);
    if let Some(patient) = &user.patient_id {
        event = event.patient(patient);
    }
    audit::record(txn, event).await?;
    for role in &user.roles {
        insert_role(txn, &id, *role, now).await?;
        audit::record(
            txn,
            with_actor(AuditEvent::new(AuditAction::RoleGrant, Outcome::Success, request))
                .entity("user", &id)
                .detail(format!("role={role}")),
        )
        .await?;
    }
    Ok(id)
}

/// Creates an account with its roles; the creation and each role grant are audited in the same
/// transaction. `actor` is the administrator (or `None` for the command line and demo set-up).
pub async fn create(
    db: &DatabaseConnection,
    auth: &super::Auth,
    new: NewUser,
    actor: Option<&str>,
    request: &RequestMeta,
) -> Result<User, UserError> {
    let prepared = prepare(auth, new).await?;
    let txn = write_transaction(db).await?;
    let id = insert(&txn, prepared, actor, request).await?;
    txn.commit().await?;
    Ok(find_by_id(db, &id).await?.ok_or_else(|| DbErr::RecordNotFound("app_user".into()))?)
}

async fn insert_role(db: &impl ConnectionTrait, user_id: &str, role: Role, now: i64) -> Result<(), DbErr> {
    user_role::Entity::insert(user_role::ActiveModel {
        user_id: Set(user_id.to_string()),
        role: Set(role.as_str().to_string()),
        granted_at_ms: Set(now),
    })
    .exec(db)
    .await
    .map(|_| ())
}

/// Grants or revokes one role; audited in the same transaction. Returns false when nothing
/// changed (the user already had, or did not have, the role).
pub async fn set_role(
    db: &DatabaseConnection,
    user_id: &str,
    role: Role,
    granted: bool,
    actor: Option<&str>,
    request: &RequestMeta,
) -> Result<bool, DbErr> {
    let txn = write_transaction(db).await?;
    let has = roles_of(&txn, user_id).await?.contains(&role);
    if has == granted {
        return Ok(false);
    }
    if granted {
        insert_role(&txn, user_id, role, now_ms()).await?;
    } else if role == Role::Administrator {
        keep_an_administrator(&txn, async { user_role::Entity::delete_by_id((user_id.to_string(), role.as_str().to_string())).exec(&txn).await.map(|_| ()) }).await?;
    } else {
        user_role::Entity::delete_by_id((user_id.to_string(), role.as_str().to_string())).exec(&txn).await?;
    }
    let action = if granted { AuditAction::RoleGrant } else { AuditAction::RoleRevoke };
    let mut event = AuditEvent::new(action, Outcome::Success, request)
        .entity("user", user_id)
        .detail(format!("role={role}"));
    if let Some(a) = actor {
        event = event.actor(a);
    }
    audit::record(&txn, event).await?;
    // A privilege change ends the user's other sign-ins: they sign in again under the new roles.
    revoke_all(&txn, user_id).await?;
    txn.commit().await?;
    Ok(true)
}

#[derive(Debug, thiserror::Error)]
pub enum ChangePasswordError {
    #[error("the current password is wrong")]
    WrongCurrent,
    /// Too many wrong current passwords: Argon2 runs per guess, so guesses are counted like
    /// sign-ins, per account.
    #[error("locked for {retry_after_secs} s")]
    Locked { retry_after_secs: u64 },
    #[error("{0}")]
    Policy(#[from] PasswordError),
    #[error(transparent)]
    Hash(#[from] super::password::HashError),
    #[error(transparent)]
    Db(#[from] DbErr),
}

/// Whether `typed` is the signed-in user's current password (to change it, or to replace their
/// authenticator). Argon2 runs per guess, so guesses are counted before the hash runs (see
/// `throttle::take`), per account, with the sign-in's threshold: a stolen session cannot turn
/// these forms into an unlimited password oracle. A right password gives its attempt back.
pub async fn confirm_password(db: &DatabaseConnection, auth: &super::Auth, user: &User, typed: String, request: &RequestMeta) -> Result<bool, ChangePasswordError> {
    let key = format!("password_change:{}", user.id);
    let txn = write_transaction(db).await?;
    let ticket = match super::throttle::take(&txn, &auth.config.throttle, &key, auth.config.throttle.account_threshold, now_ms()).await? {
        super::throttle::Taken::Allowed(ticket) => ticket,
        super::throttle::Taken::Locked { ms } => {
            audit::record(&txn, AuditEvent::new(AuditAction::PasswordChange, Outcome::Failure, request).actor(&user.id).detail("locked")).await?;
            txn.commit().await?;
            return Err(ChangePasswordError::Locked { retry_after_secs: (ms as u64).div_ceil(1000) });
        }
    };
    txn.commit().await?;
    let stored = password_hash(db, &user.id).await?;
    let bounded = typed.chars().count() <= crate::domain::MAX_PASSWORD_CHARS;
    if !bounded || !auth.passwords.verify(typed, stored).await? {
        return Ok(false);
    }
    super::throttle::give_back(db, &ticket).await?;
    Ok(true)
}

/// Ends every open sign-in of `user_id` but `keep` (inside the caller's transaction): after a
/// new password or a new authenticator, whoever held the old one is signed out.
pub async fn revoke_others(db: &impl ConnectionTrait, user_id: &str, keep: &str) -> Result<u64, DbErr> {
    use crate::backend::entities::login_session;
    use sea_orm::sea_query::Expr;
    let result = login_session::Entity::update_many()
        .col_expr(login_session::Column::RevokedAtMs, Expr::value(now_ms()))
        .filter(login_session::Column::UserId.eq(user_id))
        .filter(login_session::Column::Id.ne(keep))
        .filter(login_session::Column::RevokedAtMs.is_null())
        .exec(db)
        .await?;
    Ok(result.rows_affected)
}

/// Changes the signed-in user's password after checking the current one. Their other sessions
/// end (whoever else knew the old password is signed out); audited either way.
pub async fn change_password(
    db: &DatabaseConnection,
    auth: &super::Auth,
    user: &User,
    login_id: &str,
    current: String,
    new: String,
    request: &RequestMeta,
) -> Result<(), ChangePasswordError> {
    use sea_orm::sea_query::Expr;
    if !confirm_password(db, auth, user, current, request).await? {
        audit::record_alone(
            db,
            AuditEvent::new(AuditAction::PasswordChange, Outcome::Failure, request).actor(&user.id).detail("wrong_current_password"),
        )
        .await?;
        return Err(ChangePasswordError::WrongCurrent);
    }
    let email = EmailAddress::parse(&user.email).ok();
    check_new_password(&new, email.as_ref())?;
    let hash = auth.passwords.hash(new).await?;
    let txn = write_transaction(db).await?;
    app_user::Entity::update_many()
        .col_expr(app_user::Column::PasswordHash, Expr::value(hash))
        .filter(app_user::Column::Id.eq(user.id.as_str()))
        .exec(&txn)
        .await?;
    revoke_others(&txn, &user.id, login_id).await?;
    audit::record(&txn, AuditEvent::new(AuditAction::PasswordChange, Outcome::Success, request).actor(&user.id)).await?;
    txn.commit().await?;
    Ok(())
}

/// Self-registration without an activation code: an account with no role and no record, which
/// sees nothing until HIM staff verify the person and link a record. What the person says about
/// themselves is kept for that check.
pub async fn self_register(
    db: &DatabaseConnection,
    auth: &super::Auth,
    new: NewUser,
    birth_date: &crate::domain::IsoDate,
    phone: Option<String>,
    verified: bool,
    request: &RequestMeta,
) -> Result<String, UserError> {
    use crate::backend::entities::identity_claim;
    let new = NewUser { roles: BTreeSet::new(), patient_id: None, ..new };
    let full_name = new.display_name.trim().to_string();
    // The password is hashed before the address is tried, whether or not it is taken: the
    // answer takes the same time either way.
    let prepared = prepare(auth, new).await?;
    let prepared = if verified { prepared } else { prepared.unverified() };
    let txn = write_transaction(db).await?;
    let id = insert(&txn, prepared, None, request).await?;
    identity_claim::Entity::insert(identity_claim::ActiveModel {
        user_id: Set(id.clone()),
        full_name: Set(full_name),
        birth_date: Set(birth_date.to_string()),
        phone: Set(phone),
        created_at_ms: Set(now_ms()),
    })
    .exec(&txn)
    .await?;
    txn.commit().await?;
    Ok(id)
}

/// Accounts for the administrators' list: email containing `query` (all when empty), newest first.
pub async fn list(db: &DatabaseConnection, query: &str) -> Result<Vec<User>, DbErr> {
    use sea_orm::{QueryOrder, QuerySelect};
    let mut select = app_user::Entity::find();
    let q = query.trim().to_lowercase();
    if !q.is_empty() {
        select = select.filter(app_user::Column::Email.contains(q.as_str()));
    }
    let rows = select.order_by_desc(app_user::Column::CreatedAtMs).limit(200).all(db).await?;
    // All their roles in one query, not one per account.
    let ids: Vec<String> = rows.iter().map(|r| r.id.clone()).collect();
    let mut roles: std::collections::HashMap<String, BTreeSet<Role>> = std::collections::HashMap::new();
    for grant in user_role::Entity::find().filter(user_role::Column::UserId.is_in(ids)).all(db).await? {
        if let Some(role) = Role::parse(&grant.role) {
            roles.entry(grant.user_id).or_default().insert(role);
        }
    }
    Ok(rows
        .into_iter()
        .map(|row| {
            let held = roles.remove(&row.id).unwrap_or_default();
            to_user(row, held)
        })
        .collect())
}

/// The error a role change or a disabling answers when it would leave no active administrator
/// (see [`keep_an_administrator`]); callers tell it apart with [`is_last_administrator`].
const LAST_ADMINISTRATOR: &str = "this would leave no active administrator";

pub fn is_last_administrator(error: &DbErr) -> bool {
    matches!(error, DbErr::Custom(message) if message == LAST_ADMINISTRATOR)
}

/// Serializes changes that can remove an administrator, then (after the change, in the same
/// transaction) refuses the one that left none: two administrators demoting or disabling each
/// other at the same moment cannot both succeed. On PostgreSQL a transaction-scoped advisory lock
/// orders them (SQLite's write transaction already does); the caller rolls back on the error.
async fn keep_an_administrator(txn: &sea_orm::DatabaseTransaction, change: impl std::future::Future<Output = Result<(), DbErr>>) -> Result<(), DbErr> {
    /// The advisory lock's key: any constant the portal uses for nothing else.
    const ADMINISTRATORS_LOCK: i64 = 0x4164_6d69_6e73;
    if txn.get_database_backend() == sea_orm::DatabaseBackend::Postgres {
        txn.execute_unprepared(&format!("SELECT pg_advisory_xact_lock({ADMINISTRATORS_LOCK})")).await?;
    }
    change.await?;
    if count_active_with(txn, Role::Administrator).await? == 0 {
        return Err(DbErr::Custom(LAST_ADMINISTRATOR.into()));
    }
    Ok(())
}

/// How many active accounts hold `role`.
pub async fn count_active_with(db: &impl ConnectionTrait, role: Role) -> Result<usize, DbErr> {
    let holders = user_role::Entity::find().filter(user_role::Column::Role.eq(role.as_str())).all(db).await?;
    let mut count = 0;
    for holder in holders {
        if app_user::Entity::find_by_id(holder.user_id).one(db).await?.is_some_and(|u| u.status == "active") {
            count += 1;
        }
    }
    Ok(count)
}

/// Disables or re-enables an account; disabling ends its sessions. Audited in the same
/// transaction. Returns false when nothing changed.
pub async fn set_active(
    db: &DatabaseConnection,
    user_id: &str,
    active: bool,
    actor: Option<&str>,
    request: &RequestMeta,
) -> Result<bool, DbErr> {
    change_active(db, user_id, active, actor, request, true).await
}

/// Disables an account from the command line (`portal admin purge-demo`), even the last
/// administrator: the command line is where a new one is made (`portal admin create-user`).
pub async fn disable_from_command_line(db: &DatabaseConnection, user_id: &str, request: &RequestMeta) -> Result<bool, DbErr> {
    change_active(db, user_id, false, Some("system:command-line"), request, false).await
}

async fn change_active(
    db: &DatabaseConnection,
    user_id: &str,
    active: bool,
    actor: Option<&str>,
    request: &RequestMeta,
    keep_administrator: bool,
) -> Result<bool, DbErr> {
    use sea_orm::sea_query::Expr;
    let status = if active { "active" } else { "disabled" };
    let txn = write_transaction(db).await?;
    let disable = async {
        app_user::Entity::update_many()
            .col_expr(app_user::Column::Status, Expr::value(status))
            .filter(app_user::Column::Id.eq(user_id))
            .filter(app_user::Column::Status.ne(status))
            .exec(&txn)
            .await
    };
    let changed = if active || !keep_administrator || !roles_of(&txn, user_id).await?.contains(&Role::Administrator) {
        disable.await?.rows_affected
    } else {
        let mut rows = 0;
        keep_an_administrator(&txn, async {
            rows = disable.await?.rows_affected;
            Ok(())
        })
        .await?;
        rows
    };
    if changed == 0 {
        return Ok(false);
    }
    if !active {
        revoke_all(&txn, user_id).await?;
    }
    let mut event = AuditEvent::new(AuditAction::UserDisable, Outcome::Success, request)
        .entity("user", user_id)
        .detail(if active { "enabled" } else { "disabled" });
    if let Some(a) = actor {
        event = event.actor(a);
    }
    audit::record(&txn, event).await?;
    txn.commit().await?;
    Ok(true)
}

/// Revokes every open login session of `user_id` (inside the caller's transaction).
pub async fn revoke_all(db: &impl ConnectionTrait, user_id: &str) -> Result<u64, DbErr> {
    let result = crate::backend::entities::login_session::Entity::update_many()
        .col_expr(crate::backend::entities::login_session::Column::RevokedAtMs, sea_orm::sea_query::Expr::value(now_ms()))
        .filter(crate::backend::entities::login_session::Column::UserId.eq(user_id))
        .filter(crate::backend::entities::login_session::Column::RevokedAtMs.is_null())
        .exec(db)
        .await?;
    Ok(result.rows_affected)
}

/// Whether `user` must use a second factor: every staff role must (ONC 170.315(d)(13), issue 3);
/// patients when the setting says so.
pub fn requires_mfa(config: &super::AuthConfig, user: &User) -> bool {
    user.roles.iter().any(|r| r.is_staff()) || config.patient_mfa_required
}

