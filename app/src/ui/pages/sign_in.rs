//! The sign-in page: email and password, the reason a previous session ended, and (in demo mode)
//! the demo credentials. Works without JavaScript: the form posts to the server function, which
//! answers with a redirect (to the person's landing page, or back here with the error). Once the
//! [`SignInForm`] island is hydrated, an error shows in place and keeps what was typed.

use crate::api::auth::{SignIn, demo_credentials, signed_out_reason};
use crate::ui::components::form::{Field, FormError, field_error};
use crate::ui::components::oidc::{OidcOutcome, OidcSignInButtons};
use crate::ui::ids;
use leptos::prelude::*;
use leptos_meta::Title;
use crate::ui::query::use_query_decoded;

#[component]
pub fn SignInPage() -> impl IntoView {
    let query = use_query_decoded();
    let next = move || query.read().get("next").unwrap_or_default();
    let reason = Resource::new(|| (), |_| signed_out_reason());
    let demo = Resource::new(|| (), |_| demo_credentials());

    let status = move || {
        let q = query.read();
        if q.get("signed_out").as_deref() == Some("everywhere") {
            Some("You are signed out on every device.")
        } else if q.get("signed_out").is_some() {
            Some("You are signed out. Close the browser if this is a shared computer.")
        } else if q.get("reset").is_some() {
            Some("Your password was changed, and every device was signed out. Sign in with the new password.")
        } else {
            None
        }
    };

    view! {
        <Title text="Sign in"/>
        <section class="page page--narrow" aria-labelledby=ids::SIGN_IN_HEADING>
            <h1 id=ids::SIGN_IN_HEADING>"Sign in"</h1>
            {move || status().map(|s| view! { <p class="notice" role="status">{s}</p> })}
            <OidcOutcome/>
            <Suspense fallback=|| ()>
                {move || Suspend::new(async move {
                    let why = reason.await.ok().flatten();
                    let timed_out = why.is_some();
                    timed_out.then(|| {
                        let text = match why.as_deref() {
                            Some("absolute") => "Your session reached its time limit, so we signed you out. Please sign in again to continue.",
                            _ => "You were signed out because you were inactive for a while. Please sign in again to continue.",
                        };
                        view! { <p id=ids::TIMED_OUT_NOTICE class="notice" role="status">{text}</p> }
                    })
                })}
            </Suspense>
            <SignInForm next=next()/>
            <OidcSignInButtons next=Signal::derive(next)/>
            <p><a id=ids::FORGOT_LINK href="/forgot-password">"Forgot your password?"</a></p>
            <p>
                "Got an activation letter from our records team? "
                <a id=ids::REGISTER_LINK href="/register">"Create your account"</a>
            </p>
            <Suspense fallback=|| ()>
                {move || Suspend::new(async move {
                    let accounts = demo.await.unwrap_or_default();
                    (!accounts.is_empty()).then(|| view! {
                        <aside id=ids::DEMO_CREDENTIALS class="notice" aria-labelledby="demo-title">
                            <h2 id="demo-title" class="notice__title">"Demo accounts"</h2>
                            <p>"This portal runs in demo mode with made-up data. Sign in as:"</p>
                            <dl class="demo-list">
                                {accounts.into_iter().map(|a| view! {
                                    <dt>{a.label}</dt>
                                    <dd>
                                        <code>{a.email}</code>" / "<code>{a.password}</code>
                                        {a.authenticator_key.map(|k| view! {
                                            <br/>"Authenticator key: "<code class="demo-key">{k}</code>
                                        })}
                                        {a.current_code.map(|c| view! {
                                            <br/>"Code right now: "<code>{c}</code>" (changes every 30 seconds)"
                                        })}
                                    </dd>
                                }).collect_view()}
                            </dl>
                        </aside>
                    })
                })}
            </Suspense>
        </section>
    }
}

/// The email and password form. An island: a wrong password is answered in place, and the
/// address stays typed; success is the server's redirect to where the person lands.
#[island]
fn SignInForm(next: String) -> impl IntoView {
    let action = ServerAction::<SignIn>::new();
    let result = Signal::derive(move || action.value().get());
    view! {
        <ActionForm action attr:class="form" attr:novalidate="true">
            <input type="hidden" name="next" value=next/>
            <Field label="Email address" name="email" id=ids::SIGN_IN_EMAIL kind="email"
                autocomplete="username" required=true maxlength=254
                error=Signal::derive(move || field_error(result.get(), "email"))/>
            <Field label="Password" name="password" id=ids::SIGN_IN_PASSWORD kind="password"
                autocomplete="current-password" required=true
                error=Signal::derive(move || field_error(result.get(), "password"))/>
            <FormError result id=ids::SIGN_IN_ERROR/>
            <button type="submit" id=ids::SIGN_IN_SUBMIT class="button">"Sign in"</button>
        </ActionForm>
    }
}
