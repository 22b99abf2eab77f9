//! HIM staff: search the patient registry, create a record by hand, open a record. The search is
//! a GET form (bookmarkable, works without JavaScript); creating posts to the server function.

use crate::api::activation::IssueActivationCode;
use crate::api::patients::{CreatePatient, patient, search_patients};
use crate::domain::Sex;
use crate::ui::components::form::{Field, FormError, LoadError, field_error};
use crate::ui::ids;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::{A, Form};
use crate::ui::query::use_query_decoded;
use leptos_router::hooks::use_params_map;

#[component]
pub fn PatientsPage() -> impl IntoView {
    let query = use_query_decoded();
    let terms = move || {
        let q = query.read();
        (q.get("q").unwrap_or_default(), q.get("birth_date").unwrap_or_default())
    };
    let results = Resource::new(terms, |(q, birth_date)| async move {
        if q.trim().is_empty() {
            Ok(None)
        } else {
            let birth_date = (!birth_date.is_empty()).then_some(birth_date);
            search_patients(q, birth_date).await.map(Some)
        }
    });
    let create = ServerAction::<CreatePatient>::new();
    let created = Signal::derive(move || create.value().get());
    let err = move |field: &'static str| Signal::derive(move || field_error(created.get(), field));

    view! {
        <Title text="Patients"/>
        <section class="page" aria-labelledby=ids::PATIENTS_HEADING>
            <h1 id=ids::PATIENTS_HEADING>"Patients"</h1>
            <Form method="GET" action="" attr:class="form form--inline" attr:role="search">
                <div class="field">
                    <label for=ids::PATIENT_SEARCH_Q>"Record number or family name"</label>
                    <input id=ids::PATIENT_SEARCH_Q name="q" type="search" maxlength="100" prop:value=move || terms().0/>
                </div>
                <div class="field">
                    <label for="patient-search-birth">"Date of birth (optional)"</label>
                    <input id="patient-search-birth" name="birth_date" type="date" prop:value=move || terms().1/>
                </div>
                <button type="submit" class="button">"Search"</button>
            </Form>
            <Suspense fallback=|| view! { <p>"Searching…"</p> }>
                {move || Suspend::new(async move {
                    match results.await {
                        Ok(None) => ().into_any(),
                        Ok(Some(rows)) if rows.is_empty() => view! {
                            <p id=ids::PATIENT_RESULTS role="status">"No patient matches."</p>
                        }.into_any(),
                        Ok(Some(rows)) => view! {
                            <ul id=ids::PATIENT_RESULTS class="result-list">
                                {rows.into_iter().map(|p| view! {
                                    <li>
                                        <A href=format!("/staff/patients/{}", p.id)>
                                            {format!("{}, {}", p.family_name, p.given_names)}
                                        </A>
                                        <span class="muted">{format!(" · born {} · {}", p.birth_date, p.mrn)}</span>
                                    </li>
                                }).collect_view()}
                            </ul>
                        }.into_any(),
                        Err(e) => view! { <LoadError error=e/> }.into_any(),
                    }
                })}
            </Suspense>

            <h2 id="new-patient-title">"Create a patient record"</h2>
            <ActionForm action=create attr:class="form" attr:novalidate="true" attr:aria-labelledby="new-patient-title">
                <Field label="Medical record number" name="form[mrn]" id=ids::NEW_PATIENT_MRN required=true maxlength=32 error=err("mrn")/>
                <Field label="Family name" name="form[family_name]" id="new-patient-family" required=true maxlength=100 error=err("family_name")/>
                <Field label="Given names" name="form[given_names]" id="new-patient-given" required=true maxlength=100 error=err("given_names")/>
                <Field label="Date of birth" name="form[birth_date]" id="new-patient-birth" kind="date" required=true error=err("birth_date")/>
                <div class="field" class:field--invalid=move || err("sex").get().is_some()>
                    <label for="new-patient-sex">"Administrative sex"</label>
                    {move || err("sex").get().map(|e| view! { <p id="new-patient-sex-error" class="field__error">{e}</p> })}
                    <select id="new-patient-sex" name="form[sex]"
                        aria-describedby=move || err("sex").get().map(|_| "new-patient-sex-error")>
                        <option value="">"Choose…"</option>
                        {Sex::ALL.into_iter().map(|s| view! { <option value=s.as_str()>{s.label()}</option> }).collect_view()}
                    </select>
                </div>
                <Field label="Phone (optional)" name="form[phone]" id="new-patient-phone" kind="tel" maxlength=32 error=err("phone")/>
                <Field label="Email (optional)" name="form[email]" id="new-patient-email" kind="email" maxlength=254 error=err("email")/>
                <Field label="Date of death (if deceased)" name="form[deceased_date]" id="new-patient-deceased" kind="date" error=err("deceased_date")/>
                <FormError result=created id=ids::NEW_PATIENT_ERROR/>
                <button type="submit" id=ids::NEW_PATIENT_SUBMIT class="button">"Create record"</button>
            </ActionForm>
        </section>
    }
}

#[component]
pub fn PatientPage() -> impl IntoView {
    let params = use_params_map();
    let record = Resource::new(move || params.read().get("id").unwrap_or_default(), patient);
    let issue = ServerAction::<IssueActivationCode>::new();
    let issued = Signal::derive(move || issue.value().get());
    view! {
        <Title text="Patient"/>
        <section class="page" aria-labelledby=ids::PATIENT_HEADING>
            <Suspense fallback=|| view! { <p>"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match record.await {
                        Ok(p) => {
                            view! {
                            <h1 id=ids::PATIENT_HEADING>{format!("{}, {}", p.family_name, p.given_names)}</h1>
                            <dl class="facts">
                                <dt>"Record number"</dt><dd>{p.mrn}</dd>
                                <dt>"Date of birth"</dt><dd>{p.birth_date}</dd>
                                <dt>"Administrative sex"</dt><dd>{Sex::parse(&p.sex).map(|s| s.label()).unwrap_or("Unknown")}</dd>
                                {p.deceased_date.map(|d| view! { <dt>"Date of death"</dt><dd>{d}</dd> })}
                            </dl>
                            <p><A href=format!("/staff/patients/{}/record", p.id) attr:class="button button--secondary">"Open the health record"</A></p>
                            <h2>"Patient portal access"</h2>
                            <p>"Give the patient a code to create their own account. It works once; a new code replaces the old one."</p>
                            <ActionForm action=issue attr:class="form">
                                <input type="hidden" name="patient_id" value=p.id.clone()/>
                                <FormError result=issued id="issue-activation-error"/>
                                <button type="submit" id=ids::ISSUE_ACTIVATION class="button">"Issue an activation code"</button>
                            </ActionForm>
                        }.into_any()
                        }
                        Err(e) => view! {
                            <h1 id=ids::PATIENT_HEADING>"Patient"</h1>
                            <LoadError error=e/>
                        }.into_any(),
                    }
                })}
                // Outside the `Suspend`: a resource created after an `.await` there has lost the
                // request's context on the server ("should have had Parts"), and its call fails.
                <Show when=move || matches!(record.get(), Some(Ok(_)))>
                    <crate::ui::pages::caregivers::StaffCaregivers patient=params.read_untracked().get("id").unwrap_or_default()/>
                </Show>
            </Suspense>
            <p><A href="/staff/patients">"Back to patients"</A></p>
        </section>
    }
}
