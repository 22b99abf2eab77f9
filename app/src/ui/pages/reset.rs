//! Pages that open a link mailed to the account's address: choose a new password after asking
//! for one, and confirm the address that finishes a new account.

use crate::api::activation::VerifyEmail;
use crate::api::reset::{RequestPasswordReset, ResetPassword};
use crate::ui::components::form::{Field, FormError, field_error};
use crate::ui::ids;
use leptos::prelude::*;
use leptos_meta::Title;
use crate::ui::query::use_query_decoded;

#[component]
pub fn ForgotPasswordPage() -> impl IntoView {
    let action = ServerAction::<RequestPasswordReset>::new();
    let result = Signal::derive(move || action.value().get());
    let query = use_query_decoded();
    let sent = move || query.read().get("sent").is_some() || matches!(action.value().get(), Some(Ok(())));
    view! {
        <Title text="Forgot your password"/>
        <section class="page page--narrow" aria-labelledby=ids::FORGOT_HEADING>
            <h1 id=ids::FORGOT_HEADING>"Forgot your password?"</h1>
            {move || sent().then(|| view! {
                <p id=ids::FORGOT_SENT class="notice" role="status">
                    "If an account uses that address, we sent it a link to choose a new password. "
                    "The link works for 30 minutes. Check your spam folder if it does not arrive."
                </p>
            })}
            <p>"Enter the email address you sign in with. We will send you a link to choose a new password."</p>
            <ActionForm action attr:class="form" attr:novalidate="true">
                <Field label="Email address" name="email" id=ids::FORGOT_EMAIL kind="email" autocomplete="email"
                    required=true maxlength=254 error=Signal::derive(move || field_error(result.get(), "email"))/>
                <FormError result id="forgot-error"/>
                <button type="submit" id=ids::FORGOT_SUBMIT class="button">"Send me a link"</button>
            </ActionForm>
            <p><a href="/sign-in">"Back to sign in"</a></p>
        </section>
    }
}

#[component]
pub fn ResetPasswordPage() -> impl IntoView {
    let action = ServerAction::<ResetPassword>::new();
    let result = Signal::derive(move || action.value().get());
    let query = use_query_decoded();
    let token = move || query.read().get("token").unwrap_or_default();
    view! {
        <Title text="Choose a new password"/>
        <section class="page page--narrow" aria-labelledby=ids::RESET_HEADING>
            <h1 id=ids::RESET_HEADING>"Choose a new password"</h1>
            <ActionForm action attr:class="form" attr:novalidate="true">
                <input type="hidden" name="token" prop:value=token/>
                <Field label="New password" name="new_password" id=ids::RESET_PASSWORD kind="password"
                    autocomplete="new-password" required=true
                    hint="At least 12 characters. A few unrelated words make a strong password."
                    error=Signal::derive(move || field_error(result.get(), "new_password"))/>
                <FormError result id=ids::RESET_ERROR/>
                <button type="submit" id=ids::RESET_SUBMIT class="button">"Save the new password"</button>
            </ActionForm>
            <p><a href="/forgot-password">"Ask for a new link"</a></p>
        </section>
    }
}

/// `/verify-email?token=…`: the link mailed to a new account's address. A button, not the visit,
/// confirms it (a mail scanner that fetches links confirms nothing); then the account is signed
/// in and goes on to where the person was going.
#[component]
pub fn VerifyEmailPage() -> impl IntoView {
    let action = ServerAction::<VerifyEmail>::new();
    let result = Signal::derive(move || action.value().get());
    let query = use_query_decoded();
    let token = move || query.read().get("token").unwrap_or_default();
    let next = move || query.read().get("next").unwrap_or_default();
    view! {
        <Title text="Confirm your email address"/>
        <section class="page page--narrow" aria-labelledby=ids::VERIFY_EMAIL_HEADING>
            <h1 id=ids::VERIFY_EMAIL_HEADING>"Confirm your email address"</h1>
            <p>"One step left: confirm that this address is yours, and your account is ready."</p>
            <ActionForm action attr:class="form">
                <input type="hidden" name="token" prop:value=token/>
                <input type="hidden" name="next" prop:value=next/>
                <FormError result id=ids::VERIFY_EMAIL_ERROR/>
                <button type="submit" id=ids::VERIFY_EMAIL_SUBMIT class="button">"Confirm and sign in"</button>
            </ActionForm>
        </section>
    }
}
