//! OpenID Connect pieces shared by the sign-in, account and activation pages: the outcome the
//! callback reported (`?oidc=` in the address, looked up in a fixed table), and one "Sign in
//! with ..." button per configured provider. Plain forms posting to server functions: they work
//! before hydration, and the server answers with a redirect to the provider.

use crate::api::oidc::{OidcSignIn, ProviderInfo, oidc_providers, outcome_message};
use crate::ui::components::form::FormError;
use crate::ui::ids;
use leptos::prelude::*;
use crate::ui::query::use_query_decoded;

/// The configured providers, loaded once per page.
pub fn providers_resource() -> Resource<Vec<ProviderInfo>> {
    Resource::new(|| (), |_| async { oidc_providers().await.unwrap_or_default() })
}

/// The message for `?oidc=<code>`, if the address carries a known one. A success is a status,
/// anything else an alert (announced at once by screen readers).
#[component]
pub fn OidcOutcome() -> impl IntoView {
    let query = use_query_decoded();
    move || {
        let code = query.read().get("oidc")?;
        let message = outcome_message(&code)?;
        let role = if code == "linked" { "status" } else { "alert" };
        let class = if code == "linked" { "notice" } else { "form-error" };
        Some(view! { <p id=ids::OIDC_OUTCOME class=class role=role>{message}</p> })
    }
}

/// "Sign in with <provider>" buttons, or nothing when no provider is configured.
#[component]
pub fn OidcSignInButtons(#[prop(into)] next: Signal<String>) -> impl IntoView {
    let providers = providers_resource();
    let action = ServerAction::<OidcSignIn>::new();
    let result = Signal::derive(move || action.value().get());
    view! {
        <Suspense fallback=|| ()>
            {move || Suspend::new(async move {
                let list = providers.await;
                (!list.is_empty()).then(|| view! {
                    <div id=ids::OIDC_PROVIDERS class="oidc-providers">
                        <p class="divider"><span>"or"</span></p>
                        {list.into_iter().map(|p| view! {
                            <ActionForm action attr:class="inline-form">
                                <input type="hidden" name="provider" value=p.id.clone()/>
                                <input type="hidden" name="next" value=next/>
                                <button type="submit" class="button button--secondary button--wide">
                                    {format!("Sign in with {}", p.label)}
                                </button>
                            </ActionForm>
                        }).collect_view()}
                        <FormError result id=ids::OIDC_SIGN_IN_ERROR/>
                    </div>
                })
            })}
        </Suspense>
    }
}
