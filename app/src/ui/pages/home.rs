//! The home page: what the portal is for, in plain words.

use crate::ui::components::privacy_notice::PrivacyNotice;
use crate::ui::ids;
use leptos::prelude::*;
use leptos_meta::Title;

/// What a patient can do here, in their words: (title, one line).
const FEATURES: &[(&str, &str)] = &[
    ("Read your record", "Problems, medicines, allergies, test results and visit notes."),
    ("Get a copy", "Download it as a PDF to read, or as FHIR data for an app."),
    ("Send it on", "Have a copy sent to a doctor, a lawyer or a family member."),
    ("Track your requests", "See each step, and the date by which the law says we must answer."),
];

#[component]
pub fn HomePage() -> impl IntoView {
    view! {
        <Title text=""/>
        <section class="page" aria-labelledby=ids::HOME_HEADING>
            <h1 id=ids::HOME_HEADING>"Your health record, when you need it"</h1>
            <p class="lead">
                "Read your record, ask for a copy of it, send it to someone you choose "
                "and follow every request until it is done."
            </p>
            <PrivacyNotice/>
            <h2>"What you can do here"</h2>
            <ul class="cards">
                {FEATURES
                    .iter()
                    .map(|(title, text)| view! { <li class="card"><h3>{*title}</h3><p>{*text}</p></li> })
                    .collect_view()}
            </ul>
        </section>
    }
}
