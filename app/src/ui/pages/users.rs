//! Staff accounts for administrators: find an account, create a staff account (its temporary
//! password is shown once), grant or revoke staff roles, disable or enable an account.

use crate::api::users::{CreateStaffUser, STAFF_ROLES, SetUserActive, SetUserRole, list_users, take_created_account};
use crate::ui::components::form::{Field, FormError, field_error};
use crate::ui::ids;
use crate::ui::components::loaded::Loaded;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::Form;
use crate::ui::query::use_query_decoded;

#[component]
pub fn UsersPage() -> impl IntoView {
    let query = use_query_decoded();
    let q = move || query.read().get("q").unwrap_or_default();
    let create = ServerAction::<CreateStaffUser>::new();
    let set_role = ServerAction::<SetUserRole>::new();
    let set_active = ServerAction::<SetUserActive>::new();
    let users = Resource::new(
        move || (q(), create.version().get(), set_role.version().get(), set_active.version().get()),
        |(q, ..)| list_users(q),
    );
    let created = Resource::new(move || create.version().get(), |_| take_created_account());
    let create_result = Signal::derive(move || create.value().get());
    let err = move |f: &'static str| Signal::derive(move || field_error(create_result.get(), f));
    let role_result = Signal::derive(move || set_role.value().get());
    let active_result = Signal::derive(move || set_active.value().get());

    view! {
        <Title text="Staff accounts"/>
        <section class="page" aria-labelledby=ids::USERS_HEADING>
            <h1 id=ids::USERS_HEADING>"Accounts"</h1>
            <Suspense fallback=|| ()>
                {move || Suspend::new(async move {
                    created.await.ok().flatten().map(|c| view! {
                        <div id=ids::CREATED_ACCOUNT class="notice" role="status">
                            <p>"Account created for " <strong>{c.email}</strong> ". Give them this temporary password, which is shown only now:"</p>
                            <p><code id=ids::TEMPORARY_PASSWORD class="manual-key">{c.temporary_password}</code></p>
                            <p>"They will set up two-step verification when they first sign in, and should change the password."</p>
                        </div>
                    })
                })}
            </Suspense>
            <FormError result=role_result id="role-error"/>
            <FormError result=active_result id="active-error"/>
            <Form method="GET" action="" attr:class="form form--inline" attr:role="search">
                <div class="field">
                    <label for="users-q">"Email contains"</label>
                    <input id="users-q" name="q" type="search" maxlength="254" prop:value=q/>
                </div>
                <button type="submit" class="button">"Find"</button>
            </Form>
            <Loaded resource=users view=move |rows| view! {
                <ul id=ids::USER_LIST class="session-list">
                    {rows.into_iter().map(|u| {
                        let id = u.id.clone();
                        let roles = if u.roles.is_empty() { "no role".to_string() } else { u.roles.iter().map(|r| r.label()).collect::<Vec<_>>().join(", ") };
                        view! {
                            <li class="session-list__item">
                                <p><strong>{u.name.clone()}</strong>" · "{u.email.clone()}</p>
                                <p class="muted">
                                    {roles}
                                    {if u.mfa_enabled { " · two-step verification on" } else { " · two-step verification off" }}
                                    {(!u.active).then_some(" · DISABLED")}
                                    {u.has_record.then_some(" · linked to a patient record")}
                                </p>
                                <div class="button-row">
                                    {STAFF_ROLES.into_iter().map(|role| {
                                        let id = id.clone();
                                        let has = u.roles.contains(&role);
                                        let label = if has { format!("Revoke {}", role.label()) } else { format!("Grant {}", role.label()) };
                                        view! {
                                            <ActionForm action=set_role attr:class="inline-form">
                                                <input type="hidden" name="user_id" value=id/>
                                                <input type="hidden" name="role" value=role.as_str()/>
                                                <input type="hidden" name="grant" value=if has { "false" } else { "true" }/>
                                                <button type="submit" class="button button--secondary">{label}</button>
                                            </ActionForm>
                                        }
                                    }).collect_view()}
                                    <ActionForm action=set_active attr:class="inline-form">
                                        <input type="hidden" name="user_id" value=id.clone()/>
                                        <input type="hidden" name="active" value=if u.active { "false" } else { "true" }/>
                                        <button type="submit" class="button button--secondary">{if u.active { "Disable account" } else { "Enable account" }}</button>
                                    </ActionForm>
                                </div>
                            </li>
                        }
                    }).collect_view()}
                </ul>
            }.into_any()
            />

            <h2 id="new-staff-title">"Create a staff account"</h2>
            <ActionForm action=create attr:class="form" attr:novalidate="true" attr:aria-labelledby="new-staff-title">
                <Field label="Name" name="name" id=ids::NEW_STAFF_NAME required=true maxlength=100 error=err("name")/>
                <Field label="Work email" name="email" id=ids::NEW_STAFF_EMAIL kind="email" required=true maxlength=254 error=err("email")/>
                <fieldset class="field" aria-describedby="new-staff-roles-error">
                    <legend>"Roles"</legend>
                    {move || err("roles").get().map(|e| view! { <p id="new-staff-roles-error" class="field__error">{e}</p> })}
                    {STAFF_ROLES.into_iter().map(|role| {
                        let input_id = format!("new-staff-{}", role.as_str());
                        let label_for = input_id.clone();
                        view! {
                            <label class="check" for=label_for>
                                <input type="checkbox" id=input_id name=role.as_str() value="on"/>
                                " " {role.label()}
                            </label>
                        }
                    }).collect_view()}
                </fieldset>
                <FormError result=create_result id=ids::NEW_STAFF_ERROR/>
                <button type="submit" id=ids::NEW_STAFF_SUBMIT class="button">"Create account"</button>
            </ActionForm>
        </section>
    }
}
