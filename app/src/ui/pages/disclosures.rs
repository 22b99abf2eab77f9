//! Who received my record, and what happened to it: the accounting of disclosures (45 CFR
//! 164.528; six years, with a PDF) and the activity history (ONC 170.315(e)(1): each view,
//! download and transmit). HIM staff see a patient's accounting and add entries made outside
//! the portal, or corrections (new entries: nothing is changed or deleted).

use crate::api::release::{AddDisclosure, my_activity, my_disclosures, patient_disclosures};
use crate::domain::release::Accounting;
use crate::ui::components::form::{FieldMessage, FormError, field_error};
use crate::ui::ids;
use crate::ui::components::loaded::Loaded;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;

fn entries(accounting: Accounting) -> impl IntoView {
    if accounting.entries.is_empty() {
        return view! { <p id=ids::DISCLOSURE_LIST class="muted">{format!("No disclosures from {} to {}.", accounting.from, accounting.to)}</p> }.into_any();
    }
    view! {
        <ul id=ids::DISCLOSURE_LIST class="items">
            {accounting.entries.into_iter().map(|e| view! {
                <li class="item">
                    <p class="item__title">{format!("{} · {}", crate::domain::readable_day(&e.date), e.recipient)}</p>
                    {e.address.map(|a| view! { <p class="muted">{a}</p> })}
                    <p>{e.description}</p>
                    <p class="item__meta muted"><span>{format!("Purpose: {}", e.purpose)}</span>
                        <span>{match (e.corrects.is_some(), e.accountable) {
                            (true, _) => "Correction of an earlier entry",
                            (false, true) => "",
                            (false, false) => "Under your authorization (listed, not required)",
                        }}</span></p>
                    <p class="muted hash">{format!("Entry {}", e.id)}</p>
                </li>
            }).collect_view()}
        </ul>
    }
    .into_any()
}

#[component]
pub fn DisclosuresPage() -> impl IntoView {
    let accounting = Resource::new(|| (), |_| my_disclosures());
    let activity = Resource::new(|| (), |_| my_activity());
    view! {
        <Title text="Who received my record"/>
        <section class="page" aria-labelledby=ids::DISCLOSURES_HEADING>
            <h1 id=ids::DISCLOSURES_HEADING>"Who received my record"</h1>
            <p>"Every copy of your record we sent to someone else in the last six years, and everything done with your record here."</p>
            <h2>"Accounting of disclosures"</h2>
            <p><a class="button button--secondary" href="/disclosures.pdf" rel="external" download="accounting-of-disclosures.pdf">"Download as PDF"</a></p>
            <Loaded resource=accounting view=entries/>
            <h2 id="activity-title">"Activity history"</h2>
            <Loaded resource=activity view=move |value| match value {
                rows if rows.is_empty() => view! { <p class="muted">"Nothing yet."</p> }.into_any(),
                rows => view! {
                    <ul id=ids::ACTIVITY_LIST class="items" aria-labelledby="activity-title">
                        {rows.into_iter().map(|r| view! {
                            <li class="item">
                                <p class="item__title">{format!("{} · {}", r.action, r.what)}</p>
                                <p class="item__meta muted"><span>{r.at}</span><span>{r.who}</span>
                                    {r.addressee.map(|a| view! { <span>{format!("To {a}")}</span> })}</p>
                            </li>
                        }).collect_view()}
                    </ul>
                }.into_any(),
            }/>
        </section>
    }
}

/// HIM staff: a patient's accounting, and the form to add an entry or a correction.
#[component]
pub fn StaffDisclosuresPage() -> impl IntoView {
    let params = use_params_map();
    let patient = Memo::new(move |_| params.read().get("pid").unwrap_or_default());
    let add = ServerAction::<AddDisclosure>::new();
    let result = Signal::derive(move || add.value().get());
    let accounting = Resource::new(move || (patient.get(), add.version().get()), |(p, _)| patient_disclosures(p));
    let field = move |name: &'static str, label: &'static str, kind: &'static str| {
        let id = format!("disclosure-{name}");
        view! {
            <div class="field">
                <label for=id.clone()>{label}</label>
                <FieldMessage result=result field=name/>
                <input id=id name=name type=kind aria-invalid=move || field_error(result.get(), name).is_some().to_string()/>
            </div>
        }
    };
    view! {
        <Title text="Accounting of disclosures"/>
        <section class="page" aria-labelledby=ids::DISCLOSURES_HEADING>
            <h1 id=ids::DISCLOSURES_HEADING>"Accounting of disclosures"</h1>
            <Loaded resource=accounting view=entries/>
            <h2 id="add-disclosure-title">"Record a disclosure made outside the portal"</h2>
            <ActionForm action=add attr:class="form" attr:novalidate="true" attr:aria-labelledby="add-disclosure-title">
                <input type="hidden" name="patient" value=move || patient.get()/>
                {field("disclosed_on", "Date disclosed", "date")}
                {field("recipient_name", "Recipient", "text")}
                {field("recipient_address", "Recipient's address (if known)", "text")}
                {field("description", "What was disclosed", "text")}
                {field("purpose", "Purpose", "text")}
                {field("corrects", "Corrects entry (its id; leave empty for a new disclosure)", "text")}
                <label class="check"><input type="checkbox" name="accountable" value="on" checked=true/>" Accountable under 45 CFR 164.528 (not under an authorization, not for treatment, payment or operations)"</label>
                <FormError result id="disclosure-error"/>
                <button type="submit" class="button">"Add to the accounting"</button>
            </ActionForm>
        </section>
    }
}
