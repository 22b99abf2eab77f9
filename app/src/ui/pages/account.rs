//! The account page: who is signed in, their open sessions (end one, or sign out everywhere), the
//! sign-ins linked from OpenID providers (link, unlink) and a password change.

use crate::api::auth::{ChangePassword, EndSession, SignOutEverywhere, my_sessions};
use crate::api::mfa::mfa_status;
use crate::api::oidc::{OidcLink, UnlinkIdentity, my_identities};
use crate::ui::components::oidc::{OidcOutcome, providers_resource};
use crate::ui::components::form::{Field, FormError, LoadError, field_error};
use crate::ui::components::layout::CurrentUserResource;
use crate::ui::ids;
use crate::ui::components::loaded::Loaded;
use leptos::prelude::*;
use leptos_meta::Title;
use crate::ui::query::use_query_decoded;

#[component]
pub fn AccountPage() -> impl IntoView {
    let user = expect_context::<CurrentUserResource>().0;
    let end_one = ServerAction::<EndSession>::new();
    let everywhere = ServerAction::<SignOutEverywhere>::new();
    let change = ServerAction::<ChangePassword>::new();
    let sessions = Resource::new(move || end_one.version().get(), |_| my_sessions());
    let query = use_query_decoded();
    let changed = move || query.read().get("password").as_deref() == Some("changed") || matches!(change.value().get(), Some(Ok(())));
    let change_result = Signal::derive(move || change.value().get());
    let mfa = Resource::new(|| (), |_| mfa_status());
    let link = ServerAction::<OidcLink>::new();
    let link_result = Signal::derive(move || link.value().get());
    let unlink = ServerAction::<UnlinkIdentity>::new();
    let unlink_result = Signal::derive(move || unlink.value().get());
    let identities = Resource::new(move || unlink.version().get(), |_| my_identities());
    let providers = providers_resource();

    view! {
        <Title text="Your account"/>
        <section class="page" aria-labelledby=ids::ACCOUNT_HEADING>
            <h1 id=ids::ACCOUNT_HEADING>"Your account"</h1>
            <OidcOutcome/>
            <Loaded resource=user view=move |value| match value {
                Some(me) => view! {
                    <dl class="facts">
                        <dt>"Name"</dt><dd>{me.name.clone()}</dd>
                        <dt>"Email"</dt><dd>{me.email.clone()}</dd>
                        <dt>"Access"</dt>
                        <dd>{if me.roles.is_empty() {
                            "Waiting for identity verification by our records team".to_string()
                        } else {
                            me.roles.iter().map(|r| r.label()).collect::<Vec<_>>().join(", ")
                        }}</dd>
                    </dl>
                }.into_any(),
                None => view! { <LoadError error=crate::error::AppError::Unauthenticated/> }.into_any(),
            }/>

            <h2>"Two-step verification"</h2>
            <Suspense fallback=|| ()>
                {move || Suspend::new(async move {
                    mfa.await.ok().map(|m| if m.enabled {
                        view! {
                            <p id=ids::MFA_STATUS>
                                "On. You have " {m.recovery_codes_left} " unused recovery code(s). "
                                <a id=ids::MFA_SETUP_LINK href="/account/mfa">"Set up a new phone (and new recovery codes)"</a>
                            </p>
                        }.into_any()
                    } else {
                        view! {
                            <div id=ids::MFA_STATUS class="notice">
                                <p>"Protect your health information: ask for a code from your phone as well as your password when you sign in."</p>
                                <a id=ids::MFA_SETUP_LINK class="button" href="/account/mfa">"Set up two-step verification"</a>
                            </div>
                        }.into_any()
                    })
                })}
            </Suspense>

            <h2 id="sessions-title">"Where you are signed in"</h2>
            <Loaded resource=sessions view=move |rows| view! {
                <ul id=ids::SESSION_LIST class="session-list" aria-labelledby="sessions-title">
                    {rows.into_iter().map(|row| {
                        let id = row.id.clone();
                        view! {
                            <li class="session-list__item">
                                <p>
                                    <strong>{if row.current { "This device" } else { "Another device" }}</strong>
                                    " · " {row.address}
                                </p>
                                <p class="muted">{row.browser}</p>
                                <p class="muted">"Signed in " {row.started} " · last active " {row.last_active}</p>
                                {(!row.current).then(|| view! {
                                    <ActionForm action=end_one attr:class="inline-form">
                                        <input type="hidden" name="id" value=id/>
                                        <button type="submit" class="button button--secondary">"Sign out this device"</button>
                                    </ActionForm>
                                })}
                            </li>
                        }
                    }).collect_view()}
                </ul>
            }.into_any()
            />
            <ActionForm action=everywhere attr:class="form">
                <button type="submit" id=ids::SIGN_OUT_EVERYWHERE class="button button--secondary">"Sign out everywhere"</button>
            </ActionForm>

            <Suspense fallback=|| ()>
                {move || Suspend::new(async move {
                    let providers = providers.await;
                    let linked = identities.await.unwrap_or_default();
                    let none_linked = linked.is_empty();
                    (!providers.is_empty() || !none_linked).then(move || view! {
                        <h2 id="identities-title">"Sign in with another service"</h2>
                        <ul id=ids::IDENTITY_LIST class="session-list" aria-labelledby="identities-title">
                            {linked.into_iter().map(|row| view! {
                                <li class="session-list__item">
                                    <p><strong>{row.provider.clone()}</strong></p>
                                    <p class="muted">"Linked " {row.linked.clone()}</p>
                                    <ActionForm action=unlink attr:class="inline-form">
                                        <input type="hidden" name="issuer" value=row.issuer.clone()/>
                                        <input type="hidden" name="subject" value=row.subject.clone()/>
                                        <button type="submit" class="button button--secondary">{format!("Unlink {}", row.provider)}</button>
                                    </ActionForm>
                                </li>
                            }).collect_view()}
                            {none_linked.then(|| view! { <li class="muted">"None linked yet."</li> })}
                        </ul>
                        <FormError result=unlink_result id=ids::OIDC_LINK_ERROR/>
                        {providers.into_iter().map(|p| view! {
                            <ActionForm action=link attr:class="inline-form">
                                <input type="hidden" name="provider" value=p.id.clone()/>
                                <button type="submit" class="button button--secondary">{format!("Link your {} sign-in", p.label)}</button>
                            </ActionForm>
                        }).collect_view()}
                        <FormError result=link_result id="oidc-link-start-error"/>
                    })
                })}
            </Suspense>

            <h2>"Change your password"</h2>
            {move || changed().then(|| view! { <p id=ids::PASSWORD_CHANGED class="notice" role="status">"Your password was changed. Your other devices were signed out."</p> })}
            <ActionForm action=change attr:class="form" attr:novalidate="true">
                <Field label="Current password" name="current_password" id=ids::CURRENT_PASSWORD kind="password"
                    autocomplete="current-password" required=true
                    error=Signal::derive(move || field_error(change_result.get(), "current_password"))/>
                <Field label="New password" name="new_password" id=ids::NEW_PASSWORD kind="password"
                    autocomplete="new-password" required=true
                    hint="At least 12 characters. A few unrelated words make a strong password."
                    error=Signal::derive(move || field_error(change_result.get(), "new_password"))/>
                <FormError result=change_result id=ids::CHANGE_PASSWORD_ERROR/>
                <button type="submit" class="button">"Change password"</button>
            </ActionForm>
        </section>
    }
}
