//! The page a recipient of a copy sent to someone else opens: no account, only the passcode the
//! patient passed on. A plain form posting to `POST /shared/{token}` (an axum route that answers
//! with the file, or comes back here with a reason code): it works without JavaScript, and the
//! reason is announced at the field.

use crate::ui::ids;
use leptos::prelude::*;
use leptos_meta::Title;
use crate::ui::query::use_query_decoded;
use leptos_router::hooks::use_params_map;

fn message(code: &str) -> Option<String> {
    if let Some(left) = code.strip_prefix("wrong-") {
        return Some(format!("That passcode is not right. {left} tries left before the link locks for 15 minutes."));
    }
    if let Some(kind) = code.strip_prefix("missing-") {
        let what = match kind {
            "pdf" => "a PDF",
            "fhir" => "FHIR data",
            "ccda" => "a C-CDA summary",
            _ => return None,
        };
        return Some(format!("This copy was not sent with {what}: use one of the other buttons."));
    }
    Some(
        match code {
            "locked" => "This link is locked after too many wrong passcodes. Try again in 15 minutes.",
            "expired" => "This link no longer works: it has expired, or the patient revoked the authorization. Ask the person who sent it for a new copy.",
            "unknown" => "This link is not valid. Check that you copied all of it.",
            _ => return None,
        }
        .to_string(),
    )
}

#[component]
pub fn SharedPage() -> impl IntoView {
    let params = use_params_map();
    let query = use_query_decoded();
    let token = move || params.read().get("token").unwrap_or_default();
    let error = move || query.read().get("error").and_then(|c| message(&c));
    view! {
        <Title text="Health records shared with you"/>
        <section class="page" aria-labelledby=ids::SHARED_HEADING>
            <h1 id=ids::SHARED_HEADING>"Health records shared with you"</h1>
            <p>"A patient asked us to send you a copy of their health records. Type the passcode they gave you to download it."</p>
            <form method="post" action=move || format!("/shared/{}", token()) class="form" novalidate="true">
                <div class="field">
                    <label for=ids::SHARED_PASSCODE>"Passcode (8 digits)"</label>
                    {move || error().map(|e| view! { <p id="shared-passcode-error" class="field__error" role="alert">{e}</p> })}
                    <input id=ids::SHARED_PASSCODE name="passcode" type="text" inputmode="numeric" autocomplete="off" maxlength="9" required=true
                        aria-invalid=move || error().is_some().to_string() aria-describedby=move || error().map(|_| "shared-passcode-error")/>
                </div>
                <div class="actions">
                    <button type="submit" name="kind" value="pdf" class="button">"Download the PDF"</button>
                    <button type="submit" name="kind" value="fhir" class="button button--secondary">"Download the FHIR data"</button>
                    <button type="submit" name="kind" value="ccda" class="button button--secondary">"Download the C-CDA summary"</button>
                </div>
            </form>
            <p class="muted">"Every opening is recorded and the patient can see it. The records are confidential: use them only as the patient authorized."</p>
        </section>
    }
}
