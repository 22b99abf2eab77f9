//! Download now and send now (`/record/download`; ONC 45 CFR 170.315(e)(1)): the patient, or a
//! caregiver within their grant, takes or sends a copy of the record at once, with no staff
//! review. "Send now" is the same form's second button (`formaction=/record/send`, a POST). A plain GET
//! form to `/record/download/file` (it works before any script): the file comes back as a
//! download, or the form comes back with each field's error beside it and everything chosen
//! still chosen. The request for a copy stays for what needs a person.

use crate::api::release::instant_form;
use crate::domain::release::InstantFormView;
use crate::domain::Section;
use crate::ui::components::loaded::Loaded;
use crate::ui::ids;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_location;

/// The sections a copy may be limited to, in the record's order (a limited view has no notes).
fn choosable(limited: bool) -> Vec<Section> {
    Section::ALL.into_iter().filter(|s| !(limited && *s == Section::Documents)).collect()
}

/// An error beside its field, announced, and pointed at by the field's `aria-describedby`.
fn field_error(form: &InstantFormView, name: &str) -> Option<impl IntoView + use<>> {
    form.error(name).map(|message| view! { <p id=format!("download-{name}-error") class="field__error">{message}</p> })
}

fn form_view(form: InstantFormView) -> impl IntoView {
    let invalid = |name: &str| form.error(name).is_some().then_some("true");
    let described = |name: &str| form.error(name).is_some().then(|| format!("download-{name}-error"));
    let sending = form.sending;
    let summary = (!form.errors.is_empty()).then(|| {
        let errors = form.errors.clone();
        view! {
            <div id=ids::DOWNLOAD_ERRORS class="form-error" role="alert" tabindex="-1">
                <p>{if sending { "Nothing was sent. Please fix:" } else { "Nothing was downloaded. Please fix:" }}</p>
                <ul>{errors.into_iter().map(|e| view! { <li><a href=format!("#download-{}", e.field)>{e.message}</a></li> }).collect_view()}</ul>
            </div>
        }
    });
    let limited_note = form.limited.then(|| view! {
        <p class="notice" role="note">"This is the limited view: the copy leaves out notes and sensitive information, as the record pages do."</p>
    });
    let some = form.chosen("part", "some", false);
    let dated = form.chosen("range", "dates", false);
    view! {
        {summary}
        {limited_note}
        <form id=ids::DOWNLOAD_FORM class="form" method="get" action="/record/download/file" novalidate=true aria-labelledby=ids::DOWNLOAD_HEADING>
            <fieldset class="field" id="download-section" aria-describedby=described("section")>
                <legend>"What to include"</legend>
                {field_error(&form, "section")}
                <label class="check"><input type="radio" name="part" value="all" checked=!some/>" The whole record"</label>
                <label class="check"><input type="radio" name="part" value="some" checked=some/>" Only the parts I tick:"</label>
                <div class="checks checks--indented">
                    {choosable(form.limited).into_iter().map(|s| view! {
                        <label class="check"><input type="checkbox" name="section" value=s.slug() checked=form.chosen("section", s.slug(), false)/>{format!(" {}", s.title())}</label>
                    }).collect_view()}
                </div>
            </fieldset>
            <fieldset class="field">
                <legend>"Which dates"</legend>
                <label class="check"><input type="radio" name="range" value="all" checked=!dated/>" All dates"</label>
                <label class="check"><input type="radio" name="range" value="dates" checked=dated/>" Only between these dates:"</label>
                <div class="filter">
                    <div class="field" class:field--invalid=form.error("from").is_some()>
                        <label for=ids::DOWNLOAD_FROM>"From"</label>
                        {field_error(&form, "from")}
                        <input id=ids::DOWNLOAD_FROM name="from" type="date" value=form.value("from") aria-invalid=invalid("from") aria-describedby=described("from")/>
                    </div>
                    <div class="field" class:field--invalid=form.error("to").is_some()>
                        <label for=ids::DOWNLOAD_TO>"To"</label>
                        {field_error(&form, "to")}
                        <input id=ids::DOWNLOAD_TO name="to" type="date" value=form.value("to") aria-invalid=invalid("to") aria-describedby=described("to")/>
                    </div>
                </div>
            </fieldset>
            <fieldset class="field" id="download-format" aria-describedby=described("format")>
                <legend>"Formats"</legend>
                {field_error(&form, "format")}
                <label class="check"><input type="checkbox" name="format" value="pdf" checked=form.chosen("format", "pdf", true)/>" PDF, to read and print"</label>
                <label class="check"><input type="checkbox" name="format" value="fhir" checked=form.chosen("format", "fhir", false)/>" FHIR R4 data (JSON), for health apps"</label>
                <label class="check"><input type="checkbox" name="format" value="ccda" checked=form.chosen("format", "ccda", false)/>" C-CDA summary (XML), for another doctor's system"</label>
                <p class="field__hint">"Tick more than one to get them together in a .zip, with a manifest that lists every item and its checksum."</p>
            </fieldset>
            <button id=ids::DOWNLOAD_SUBMIT type="submit" class="button">"Download now"</button>
            {form.can_send.then(|| view! {
                <fieldset class="field" id="send" class:field--invalid=form.error("email").is_some()>
                    <legend>"Or send it now"</legend>
                    <p id="download-email-hint" class="field__hint">
                        "To an address you choose (a doctor, another hospital, yourself): they get a link that expires, and you get the passcode to give them. "
                        "When you direct it, no authorization form is needed (45 CFR 164.524(c)(3)). "
                        <strong>"The person you send it to may not be bound by HIPAA"</strong>" and could use or share it in ways HIPAA would not allow."
                    </p>
                    {form.direct_available.then(|| view! {
                        <fieldset class="field">
                            <legend>"How"</legend>
                            <label class="check"><input type="radio" name="via" value="email" checked=!form.chosen("via", "direct", false)/>" By email: they get a link, you give them the passcode"</label>
                            <label class="check"><input type="radio" name="via" value="direct" checked=form.chosen("via", "direct", false)/>" To a Direct address (a doctor's secure health mail): the files themselves, through the hospital's Direct relay"</label>
                        </fieldset>
                    })}
                    <label for=ids::DOWNLOAD_EMAIL>{if form.direct_available { "Send to (email or Direct address)" } else { "Send to (email address)" }}</label>
                    {field_error(&form, "email")}
                    <input id=ids::DOWNLOAD_EMAIL name="email" type="email" autocomplete="email" value=form.value("email")
                        aria-invalid=invalid("email")
                        aria-describedby=if form.error("email").is_some() { "download-email-hint download-email-error" } else { "download-email-hint" }/>
                    <button id=ids::SEND_SUBMIT type="submit" class="button button--secondary" formaction="/record/send" formmethod="post">"Send now"</button>
                </fieldset>
            })}
        </form>
    }
}

#[component]
pub fn DownloadPage() -> impl IntoView {
    let location = use_location();
    let query = location.search.get_untracked();
    let form = Resource::new(|| (), move |_| instant_form(query.clone()));
    view! {
        <Title text="Download or send my record"/>
        <section class="page" aria-labelledby=ids::DOWNLOAD_HEADING>
            <h1 id=ids::DOWNLOAD_HEADING>"Download or send my record"</h1>
            <p>"Made at once, here, with no wait and no fee: what you can see in the portal, as a file to keep, or sent straight to another doctor."</p>
            <p class="muted">"Psychotherapy notes are never part of a copy (45 CFR 164.524(a)(1)(i)). The first page says what was left out and why; the last says how anyone can check the copy is genuine."</p>
            <Loaded resource=form view=form_view/>
            <h2>"Need something else?"</h2>
            <p>"Records that are not in the portal (scanned paper charts, billing records), or a copy sent to someone with your signed authorization: "<a href="/requests">"ask the records team"</a>". They answer within the legal deadline."</p>
        </section>
    }
}
