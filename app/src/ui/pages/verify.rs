//! `/verify`: anyone holding a copy of a record checks that this portal produced it (the
//! self-service issue's "Verify a copy"): drop the file (hashed as it streams, never kept) or
//! type the code printed on the copy's last page (its QR code opens this page with the code
//! filled in). The answer says when and how the copy was made and lists its files' SHA-256;
//! it never shows who the patient is or anything of the record. Two plain forms: no script.

use crate::api::release::verify_copy;
use crate::domain::release::VerifyOutcome;
use crate::ui::components::loaded::Loaded;
use crate::ui::ids;
use leptos::prelude::*;
use leptos_meta::Title;
use crate::ui::query::use_query_decoded;

fn size_text(bytes: i64) -> String {
    match bytes {
        b if b >= 1024 * 1024 => format!("{:.1} MB", b as f64 / (1024.0 * 1024.0)),
        b if b >= 1024 => format!("{:.0} KB", b as f64 / 1024.0),
        b => format!("{b} bytes"),
    }
}

fn outcome_view(outcome: VerifyOutcome) -> impl IntoView {
    match outcome {
        VerifyOutcome::NotAsked => ().into_any(),
        VerifyOutcome::Genuine(copy) => view! {
            <div id=ids::COPY_CHECK_RESULT class="notice" role="status">
                <p class="notice__title">"Genuine: this portal produced this copy."</p>
                <dl class="facts">
                    <dt>"Made"</dt><dd>{copy.made}</dd>
                    <dt>"How"</dt><dd>{copy.how}</dd>
                    <dt>"Verification code"</dt><dd>{copy.code}</dd>
                    {copy.matched.map(|m| view! { <dt>"The file you checked"</dt><dd>{m}</dd> })}
                </dl>
                <p>"The files of this copy, with their SHA-256 checksums:"</p>
                <ul class="plain">
                    {copy.files.into_iter().map(|(name, size, sha)| view! {
                        <li><span>{format!("{name} ({})", size_text(size))}</span><br/><span class="muted hash">{sha}</span></li>
                    }).collect_view()}
                </ul>
            </div>
        }
        .into_any(),
        VerifyOutcome::Unknown { what } => view! {
            <div id=ids::COPY_CHECK_RESULT class="form-error" role="alert">
                <p class="notice__title">"Not verified."</p>
                <p>{what}</p>
            </div>
        }
        .into_any(),
        VerifyOutcome::Invalid { message, .. } => view! {
            <div id=ids::COPY_CHECK_RESULT class="form-error" role="alert"><p>{message}</p></div>
        }
        .into_any(),
    }
}

#[component]
pub fn VerifyPage() -> impl IntoView {
    let query = use_query_decoded();
    let (code, sha256, error) = query.with_untracked(|q| (q.get("code"), q.get("sha256"), q.get("error")));
    let typed = code.clone().unwrap_or_default();
    let outcome = Resource::new(|| (), move |_| verify_copy(code.clone(), sha256.clone()));
    let upload_error = error.map(|e| match e.as_str() {
        "too-large" => "That file is larger than any copy this portal makes.",
        "empty" => "Choose the file to check.",
        _ => "The file could not be read. Try again.",
    });
    view! {
        <Title text="Verify a copy"/>
        <section class="page" aria-labelledby=ids::COPY_CHECK_HEADING>
            <h1 id=ids::COPY_CHECK_HEADING>"Verify a copy of a health record"</h1>
            <p>"Check that a copy (a PDF, FHIR or C-CDA file, or a .zip) was produced by this portal, and when. The check shows nothing of the record, and the file is not kept."</p>
            {upload_error.map(|e| view! { <p id=ids::COPY_CHECK_RESULT class="form-error" role="alert">{e}</p> })}
            <Loaded resource=outcome view=outcome_view/>
            <form class="form" method="post" action="/verify/file" enctype="multipart/form-data">
                <div class="field">
                    <label for=ids::COPY_CHECK_FILE>"The file"</label>
                    <input id=ids::COPY_CHECK_FILE name="file" type="file" required=true/>
                </div>
                <button id=ids::COPY_CHECK_FILE_SUBMIT type="submit" class="button">"Check the file"</button>
            </form>
            <h2>"Or type the code"</h2>
            <form class="form" method="get" action="/verify">
                <div class="field">
                    <label for=ids::COPY_CHECK_CODE>"Verification code"</label>
                    <p id="verify-code-hint" class="field__hint">"On the copy's last page, like 7KQ2-MX4P-9TRA."</p>
                    <input id=ids::COPY_CHECK_CODE name="code" type="text" autocomplete="off" autocapitalize="characters" spellcheck="false" aria-describedby="verify-code-hint" value=typed/>
                </div>
                <button id=ids::COPY_CHECK_CODE_SUBMIT type="submit" class="button button--secondary">"Check the code"</button>
            </form>
        </section>
    }
}
