//! Two-step verification pages: the second step of signing in, setting up an authenticator app
//! (during a staff member's first sign-in, or from the account page), and the recovery codes,
//! shown once.

use crate::api::mfa::{MfaSetupConfirm, VerifySecondFactor, mfa_setup_start, take_recovery_codes};
use crate::ui::components::form::{Field, FormError, field_error};
use crate::ui::ids;
use crate::ui::components::loaded::Loaded;
use leptos::prelude::*;
use leptos_meta::Title;
use crate::ui::query::use_query_decoded;

#[component]
pub fn VerifyPage() -> impl IntoView {
    let action = ServerAction::<VerifySecondFactor>::new();
    let query = use_query_decoded();
    let next = move || query.read().get("next").unwrap_or_default();
    let result = Signal::derive(move || action.value().get());
    view! {
        <Title text="Two-step verification"/>
        <section class="page page--narrow" aria-labelledby=ids::MFA_VERIFY_HEADING>
            <h1 id=ids::MFA_VERIFY_HEADING>"Two-step verification"</h1>
            <p>"Open your authenticator app and type the 6-digit code it shows for the patient portal."</p>
            <ActionForm action attr:class="form" attr:novalidate="true">
                <input type="hidden" name="next" prop:value=next/>
                <Field label="Code" name="code" id=ids::MFA_CODE kind="text" autocomplete="one-time-code"
                    required=true maxlength=64
                    hint="Lost your phone? Type one of your recovery codes instead."
                    error=Signal::derive(move || field_error(result.get(), "code"))/>
                <FormError result id=ids::MFA_ERROR/>
                <button type="submit" id=ids::MFA_SUBMIT class="button">"Continue"</button>
            </ActionForm>
            <p><a href="/sign-in" rel="external">"Start again"</a></p>
        </section>
    }
}

#[component]
pub fn SetupPage() -> impl IntoView {
    let setup = Resource::new(|| (), |_| mfa_setup_start());
    let confirm = ServerAction::<MfaSetupConfirm>::new();
    let result = Signal::derive(move || confirm.value().get());
    view! {
        <Title text="Set up two-step verification"/>
        <section class="page page--narrow" aria-labelledby=ids::MFA_SETUP_HEADING>
            <h1 id=ids::MFA_SETUP_HEADING>"Set up two-step verification"</h1>
            <Loaded resource=setup view=move |s| view! {
                {s.during_sign_in.then(|| view! {
                    <p class="notice" role="status">
                        "Staff accounts need a second step at every sign-in. Set it up now to finish signing in."
                    </p>
                })}
                <ol class="steps">
                    <li>"Install an authenticator app on your phone (for example one from your phone's maker, or any app that supports time-based codes)."</li>
                    <li>
                        "Scan this code with the app:"
                        <img class="qr" src=s.qr_data_uri width="220" height="220"
                            alt="QR code for your authenticator app. If you cannot scan it, type the key shown below."/>
                    </li>
                    <li>
                        "Or type this key into the app: "
                        <code id=ids::MFA_MANUAL_KEY class="manual-key">{s.manual_key}</code>
                    </li>
                    <li>"Type the 6-digit code the app now shows."</li>
                </ol>
            }.into_any()
            />
            <ActionForm action=confirm attr:class="form" attr:novalidate="true">
                <Suspense fallback=|| ()>{move || Suspend::new(async move {
                    setup.await.ok().filter(|s| s.replacing).map(|_| view! {
                        <Field label="Your password, or a code from the app you use now" name="current" id=ids::MFA_SETUP_CURRENT kind="password"
                            autocomplete="current-password" required=true maxlength=128
                            hint="You are replacing the authenticator you have: prove it is you first. Your other sign-ins will end."
                            error=Signal::derive(move || field_error(result.get(), "current"))/>
                    })
                })}</Suspense>
                <Field label="Code from your app" name="code" id=ids::MFA_SETUP_CODE kind="text"
                    autocomplete="one-time-code" required=true maxlength=12
                    error=Signal::derive(move || field_error(result.get(), "code"))/>
                <FormError result id=ids::MFA_SETUP_ERROR/>
                <button type="submit" id=ids::MFA_SETUP_SUBMIT class="button">"Turn on two-step verification"</button>
            </ActionForm>
        </section>
    }
}

#[component]
pub fn RecoveryCodesPage() -> impl IntoView {
    let codes = Resource::new(|| (), |_| take_recovery_codes());
    view! {
        <Title text="Recovery codes"/>
        <section class="page page--narrow" aria-labelledby=ids::RECOVERY_HEADING>
            <h1 id=ids::RECOVERY_HEADING>"Two-step verification is on"</h1>
            <Loaded resource=codes view=move |value| match value {
                list if !list.is_empty() => view! {
                    <p>
                        "Keep these recovery codes somewhere safe, away from your phone. Each works once, "
                        "instead of a code from your app. This is the only time they are shown."
                    </p>
                    <ul id=ids::RECOVERY_CODES class="recovery-codes">
                        {list.into_iter().map(|c| view! { <li><code>{c}</code></li> }).collect_view()}
                    </ul>
                }.into_any(),
                _ => view! {
                    <p>"Your recovery codes were already shown. If you lost them, set up two-step verification again to get new ones."</p>
                }.into_any(),
            }/>
            <p><a class="button" href="/account">"Continue to your account"</a></p>
        </section>
    }
}
