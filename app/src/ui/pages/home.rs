//! The home page: what the portal is for, in plain words.

use crate::ui::components::privacy_notice::PrivacyNotice;
use crate::ui::ids;
use leptos::prelude::*;
use leptos_meta::Title;

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
                <li class="card">
                    <h3>"Read your record"</h3>
                    <p>"Problems, medicines, allergies, test results and visit notes."</p>
                </li>
                <li class="card">
                    <h3>"Get a copy"</h3>
                    <p>"Download it as a PDF to read, or as FHIR data for an app."</p>
                </li>
                <li class="card">
                    <h3>"Send it on"</h3>
                    <p>"Have a copy sent to a doctor, a lawyer or a family member."</p>
                </li>
                <li class="card">
                    <h3>"Track your requests"</h3>
                    <p>"See each step, and the date by which the law says we must answer."</p>
                </li>
            </ul>
        </section>
    }
}
