//! The HIM release desk's pages (issue 17): logging a request that arrived on paper, by phone or
//! by email (`/staff/intake`: who asks and which patient first, the matches side by side, then
//! the request with its checklist and scans as one plain multipart form); the desk panel of a
//! request (checklist, fee paid, assignment by a lead); and the lead's dashboard
//! (`/staff/desk`); and the administrator's fee schedule (`/admin/fees`). Plain forms: all of it
//! works before hydration.

use crate::api::desk::{AssignRequest, ChangeSegmentRule, MarkPaid, SetFee, UpdateChecklist, desk_colleagues, desk_dashboard, fee_schedule, intake_key, intake_matches, segment_rules};
use crate::domain::release::{Channel, PatientMatch, PatientSearch, RequestView, RequesterType};
use crate::error::AppError;
use crate::domain::{Role, Section};
use crate::ui::components::form::{FieldMessage, FormError, LoadError};
use crate::ui::components::layout::CurrentUserResource;
use crate::ui::components::loaded::Loaded;
use crate::ui::ids;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::A;
use crate::ui::query::use_query_decoded;

/// `/staff/intake`: step one names the requester type and searches the patient (a GET form);
/// step two, once both are given, is the request itself, posted with its scans.
#[component]
pub fn IntakePage() -> impl IntoView {
    let query = use_query_decoded();
    let get = move |k: &str| query.read().get(k).filter(|v| !v.trim().is_empty());
    let kind = Memo::new(move |_| get("requester_type").and_then(|k| RequesterType::parse(&k)));
    let search = Memo::new(move |_| PatientSearch { name: get("name"), birth_date: get("birth_date"), mrn: get("mrn") });
    let searched = move || search.with(|s| s.name.is_some() || s.mrn.is_some());
    let matches = Resource::new(move || search.get(), |s| async move { if s.name.is_none() && s.mrn.is_none() { Ok(Vec::new()) } else { intake_matches(s).await } });
    let key = Resource::new(|| (), |_| intake_key());
    // The refusal's messages come from the session (shown once), never from the address.
    let errors = Resource::new(move || get("error").is_some(), |refused| async move {
        if refused { crate::api::caregivers::take_form_errors("intake".into()).await.unwrap_or_default() } else { Vec::new() }
    });
    view! {
        <Title text="Log a request"/>
        <section class="page" aria-labelledby=ids::INTAKE_HEADING>
            <h1 id=ids::INTAKE_HEADING>"Log a request"</h1>
            <p>"For a request that came by mail, fax, in person, by phone or by email. The clock starts on the day it was received."</p>
            <Suspense fallback=|| ()>{move || Suspend::new(async move {
                let list = errors.await;
                (!list.is_empty()).then(|| view! {
                    <div id=ids::INTAKE_ERROR class="notice notice--error" role="alert" tabindex="-1">
                        <p>"The request was not logged. Correct this and send it again:"</p>
                        <ul>{list.into_iter().map(|e| view! { <li>{format!("{}: {}", e.field, e.message)}</li> }).collect_view()}</ul>
                    </div>
                })
            })}</Suspense>
            <IntakeFind kind/>
            {move || (searched() && kind.get().is_some()).then(|| view! { <IntakeRequest kind matches key/> })}
        </section>
    }
}

/// Step two: the request itself, with the checklist of the requester type and the scans.
#[component]
fn IntakeRequest(kind: Memo<Option<RequesterType>>, matches: Resource<Result<Vec<PatientMatch>, AppError>>, key: Resource<Result<String, AppError>>) -> impl IntoView {
    view! {
                <h2 id="intake-request-title">"2. The request"</h2>
                <form method="post" action="/staff/intake/new" enctype="multipart/form-data" class="form" aria-labelledby="intake-request-title">
                    <input type="hidden" name="requester_type" value=move || kind.get().map(|k| k.as_str()).unwrap_or_default()/>
                    <Suspense fallback=|| ()>{move || Suspend::new(async move {
                        key.await.ok().map(|k| view! { <input type="hidden" name="idempotency_key" value=k/> })
                    })}</Suspense>
                    <IntakeMatchList matches/>
                    <div class="field">
                        <label for=ids::INTAKE_CHANNEL>"Received by"</label>
                        <select id=ids::INTAKE_CHANNEL name="channel" required=true>
                            {Channel::LOGGED.into_iter().map(|c| view! { <option value=c.as_str()>{c.label()}</option> }).collect_view()}
                        </select>
                    </div>
                    <div class="field">
                        <label for=ids::INTAKE_RECEIVED>"Received on (the clock starts this day)"</label>
                        <input id=ids::INTAKE_RECEIVED name="received_on" type="date" required=true/>
                    </div>
                    <div class="field">
                        <label for=ids::INTAKE_REQUESTER>"Requester's name"</label>
                        <input id=ids::INTAKE_REQUESTER name="requester_name" type="text" required=true maxlength="200"/>
                    </div>
                    <div class="field">
                        <label for=ids::INTAKE_ADDRESS>"Where the copy goes (address, email or fax)"</label>
                        <input id=ids::INTAKE_ADDRESS name="requester_address" type="text" maxlength="500"/>
                    </div>
                    <fieldset class="field">
                        <legend>"What is asked for (for a court order: what the order covers)"</legend>
                        <label class="check"><input type="radio" name="scope" value="all" checked=true/>" The whole record"</label>
                        <label class="check"><input type="radio" name="scope" value="some"/>" These parts:"</label>
                        {Section::ALL.into_iter().map(|s| {
                            let box_id = format!("intake-section-{}", s.slug());
                            let box_for = box_id.clone();
                            view! { <label class="check" for=box_for><input id=box_id type="checkbox" name="section" value=s.slug()/>{format!(" {}", s.title())}</label> }
                        }).collect_view()}
                    </fieldset>
                    <div class="field">
                        <label for="intake-from">"From (optional)"</label>
                        <input id="intake-from" name="from" type="date"/>
                    </div>
                    <div class="field">
                        <label for="intake-to">"To (optional)"</label>
                        <input id="intake-to" name="to" type="date"/>
                    </div>
                    <fieldset class="field">
                        <legend>"Formats"</legend>
                        <label class="check"><input type="checkbox" name="pdf" value="on" checked=true/>" PDF"</label>
                        <label class="check"><input type="checkbox" name="fhir" value="on"/>" FHIR data"</label>
                    </fieldset>
                    <div class="field">
                        <label for="intake-purpose">"Purpose, as stated (optional)"</label>
                        <input id="intake-purpose" name="purpose" type="text" maxlength="500"/>
                    </div>
                    {move || kind.get().map(|k| view! {
                        <fieldset class="field" id=ids::INTAKE_CHECKLIST>
                            <legend>{format!("Checklist: what the paper shows ({})", k.citation())}</legend>
                            {k.checklist().into_iter().map(|item| {
                                let box_id = format!("intake-item-{}", item.as_str());
                            let box_for = box_id.clone();
                                view! { <label class="check" for=box_for><input id=box_id type="checkbox" name="item" value=item.as_str()/>{format!(" {}", item.label())}</label> }
                            }).collect_view()}
                        </fieldset>
                    })}
                    <div class="field">
                        <label for="intake-pages">"Estimated pages (for the fee estimate)"</label>
                        <input id="intake-pages" name="pages" type="number" min="0" inputmode="numeric"/>
                    </div>
                    <div class="field">
                        <label for="intake-fee">"Fee instead of the estimate, in dollars (optional)"</label>
                        <input id="intake-fee" name="fee" type="text" inputmode="decimal"/>
                    </div>
                    <label class="check"><input type="checkbox" name="actual_costs" value="on"/>" The patient's fee above $6.50 is actual labour and supplies"</label>
                    <div class="field">
                        <label for=ids::INTAKE_SCANS>"Scans of the paper (PDF, PNG, JPEG or TIFF; up to 10)"</label>
                        <input id=ids::INTAKE_SCANS name="scans" type="file" multiple=true accept=".pdf,.png,.jpg,.jpeg,.tif,.tiff,application/pdf,image/png,image/jpeg,image/tiff"/>
                    </div>
                    <button type="submit" id=ids::INTAKE_SUBMIT class="button">"Log the request"</button>
                </form>
                }
    .into_any()
}

/// The records that may be the patient, each beside what the paper says, for the clerk to confirm.
#[component]
fn IntakeMatchList(matches: Resource<Result<Vec<PatientMatch>, AppError>>) -> impl IntoView {
    view! {
                    <fieldset class="field">
                        <legend>"The patient: compare the paper with the record, then confirm"</legend>
                        <Loaded resource=matches view=move |list| match list.len() {
                            0 => view! { <p id=ids::INTAKE_MATCHES class="notice notice--error" role="alert">"No record matches. Check the spelling and the date of birth, or search by record number."</p> }.into_any(),
                            n => view! {
                                <p class="muted" role="status">{if n == 1 { "One record matches.".to_string() } else { format!("{n} records match: confirm the right one by its birth date and record number.") }}</p>
                                <ul id=ids::INTAKE_MATCHES class="items">
                                    {list.into_iter().map(|m| {
                                        let radio = format!("match-{}", m.patient_id);
                                        let radio_for = radio.clone();
                                        let mark = |field: &str| if m.agrees.iter().any(|a| a == field) { " ✓ matches the paper" } else if m.disagrees.iter().any(|d| d == field) { " ✗ differs from the paper" } else { "" };
                                        view! {
                                            <li class="item">
                                                <label class="check" for=radio_for>
                                                    <input id=radio type="radio" name="patient_id" value=m.patient_id.clone() required=true checked=n == 1/>
                                                    {format!(" {}", m.name)}
                                                </label>
                                                <dl class="facts">
                                                    <dt>"Date of birth"</dt><dd>{format!("{}{}", m.birth_date, mark("birth_date"))}</dd>
                                                    <dt>"Record number"</dt><dd>{format!("{}{}", m.record_number, mark("mrn"))}</dd>
                                                    <dt>"Name"</dt><dd>{format!("{}{}", m.name, mark("name"))}</dd>
                                                </dl>
                                            </li>
                                        }
                                    }).collect_view()}
                                </ul>
                            }.into_any(),
                        }/>
                    </fieldset>
    }
    .into_any()
}

/// Step one: who asks, and the patient as the paper names them (a GET form).
#[component]
fn IntakeFind(kind: Memo<Option<RequesterType>>) -> impl IntoView {
    let query = use_query_decoded();
    let value = move |k: &'static str| move || query.read().get(k).unwrap_or_default();
    view! {
            <h2 id="intake-find-title">"1. Who is asking, and for which patient"</h2>
            <form method="get" action="/staff/intake" class="form" role="search" aria-labelledby="intake-find-title">
                <div class="field">
                    <label for=ids::INTAKE_TYPE>"Requester"</label>
                    <select id=ids::INTAKE_TYPE name="requester_type" required=true>
                        <option value="">"Choose who is asking"</option>
                        {RequesterType::ALL.into_iter().map(|k| view! {
                            <option value=k.as_str() selected=move || kind.get() == Some(k)>{format!("{} ({})", k.label(), k.citation())}</option>
                        }).collect_view()}
                    </select>
                </div>
                <div class="field">
                    <label for=ids::INTAKE_NAME>"Patient's name, as the paper gives it"</label>
                    <input id=ids::INTAKE_NAME name="name" type="text" autocomplete="off" value=value("name")/>
                </div>
                <div class="field">
                    <label for=ids::INTAKE_BIRTH>"Date of birth"</label>
                    <input id=ids::INTAKE_BIRTH name="birth_date" type="date" value=value("birth_date")/>
                </div>
                <div class="field">
                    <label for=ids::INTAKE_MRN>"Record number (if the paper has it)"</label>
                    <input id=ids::INTAKE_MRN name="mrn" type="text" autocomplete="off" value=value("mrn")/>
                </div>
                <button type="submit" id=ids::INTAKE_FIND class="button button--secondary">"Find the patient"</button>
            </form>
    }
    .into_any()
}

/// The desk's part of a staff request page: who asked and how, the checklist (ticked boxes save
/// with the request; what is missing blocks approval and release), the fee and its payment, and
/// for leads the assignment.
/// The colleagues a request can be assigned to. The page creates it with its own resources: one
/// created after an `.await` inside a `Suspend` has lost the request's context on the server,
/// and its call fails there.
pub type Colleagues = Resource<Result<Vec<crate::domain::release::Colleague>, AppError>>;

/// The colleagues resource for [`DeskPanel`].
pub fn colleagues() -> Colleagues {
    Resource::new(|| (), |_| desk_colleagues())
}

#[component]
pub fn DeskPanel(request: RequestView, checklist: ServerAction<UpdateChecklist>, paid: ServerAction<MarkPaid>, assign: ServerAction<AssignRequest>, colleagues: Colleagues) -> impl IntoView {
    let checklist_result = Signal::derive(move || checklist.value().get());
    let paid_result = Signal::derive(move || paid.value().get());
    let assign_result = Signal::derive(move || assign.value().get());
    let user = use_context::<CurrentUserResource>();
    let lead = move || user.and_then(|u| u.0.get()).and_then(Result::ok).flatten().is_some_and(|u| u.is(Role::HimLead));
    let (id_check, id_paid, id_assign) = (request.id.clone(), request.id.clone(), request.id.clone());
    let expected = request.assignee_id.clone().unwrap_or_default();
    let current = request.assignee_id.clone();
    let items = request.checklist.clone();
    let has_fee = request.fee != "Free";
    view! {
        {request.waiting_for.clone().map(|w| view! { <p id=ids::REQUEST_WAITING class="notice notice--error" role="status">{w}</p> })}
        {(!items.is_empty()).then(move || view! {
            <h2 id="checklist-title">"Checklist"</h2>
            <ActionForm action=checklist attr:class="form" attr:aria-labelledby="checklist-title">
                <input type="hidden" name="id" value=id_check/>
                {items.into_iter().enumerate().map(|(n, item)| {
                    let box_id = format!("check-{}", item.code);
                            let box_for = box_id.clone();
                    view! { <label class="check" for=box_for><input id=box_id type="checkbox" name=format!("items[{n}]") value=item.code.clone() checked=item.ticked/>{format!(" {}", item.label)}</label> }
                }).collect_view()}
                <FormError result=checklist_result id=ids::CHECKLIST_ERROR/>
                <button type="submit" id=ids::CHECKLIST_SAVE class="button button--secondary">"Save the checklist"</button>
            </ActionForm>
        })}
        {has_fee.then(move || view! {
            <ActionForm action=paid attr:class="inline-form">
                <input type="hidden" name="id" value=id_paid/>
                <FormError result=paid_result id="paid-error"/>
                {if request.paid {
                    view! { <p class="muted">"The fee is paid."</p> }.into_any()
                } else {
                    view! { <button type="submit" id=ids::REQUEST_PAID class="button button--secondary">{format!("Mark the fee ({}) paid", request.fee)}</button> }.into_any()
                }}
            </ActionForm>
        })}
        {move || lead().then(|| {
            let (id_assign, expected, current) = (id_assign.clone(), expected.clone(), current.clone());
            view! {
                <h2 id="assign-title">"Assign"</h2>
                <ActionForm action=assign attr:class="form" attr:aria-labelledby="assign-title">
                    <input type="hidden" name="id" value=id_assign/>
                    <input type="hidden" name="expected" value=expected/>
                    <div class="field">
                        <label for=ids::ASSIGN_SELECT>"Colleague"</label>
                        <select id=ids::ASSIGN_SELECT name="assignee">
                            <option value="">"Nobody"</option>
                            <Loaded resource=colleagues view=move |list| list.into_iter().map(|c| {
                                let selected = current.as_deref() == Some(c.id.as_str());
                                view! { <option value=c.id.clone() selected=selected>{format!("{} ({} open)", c.name, c.open)}</option> }
                            }).collect_view()/>
                        </select>
                    </div>
                    <FormError result=assign_result id=ids::ASSIGN_ERROR/>
                    <button type="submit" id=ids::ASSIGN_SUBMIT class="button button--secondary">"Assign"</button>
                </ActionForm>
            }
        })}
    }
}

/// `/staff/desk`: how the desk is doing, for HIM leads.
#[component]
pub fn DeskPage() -> impl IntoView {
    let dashboard = Resource::new(|| (), |_| desk_dashboard(None));
    view! {
        <Title text="Release desk"/>
        <section class="page" aria-labelledby=ids::DESK_HEADING>
            <h1 id=ids::DESK_HEADING>"Release desk"</h1>
            <Suspense fallback=|| view! { <p>"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match dashboard.await {
                        Ok(d) => {
                            let bands = d.bands.clone();
                            view! {
                                <p class="muted">{format!("Today {}. Turnaround counts requests received since {}.", d.today, d.since)}</p>
                                <p><a href="/staff/desk.csv" rel="external" download="release-desk.csv">"Download the figures (CSV)"</a></p>
                                <h2 id="desk-open-title">"Open requests by age"</h2>
                                <div class="table-scroll" role="region" aria-labelledby="desk-open-title" tabindex="0">
                                <table id=ids::DESK_OPEN class="table">
                                    <thead><tr><th scope="col">"Status"</th>{bands.into_iter().map(|b| view! { <th scope="col">{b}</th> }).collect_view()}<th scope="col">"Total"</th></tr></thead>
                                    <tbody>{d.open.into_iter().map(|s| view! {
                                        <tr><th scope="row">{s.status}</th>{s.counts.into_iter().map(|c| view! { <td>{c}</td> }).collect_view()}<td>{s.total}</td></tr>
                                    }).collect_view()}</tbody>
                                </table>
                                </div>
                                <h2 id="desk-overdue-title">{format!("Overdue ({})", d.overdue_total)}</h2>
                                {if d.overdue.is_empty() {
                                    view! { <p id=ids::DESK_OVERDUE class="muted">"Nothing is overdue."</p> }.into_any()
                                } else {
                                    view! {
                                        <ul id=ids::DESK_OVERDUE class="items" aria-labelledby="desk-overdue-title">
                                            {d.overdue.into_iter().map(|o| view! {
                                                <li class="item"><p class="item__title"><A href=format!("/staff/requests/{}", o.id)>{o.number.clone()}</A>{format!(" · {} · due {} ({} days late)", o.requester_type, o.due, o.days_late)}</p>
                                                    <p class="muted">{o.assignee.map(|a| format!("Assigned to {a}")).unwrap_or_else(|| "Not assigned".into())}</p></li>
                                            }).collect_view()}
                                        </ul>
                                    }.into_any()
                                }}
                                <TurnaroundTable title="By month" id=ids::DESK_MONTHS rows=d.months/>
                                <TurnaroundTable title="By requester" id=ids::DESK_TYPES rows=d.types/>
                            }.into_any()
                        }
                        Err(e) => view! { <LoadError error=e/> }.into_any(),
                    }
                })}
            </Suspense>
        </section>
    }
}

#[component]
fn TurnaroundTable(title: &'static str, id: &'static str, rows: Vec<crate::domain::release::dashboard::Turnaround>) -> impl IntoView {
    let heading = format!("{id}-title");
    view! {
        <h2 id=heading.clone()>{title}</h2>
        <div class="table-scroll" role="region" aria-labelledby=heading tabindex="0">
        <table id=id class="table">
            <thead><tr><th scope="col">{title.trim_start_matches("By ").to_string()}</th><th scope="col">"Provided"</th><th scope="col">"Median days"</th><th scope="col">"90th percentile"</th><th scope="col">"On time"</th></tr></thead>
            <tbody>{rows.into_iter().map(|t| { let share = t.on_time_text(); view! {
                <tr><th scope="row">{t.label}</th><td>{t.provided}</td><td>{t.median_days.map(|d| d.to_string()).unwrap_or_default()}</td><td>{t.p90_days.map(|d| d.to_string()).unwrap_or_default()}</td><td>{share}</td></tr>
            }}).collect_view()}</tbody>
        </table>
        </div>
    }
}

/// Cents as the fee form shows them: `15.00`.
fn dollars(cents: u32) -> String {
    format!("{}.{:02}", cents / 100, cents % 100)
}

/// `/admin/fees`: the fee schedule an administrator sets, per requester type (a flat amount and
/// so much a page, in dollars). The patient's and representatives' fee is cost-based by law and
/// shown as such; the state's cap is a setting (`copy_fee_cap_cents`).
#[component]
pub fn FeesPage() -> impl IntoView {
    let set = ServerAction::<SetFee>::new();
    let result = Signal::derive(move || set.value().get());
    let schedule = Resource::new(move || set.version().get(), |_| fee_schedule());
    view! {
        <Title text="Copy fees"/>
        <section class="page" aria-labelledby=ids::FEES_HEADING>
            <h1 id=ids::FEES_HEADING>"Copy fees"</h1>
            <p>"What requesters other than the patient pay for a copy: a flat amount plus an amount per page. Estimates stop at the state's cap."</p>
            <FormError result id=ids::FEES_ERROR/>
            <Loaded resource=schedule view=move |rows| view! {
                <ul id=ids::FEES_LIST class="items">
                    {rows.into_iter().map(|row| {
                        let code = row.requester_type.as_str();
                        let (flat_id, page_id) = (format!("fee-flat-{code}"), format!("fee-page-{code}"));
                        let (flat_for, page_for) = (flat_id.clone(), page_id.clone());
                        view! {
                            <li class="item">
                                <p class="item__title">{row.label.clone()}</p>
                                {if row.cost_based {
                                    view! { <p class="muted">"Cost-based by law: at most $6.50 as a flat fee, never search or retrieval (45 CFR 164.524(c)(4)); set with self_copy_fee_cents."</p> }.into_any()
                                } else {
                                    view! {
                                        <ActionForm action=set attr:class="form form--inline">
                                            <input type="hidden" name="requester_type" value=code/>
                                            <div class="field">
                                                <label for=flat_for>"Flat fee ($)"</label>
                                                <input id=flat_id name="flat" type="text" inputmode="decimal" value=dollars(row.flat_cents)/>
                                            </div>
                                            <div class="field">
                                                <label for=page_for>"Per page ($)"</label>
                                                <input id=page_id name="per_page" type="text" inputmode="decimal" value=dollars(row.per_page_cents)/>
                                            </div>
                                            <button type="submit" class="button button--secondary">"Save"</button>
                                        </ActionForm>
                                    }.into_any()
                                }}
                            </li>
                        }
                    }).collect_view()}
                </ul>
            }/>
        </section>
    }
}

/// The site's segmentation rules (administrators): the note types that are psychotherapy notes
/// (a LOINC note code, or words of the title) and the organizations that are Part 2 programs
/// (their identifier). Adding or removing one re-tags every record at once.
#[component]
pub fn SegmentationPage() -> impl IntoView {
    let change = ServerAction::<ChangeSegmentRule>::new();
    let result = Signal::derive(move || change.value().get());
    let rules = Resource::new(move || change.version().get(), |_| segment_rules());
    let kinds = [("psychotherapy_note", "Psychotherapy note type (45 CFR 164.501)"), ("part2_program", "Part 2 program (42 CFR 2.11)")];
    view! {
        <Title text="Sensitive records"/>
        <section class="page" aria-labelledby=ids::RULES_HEADING>
            <h1 id=ids::RULES_HEADING>"Sensitive records"</h1>
            <p>"How the portal recognises psychotherapy notes (never shown online, never released under the right of access) and the records of a Part 2 substance use disorder program (released to others only with a Part 2 consent). A change applies to every record at once."</p>
            <FormError result id=ids::RULES_ERROR/>
            <Loaded resource=rules view=move |rows| view! {
                <ul id=ids::RULES_LIST class="items">
                    {rows.into_iter().map(|row| {
                        let what = [row.system.clone(), row.code.clone()].into_iter().flatten().collect::<Vec<_>>().join(" ");
                        let what = match &row.title_contains { Some(t) => format!("title contains \u{201c}{t}\u{201d}"), None => what };
                        let kind = if row.kind == "part2_program" { "Part 2 program" } else { "Psychotherapy note" };
                        view! {
                            <li class="item">
                                <p class="item__title">{format!("{kind}: {what}")}</p>
                                <p class="muted">{row.note.clone()}</p>
                                <ActionForm action=change attr:class="inline-form">
                                    <input type="hidden" name="remove" value=row.id.clone()/>
                                    <button type="submit" class="button button--secondary">"Remove"</button>
                                </ActionForm>
                            </li>
                        }
                    }).collect_view()}
                </ul>
            }/>
            <h2 id="rule-add-title">"Add a rule"</h2>
            <ActionForm action=change attr:class="form" attr:novalidate="true" attr:aria-labelledby="rule-add-title">
                <div class="field">
                    <label for="rule-kind">"What it recognises"</label>
                    <FieldMessage result field="kind"/>
                    <select id="rule-kind" name="kind">
                        {kinds.into_iter().map(|(code, label)| view! { <option value=code>{label}</option> }).collect_view()}
                    </select>
                </div>
                <div class="field">
                    <label for="rule-system">"Code system (e.g. http://loinc.org; optional)"</label>
                    <FieldMessage result field="system"/>
                    <input id="rule-system" name="system" type="text"/>
                </div>
                <div class="field">
                    <label for="rule-code">"Code: a note type code, or the program's organization identifier"</label>
                    <FieldMessage result field="code"/>
                    <input id="rule-code" name="code" type="text"/>
                </div>
                <div class="field">
                    <label for="rule-title">"Or words of the note's title (psychotherapy notes only)"</label>
                    <FieldMessage result field="title_contains"/>
                    <input id="rule-title" name="title_contains" type="text"/>
                </div>
                <div class="field">
                    <label for="rule-note">"What it is (shown to reviewers)"</label>
                    <FieldMessage result field="note"/>
                    <input id="rule-note" name="note" type="text"/>
                </div>
                <button type="submit" class="button">"Add the rule"</button>
            </ActionForm>
        </section>
    }
}
