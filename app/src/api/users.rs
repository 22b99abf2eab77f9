//! Staff account management for administrators: list accounts, create staff accounts (a temporary
//! password shown once), grant and revoke roles, disable and enable. Every change is audited and
//! ends the account's sessions where privileges change.

use crate::domain::Role;
use crate::error::AppError;
use leptos::prelude::*;
use serde::{Deserialize, Serialize};
#[cfg(feature = "ssr")]
use super::ssr;

/// One account in the administrators' list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserRow {
    pub id: String,
    pub email: String,
    pub name: String,
    pub roles: Vec<Role>,
    pub active: bool,
    pub mfa_enabled: bool,
    pub has_record: bool,
}

/// A staff account just created: its temporary password is shown once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreatedAccount {
    pub email: String,
    pub temporary_password: String,
}

/// The roles an administrator may grant here (patients get theirs through activation or
/// verification; caregivers through grants).
pub const STAFF_ROLES: [Role; 3] = [Role::HimStaff, Role::HimReviewer, Role::Administrator];

#[cfg(feature = "ssr")]
fn fail(context: &'static str) -> impl Fn(sea_orm::DbErr) -> AppError {
    move |e| crate::backend::error::internal(context, &e)
}

/// Accounts whose email contains `q`.
#[server(prefix = "/api", endpoint = "list_users")]
pub async fn list_users(q: String) -> Result<Vec<UserRow>, AppError> {
    use crate::backend::audit::AuditAction;
    use crate::backend::auth::users;
    use self::ssr::*;
    use crate::backend::policy::Action;
    with_status(async move {
        let context = access().await?;
        context.require(Action::ManageUsers, AuditAction::UserCreate).await?;
        let q = crate::domain::search_text("q", Some(&q)).map_err(|e| AppError::Validation { fields: vec![e] })?.unwrap_or_default();
        let rows = users::list(&state()?.db, &q).await.map_err(fail("listing users failed"))?;
        // Accounts name patients too: the list read is audited like the HIM queues.
        context.audit_list("users", rows.len(), !q.is_empty()).await?;
        Ok(rows
            .into_iter()
            .map(|u| UserRow {
                id: u.id,
                email: u.email,
                name: u.display_name,
                roles: u.roles.into_iter().collect(),
                active: u.active,
                mfa_enabled: u.mfa_enabled,
                has_record: u.patient_id.is_some(),
            })
            .collect())
    }.await)
}

/// Creates a staff account with the ticked roles and a random temporary password (shown once on
/// the next page). The person sets up two-step verification at their first sign-in.
#[server(prefix = "/api", endpoint = "create_staff_user")]
pub async fn create_staff_user(#[server(flatten)] form: crate::domain::StaffUserForm) -> Result<(), AppError> {
    use crate::backend::audit::AuditAction;
    use crate::backend::auth::users::{self, NewUser, UserError};
    use self::ssr::*;
    use crate::backend::policy::Action;
    with_status(async move {
        let state = state()?;
        let context = access().await?;
        context.require(Action::ManageUsers, AuditAction::UserCreate).await?;
        let (email, name, roles) = form.check().map_err(|fields| AppError::Validation { fields })?;
        let password = temporary_password();
        let new = NewUser { email: email.clone(), display_name: name, password: Some(password.clone()), roles, patient_id: None };
        users::create(&state.db, &state.auth, new, Some(&context.principal().user_id), context.request())
            .await
            .map_err(UserError::into_app_error)?;
        let session = PortalSession::current().await?;
        session.insert(Key::TemporaryPasswordOnce, CreatedAccount { email: email.to_string(), temporary_password: password }).await?;
        leptos_axum::redirect("/admin/users?created=1");
        Ok(())
    }.await)
}

#[cfg(feature = "ssr")]
fn temporary_password() -> String {
    const ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyzACDEFGHJKLMNPQRSTUVWXYZ23456789";
    (0..20).map(|_| ALPHABET[usize::from(rand::random::<u8>()) % ALPHABET.len()] as char).collect()
}

/// The account just created and its temporary password, once.
#[server(prefix = "/api", endpoint = "take_created_account")]
pub async fn take_created_account() -> Result<Option<CreatedAccount>, AppError> {
    use self::ssr::*;
    with_status(async move {
        signed_in(true).await?;
        PortalSession::current().await?.remove::<CreatedAccount>(Key::TemporaryPasswordOnce).await
    }.await)
}

/// The portal never ends up with nobody to manage it.
#[cfg(feature = "ssr")]
fn last_administrator() -> AppError {
    AppError::Conflict { message: "This is the last administrator: grant the role to someone else first.".into() }
}

/// Grants (`grant` = "true") or revokes a staff role. The last active administrator cannot be
/// demoted, so the portal never ends up with nobody to manage it.
#[server(prefix = "/api", endpoint = "set_user_role")]
pub async fn set_user_role(user_id: String, role: String, grant: String) -> Result<(), AppError> {
    use crate::backend::audit::AuditAction;
    use crate::backend::auth::users;
    use self::ssr::*;
    use crate::backend::policy::Action;
    with_status(async move {
        let state = state()?;
        let context = access().await?;
        let granting = grant == "true";
        let action = if granting { AuditAction::RoleGrant } else { AuditAction::RoleRevoke };
        context.require(Action::ManageUsers, action).await?;
        let role = Role::parse(&role).filter(|r| STAFF_ROLES.contains(r)).ok_or_else(AppError::bad_request)?;
        users::find_by_id(&state.db, &user_id).await.map_err(fail("reading a user failed"))?.ok_or(AppError::NotFound)?;
        if !granting && role == Role::Administrator
            && users::count_active_with(&state.db, Role::Administrator).await.map_err(fail("counting administrators failed"))? <= 1
        {
            return Err(last_administrator());
        }
        users::set_role(&state.db, &user_id, role, granting, Some(&context.principal().user_id), context.request()).await.map_err(|e| {
            if users::is_last_administrator(&e) { last_administrator() } else { fail("changing a role failed")(e) }
        })?;
        leptos_axum::redirect("/admin/users");
        Ok(())
    }.await)
}

/// Disables (`active` = "false") or re-enables an account. Nobody can disable themselves.
#[server(prefix = "/api", endpoint = "set_user_active")]
pub async fn set_user_active(user_id: String, active: String) -> Result<(), AppError> {
    use crate::backend::audit::AuditAction;
    use crate::backend::auth::users;
    use self::ssr::*;
    use crate::backend::policy::Action;
    with_status(async move {
        let state = state()?;
        let context = access().await?;
        context.require(Action::ManageUsers, AuditAction::UserDisable).await?;
        if user_id == context.principal().user_id {
            return Err(AppError::Conflict { message: "You cannot disable your own account.".into() });
        }
        users::find_by_id(&state.db, &user_id).await.map_err(fail("reading a user failed"))?.ok_or(AppError::NotFound)?;
        users::set_active(&state.db, &user_id, active == "true", Some(&context.principal().user_id), context.request()).await.map_err(|e| {
            if users::is_last_administrator(&e) { last_administrator() } else { fail("changing an account failed")(e) }
        })?;
        leptos_axum::redirect("/admin/users");
        Ok(())
    }.await)
}
