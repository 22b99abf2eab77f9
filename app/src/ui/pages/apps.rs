//! `/oauth/authorize`: the SMART authorization endpoint is this page (issue 22). An app sends
//! the patient here; signed out, they sign in first (with their second factor when set) and come
//! back. The page names the app and whose record it would read, lists each scope it asked for in
//! plain language, ticked, to untick, and lists what the portal never gives apps. "Allow" and
//! "Don't allow" post a plain form (no script): the decision goes back to the app.
//!
//! A request whose app or redirect URI is not registered is answered here with an error page
//! (400, the field named) and never sent anywhere (RFC 6749 4.1.2.1); a request with another
//! fault goes back to the app as an OAuth error (303).

use crate::api::apps::app_consent;
use crate::domain::smart::{AuthorizeQuery, Consent, ConsentView};
use crate::error::AppError;
use crate::ui::components::form::LoadError;
use crate::ui::ids;
use leptos::prelude::*;
use leptos_meta::Title;
use crate::ui::query::use_query_decoded;

/// Sets the page's status (and where it sends the browser), rendered on the server.
fn answer_with(status: u16, location: Option<&str>) {
    #[cfg(feature = "ssr")]
    if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
        if let Ok(code) = http::StatusCode::from_u16(status) {
            response.set_status(code);
        }
        if let Some(Ok(value)) = location.map(http::HeaderValue::from_str) {
            response.insert_header(http::header::LOCATION, value);
        }
    }
    #[cfg(not(feature = "ssr"))]
    let _ = (status, location);
}

fn consent_form(view: ConsentView, request: AuthorizeQuery, problem: bool) -> AnyView {
    let ConsentView { app_name, patient_name, scopes, refused } = view;
    view! {
        <p id=ids::APP_CONSENT_WHO class="lead"><strong>{app_name.clone()}</strong>{format!(" asks to read the health record of {patient_name}.")}</p>
        <div class="notice" role="note">
            <p>"Connect only an app you trust. What it copies from your record is then kept under its own terms: the law that binds this hospital (HIPAA) may not protect it. You can disconnect it at any time from "<a href="/caregivers">"Who can see my record"</a>"."</p>
        </div>
        <form id=ids::APP_CONSENT_FORM class="form" method="post" action="/oauth/authorize/decision">
            {AuthorizeQuery::FIELDS.iter().map(|name| view! { <input type="hidden" name=*name value=request.field(name).to_string()/> }).collect_view()}
            <fieldset class="field" class:field--invalid=problem aria-describedby=problem.then_some(ids::APP_CONSENT_ERROR)>
                <legend>"What it may read"</legend>
                {problem.then(|| view! { <p id=ids::APP_CONSENT_ERROR class="field__error" role="alert">"Tick at least one kind of data the app may read, or choose Don't allow."</p> })}
                <div class="checks">
                    {scopes.into_iter().map(|choice| view! {
                        <label class="check"><input type="checkbox" name="grant" value=choice.scope checked=true/>{format!(" {}", choice.text)}</label>
                    }).collect_view()}
                </div>
            </fieldset>
            {(!refused.is_empty()).then(|| view! {
                <div class="field">
                    <p>"It also asked for what this portal never gives apps (writing to your record, other people's records, or a narrower kind of data than listed above). It will not get these:"</p>
                    <ul id=ids::APP_CONSENT_REFUSED class="plain">{refused.into_iter().map(|r| view! { <li><code>{r}</code></li> }).collect_view()}</ul>
                </div>
            })}
            <div class="actions">
                <button id=ids::APP_CONSENT_ALLOW type="submit" name="decision" value="allow" class="button">{format!("Allow {app_name}")}</button>
                <button id=ids::APP_CONSENT_DENY type="submit" name="decision" value="deny" class="button button--secondary">"Don't allow"</button>
            </div>
        </form>
    }
    .into_any()
}

fn refused_request(fields: Vec<crate::domain::FieldError>) -> AnyView {
    answer_with(400, None);
    view! {
        <div id=ids::APP_CONSENT_ERROR class="form-error" role="alert">
            <p>"This app's request cannot be used, so you have not been sent back to it. Tell the app's makers:"</p>
            <ul class="plain">{fields.into_iter().map(|f| view! { <li><code>{f.field}</code>{format!(" {}", f.message)}</li> }).collect_view()}</ul>
        </div>
    }
    .into_any()
}

#[component]
pub fn AuthorizePage() -> impl IntoView {
    let query = use_query_decoded();
    let (request, problem) = query.with_untracked(|q| (AuthorizeQuery::from_fields(|name| q.get(name).unwrap_or_default()), q.get("problem").as_deref() == Some("scopes")));
    let asked = request.clone();
    let consent = Resource::new(|| (), move |_| app_consent(asked.clone()));
    view! {
        <Title text="Connect an app"/>
        <section class="page page--narrow" aria-labelledby=ids::APP_CONSENT_HEADING>
            <h1 id=ids::APP_CONSENT_HEADING>"Connect an app to a health record"</h1>
            <Suspense fallback=|| view! { <p>"Loading…"</p> }>
                {move || {
                    let request = request.clone();
                    Suspend::new(async move {
                        match consent.await {
                            Ok(Consent::Ask(view)) => consent_form(view, request, problem),
                            Ok(Consent::Redirect(url)) => {
                                answer_with(303, Some(&url));
                                view! { <p><a href=url rel="external">"Return to the app"</a></p> }.into_any()
                            }
                            Err(AppError::Validation { fields }) => refused_request(fields),
                            Err(e) => view! { <LoadError error=e/> }.into_any(),
                        }
                    })
                }}
            </Suspense>
        </section>
    }
}
