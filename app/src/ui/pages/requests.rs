//! Requests for copies. The patient asks for a copy of their record (the whole record or chosen
//! parts, a date range, PDF and/or FHIR data; the fee shown before sending) and follows each
//! request on its tracking page (status, due date, timeline). HIM staff work the queue, nearest
//! due date first. Plain forms posting to server functions: all of it works before hydration.

use crate::api::release::{AdvanceRequest, SubmitRequest, my_requests, request_detail, request_queue};
use crate::domain::Section;
use crate::domain::release::RequestView;
use crate::ui::components::form::{FormError, LoadError, field_error};
use crate::ui::ids;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::A;
use leptos_router::hooks::use_params_map;

fn due_text(r: &RequestView) -> String {
    if r.overdue {
        format!("Overdue: was due {}", r.due)
    } else if matches!(r.status.as_str(), "submitted" | "identity_check" | "in_review") {
        format!("Due by {} ({} days left)", r.due, r.days_left.max(0))
    } else {
        format!("Received {}", r.received)
    }
}

#[component]
pub fn RequestsPage() -> impl IntoView {
    let submit = ServerAction::<SubmitRequest>::new();
    let result = Signal::derive(move || submit.value().get());
    let requests = Resource::new(move || submit.version().get(), |_| my_requests());
    view! {
        <Title text="Copies of my record"/>
        <section class="page" aria-labelledby=ids::REQUESTS_HEADING>
            <h1 id=ids::REQUESTS_HEADING>"Copies of my record"</h1>
            <h2 id="new-request-title">"Ask for a copy"</h2>
            <ActionForm action=submit attr:class="form" attr:novalidate="true" attr:aria-labelledby="new-request-title">
                <fieldset class="field">
                    <legend>"What to include"</legend>
                    {move || field_error(result.get(), "scope").map(|e| view! { <p class="field__error" role="alert">{e}</p> })}
                    <label class="check"><input type="radio" name="scope" value="all" checked=true/>" The whole record"</label>
                    {[Section::Problems, Section::Medications, Section::Allergies, Section::Immunizations, Section::Labs, Section::Visits, Section::Documents]
                        .into_iter().map(|s| view! {
                            <label class="check"><input type="radio" name="scope" value=s.slug()/>{format!(" {} only", s.title())}</label>
                        }).collect_view()}
                </fieldset>
                <div class="filter">
                    <div class="field">
                        <label for=ids::REQUEST_FROM>"From (optional)"</label>
                        <input id=ids::REQUEST_FROM name="from" type="date"/>
                    </div>
                    <div class="field">
                        <label for=ids::REQUEST_TO>"To (optional)"</label>
                        <input id=ids::REQUEST_TO name="to" type="date"/>
                    </div>
                </div>
                {move || ["from", "to"].into_iter().filter_map(|f| field_error(result.get(), f)).map(|e| view! { <p class="field__error" role="alert">{e}</p> }).collect_view()}
                <fieldset class="field">
                    <legend>"Formats"</legend>
                    {move || field_error(result.get(), "formats").map(|e| view! { <p class="field__error" role="alert">{e}</p> })}
                    <label class="check"><input type="checkbox" name="pdf" value="on" checked=true/>" PDF, to read and print"</label>
                    <label class="check"><input type="checkbox" name="fhir" value="on"/>" FHIR data, for health apps"</label>
                </fieldset>
                <p class="muted">"Fee: free for a copy to yourself. We answer within 30 days."</p>
                <FormError result id=ids::REQUEST_ERROR/>
                <button type="submit" id=ids::REQUEST_SUBMIT class="button">"Send my request"</button>
            </ActionForm>
            <h2 id="my-requests-title">"My requests"</h2>
            <Suspense fallback=|| view! { <p>"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match requests.await {
                        Ok(list) if list.is_empty() => view! { <p class="muted">"No requests yet."</p> }.into_any(),
                        Ok(list) => view! {
                            <ul id=ids::REQUEST_LIST class="items" aria-labelledby="my-requests-title">
                                {list.into_iter().map(|r| view! {
                                    <li class="item">
                                        <p class="item__title"><A href=format!("/requests/{}", r.id)>{format!("{} · {}", r.number, r.status_label)}</A></p>
                                        <p>{r.scope.clone()}</p>
                                        <p class="item__meta muted"><span>{due_text(&r)}</span><span>{r.formats.clone()}</span></p>
                                    </li>
                                }).collect_view()}
                            </ul>
                        }.into_any(),
                        Err(e) => view! { <LoadError error=e/> }.into_any(),
                    }
                })}
            </Suspense>
        </section>
    }
}

#[component]
pub fn RequestPage() -> impl IntoView {
    let params = use_params_map();
    let id = Memo::new(move |_| params.read().get("id").unwrap_or_default());
    let advance = ServerAction::<AdvanceRequest>::new();
    let result = Signal::derive(move || advance.value().get());
    let request = Resource::new(move || (id.get(), advance.version().get()), |(id, _)| request_detail(id));
    view! {
        <Title text="Request"/>
        <section class="page" aria-labelledby=ids::REQUESTS_HEADING>
            <Suspense fallback=|| view! { <p>"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match request.await {
                        Ok(r) => view! {
                            <h1 id=ids::REQUESTS_HEADING>{format!("Request {}", r.number)}</h1>
                            <p id=ids::REQUEST_STATUS class="notice" role="status">{format!("{}. {}", r.status_label, due_text(&r))}</p>
                            <dl class="facts">
                                <dt>"What"</dt><dd>{r.scope.clone()}</dd>
                                <dt>"Formats"</dt><dd>{r.formats.clone()}</dd>
                                <dt>"Fee"</dt><dd>{r.fee.clone()}</dd>
                            </dl>
                            <h2>"Timeline"</h2>
                            <ol id=ids::REQUEST_TIMELINE class="items">
                                {r.timeline.iter().map(|t| view! {
                                    <li class="item">
                                        <p class="item__title">{t.status.clone()}</p>
                                        <p class="item__meta muted"><span>{t.at.clone()}</span><span>{t.who.clone()}</span></p>
                                        {t.note.clone().map(|n| view! { <p>{n}</p> })}
                                    </li>
                                }).collect_view()}
                            </ol>
                            <FormError result id="request-action-error"/>
                            {r.can_cancel.then(|| view! {
                                <ActionForm action=advance attr:class="form">
                                    <input type="hidden" name="id" value=r.id.clone()/>
                                    <input type="hidden" name="step" value="cancel"/>
                                    <button type="submit" class="button button--secondary">"Cancel this request"</button>
                                </ActionForm>
                            })}
                            <p><A href="/requests">"All my requests"</A></p>
                        }.into_any(),
                        Err(e) => view! { <h1 id=ids::REQUESTS_HEADING>"Request"</h1><LoadError error=e/> }.into_any(),
                    }
                })}
            </Suspense>
        </section>
    }
}

/// The steps HIM staff may take from each status (the domain decides; refused ones say why).
fn steps(status: &str) -> &'static [(&'static str, &'static str)] {
    match status {
        "submitted" => &[("start_identity_check", "Start the identity check")],
        "identity_check" => &[("identity_verified", "Identity verified"), ("deny", "Deny")],
        "in_review" => &[("approve", "Approve"), ("approve_partially", "Approve in part"), ("deny", "Deny")],
        "approved" | "partially_approved" => &[("release", "Release the copy")],
        "delivered" | "denied" => &[("close", "Close")],
        _ => &[],
    }
}

#[component]
pub fn RequestQueuePage() -> impl IntoView {
    let advance = ServerAction::<AdvanceRequest>::new();
    let result = Signal::derive(move || advance.value().get());
    let queue = Resource::new(move || advance.version().get(), |_| request_queue());
    view! {
        <Title text="Request queue"/>
        <section class="page" aria-labelledby=ids::QUEUE_HEADING>
            <h1 id=ids::QUEUE_HEADING>"Request queue"</h1>
            <p>"Open requests for copies, the nearest due date first."</p>
            <FormError result id="queue-error"/>
            <Suspense fallback=|| view! { <p>"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match queue.await {
                        Ok(list) if list.is_empty() => view! { <p id=ids::QUEUE_LIST class="muted">"No open requests."</p> }.into_any(),
                        Ok(list) => view! {
                            <ul id=ids::QUEUE_LIST class="items">
                                {list.into_iter().map(|r| view! {
                                    <li class="item">
                                        <p class="item__title">{format!("{} · {}", r.number, r.status_label)}
                                            {r.overdue.then(|| view! { <span class="badge">"Overdue"</span> })}</p>
                                        <p>{r.scope.clone()}</p>
                                        <p class="item__meta muted"><span>{due_text(&r)}</span>
                                            <span><A href=format!("/staff/patients/{}", r.patient_id)>"The patient"</A></span></p>
                                        <ActionForm action=advance attr:class="inline-form">
                                            <input type="hidden" name="id" value=r.id.clone()/>
                                            {steps(&r.status).iter().map(|(step, label)| view! {
                                                <button type="submit" name="step" value=*step class="button button--secondary">{*label}</button>
                                                " "
                                            }).collect_view()}
                                        </ActionForm>
                                    </li>
                                }).collect_view()}
                            </ul>
                        }.into_any(),
                        Err(e) => view! { <LoadError error=e/> }.into_any(),
                    }
                })}
            </Suspense>
        </section>
    }
}
