//! HIM pages: uploading FHIR files (a plain multipart form, so it works without JavaScript and the
//! browser shows the upload's progress) with the list of past imports, and the list of possible
//! duplicate records with both side by side.

use crate::api::import::{ResolveDuplicate, duplicates, import_runs};
use crate::domain::{DuplicatePair, PatientSummary};
use crate::ui::components::form::{FormError};
use crate::ui::ids;
use crate::ui::components::loaded::Loaded;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::A;
use crate::ui::query::use_query_decoded;

#[component]
pub fn ImportPage() -> impl IntoView {
    let runs = Resource::new(|| (), |_| import_runs());
    let query = use_query_decoded();
    let just_done = move || query.read().get("done").is_some();
    view! {
        <Title text="Import records"/>
        <section class="page" aria-labelledby=ids::IMPORT_HEADING>
            <h1 id=ids::IMPORT_HEADING>"Import records"</h1>
            <p>"Upload a FHIR R4 file: a Bundle (transaction, batch, collection, document, searchset) or NDJSON with one resource per line. "
               "Each file is imported whole or not at all; importing it again updates it in place."</p>
            <form method="post" action="/staff/import/upload" enctype="multipart/form-data" class="form">
                <div class="field">
                    <label for=ids::IMPORT_FILE>"FHIR file"</label>
                    <p id="import-file-hint" class="field__hint">"A .json or .ndjson file, up to the size the portal allows."</p>
                    <input id=ids::IMPORT_FILE name="file" type="file" accept=".json,.ndjson,application/json,application/fhir+json" required=true aria-describedby="import-file-hint"/>
                </div>
                <button type="submit" id=ids::IMPORT_SUBMIT class="button">"Import"</button>
            </form>
            <h2 id="runs-title">"Latest imports"</h2>
            <Loaded resource=runs view=move |value| match value {
                rows if rows.is_empty() => view! { <p class="muted">"Nothing imported yet."</p> }.into_any(),
                rows => view! {
                    <ul id=ids::IMPORT_RUNS class="items" aria-labelledby="runs-title">
                        {rows.into_iter().enumerate().map(|(n, r)| {
                            let ok = r.status == "imported";
                            // The newest outcome is announced after an upload.
                            let role = (n == 0 && just_done()).then_some(if ok { "status" } else { "alert" });
                            view! {
                                <li class="item">
                                    <p class="item__title" role=role>
                                        {format!("{}{}", if ok { "Imported: " } else { "Not imported: " }, r.source)}
                                    </p>
                                    <p>{r.outcome.clone()}</p>
                                    <p class="item__meta muted"><span>{r.finished.clone()}</span></p>
                                    {r.patient_id.clone().map(|p| view! { <p><A href=format!("/staff/patients/{p}")>"Open the patient"</A></p> })}
                                    {(!r.warnings.is_empty()).then(|| view! {
                                        <details><summary>{format!("{} warning(s)", r.warnings.len())}</summary>
                                            <ul>{r.warnings.iter().map(|w| view! { <li>{w.clone()}</li> }).collect_view()}</ul>
                                        </details>
                                    })}
                                </li>
                            }
                        }).collect_view()}
                    </ul>
                }.into_any(),
            }/>
        </section>
    }
}

fn record_facts(p: &PatientSummary, identifiers: &[String]) -> impl IntoView + use<> {
    view! {
        <dl class="facts">
            <dt>"Name"</dt><dd><A href=format!("/staff/patients/{}", p.id)>{format!("{}, {}", p.family_name, p.given_names)}</A></dd>
            <dt>"Date of birth"</dt><dd>{p.birth_date.clone()}</dd>
            <dt>"Sex"</dt><dd>{p.sex.clone()}</dd>
            <dt>"Record number"</dt><dd>{p.mrn.clone()}</dd>
            <dt>"Identifiers"</dt><dd>{identifiers.join("; ")}</dd>
        </dl>
    }
}

#[component]
pub fn DuplicatesPage() -> impl IntoView {
    let resolve = ServerAction::<ResolveDuplicate>::new();
    let result = Signal::derive(move || resolve.value().get());
    let pairs = Resource::new(move || resolve.version().get(), |_| duplicates());
    view! {
        <Title text="Possible duplicate records"/>
        <section class="page" aria-labelledby=ids::DUPLICATES_HEADING>
            <h1 id=ids::DUPLICATES_HEADING>"Possible duplicate records"</h1>
            <p>"Records with the same name and date of birth but different identifiers. The portal never merges records: "
               "decide whether they are the same person, and merge them in the source system if so."</p>
            <FormError result id="duplicates-error"/>
            <Loaded resource=pairs view=move |value| match value {
                list if list.is_empty() => view! { <p id=ids::DUPLICATES_LIST class="muted">"No open pairs."</p> }.into_any(),
                list => view! {
                    <ul id=ids::DUPLICATES_LIST class="items">
                        {list.into_iter().map(|pair: DuplicatePair| view! {
                            <li class="item">
                                <p class="item__meta muted"><span>{pair.reason.clone()}</span><span>{format!("found {}", pair.found)}</span></p>
                                <div class="cards">
                                    <section class="card" aria-label="Newly imported record"><h2>"Newly imported"</h2>{record_facts(&pair.new_record, &pair.new_identifiers)}</section>
                                    <section class="card" aria-label="Existing record"><h2>"Existing"</h2>{record_facts(&pair.existing_record, &pair.existing_identifiers)}</section>
                                </div>
                                <ActionForm action=resolve attr:class="inline-form">
                                    <input type="hidden" name="id" value=pair.id.clone()/>
                                    <button type="submit" name="decision" value="distinct" class="button button--secondary">"Different people"</button>
                                    " "
                                    <button type="submit" name="decision" value="same_person" class="button button--secondary">"Same person (merge in the source system)"</button>
                                </ActionForm>
                            </li>
                        }).collect_view()}
                    </ul>
                }.into_any(),
            }/>
        </section>
    }
}
