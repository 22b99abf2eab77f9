//! Requests for copies. The patient asks for a copy of their record (the whole record or chosen
//! parts, a date range, PDF and/or FHIR data; the fee shown before sending) and follows each
//! request on its tracking page (status, due date, timeline). HIM staff work the queue, nearest
//! due date first. Plain forms posting to server functions: all of it works before hydration.

use crate::api::release::{
    ClaimRequest, ExtendRequest, MarkNotificationsRead, RetryMail, undelivered_mail, copy_terms, my_notifications, AdvanceRequest, DecideRequest, ReleaseCopy, RequestDenialReview, ReviewDenial, RevokeAuthorization, SubmitRequest, my_requests, request_detail, request_queue, review_queue,
};
use crate::domain::release::{DenialGround, Part2Element, QUEUE_PAGE, QueueFilter, Receiver, Segment, Status, WITHHOLD_BASES};
use crate::domain::{Section, readable_day};
use crate::domain::release::RequestView;
use crate::ui::components::form::{FieldMessage, FormError, LoadError, field_error};
use crate::ui::ids;
use crate::ui::components::loaded::Loaded;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::A;
use crate::ui::query::use_query_decoded;
use leptos_router::hooks::use_params_map;

fn due_text(r: &RequestView) -> String {
    if r.overdue {
        format!("Overdue: was due {}", readable_day(&r.due))
    } else if !r.status.clock_stopped() {
        format!("Due by {} ({} days left)", readable_day(&r.due), r.days_left.max(0))
    } else {
        format!("Received {}", readable_day(&r.received))
    }
}

/// The released files with their size, pages, SHA-256 and expiry, each a download button: a
/// plain form POST (works before hydration) that records the delivery, which a GET never does.
#[component]
fn ReleasedFiles(request: RequestView) -> impl IntoView {
    (!request.files.is_empty()).then(|| view! {
        <h2 id="files-title">"Files"</h2>
        <ul id=ids::REQUEST_FILES class="items" aria-labelledby="files-title">
            {request.files.into_iter().map(|f| {
                let size = if f.size >= 1024 * 1024 { format!("{:.1} MB", f.size as f64 / 1_048_576.0) } else { format!("{} KB", (f.size + 1023) / 1024) };
                let pages = f.pages.map(|p| format!(", {p} pages")).unwrap_or_default();
                view! {
                    <li class="item">
                        <p class="item__title">{f.label.clone()}</p>
                        <p class="item__meta muted"><span>{format!("{}{pages}", size)}</span>
                            <span>{if f.expired { format!("Expired {}", f.expires) } else { format!("Available until {}", f.expires) }}</span></p>
                        <p class="muted hash">{format!("SHA-256: {}", f.sha256)}</p>
                        {(!f.expired).then(|| view! {
                            <form method="post" action=f.href.clone()>
                                <button type="submit" class="button">{format!("Download {}", f.file_name)}</button>
                            </form>
                        })}
                    </li>
                }
            }).collect_view()}
        </ul>
    })
}

/// What the decision left out and why, and a denial's grounds.
#[component]
fn DecisionFacts(request: RequestView) -> impl IntoView {
    view! {
        {(!request.withheld.is_empty()).then(|| view! {
            <h2>"Left out of the copy"</h2>
            <ul class="plain">{request.withheld.into_iter().map(|w| view! { <li>{w}</li> }).collect_view()}</ul>
        })}
        {(!request.grounds.is_empty()).then(|| view! {
            <h2>"Why the request was denied"</h2>
            <ul class="plain">{request.grounds.into_iter().map(|g| view! { <li>{g}</li> }).collect_view()}</ul>
        })}
    }
}

/// What happened to a request, as both the patient's page and the staff page show it: the
/// released files, what the decision left out and why, and the timeline of every step.
#[component]
fn RequestHistory(request: RequestView) -> impl IntoView {
    let timeline = request.timeline.clone();
    view! {
        <ReleasedFiles request=request.clone()/>
        <DecisionFacts request=request/>
        <h2>"Timeline"</h2>
        <ol id=ids::REQUEST_TIMELINE class="items">
            {timeline.into_iter().map(|t| view! {
                <li class="item">
                    <p class="item__title">{t.status}</p>
                    <p class="item__meta muted"><span>{t.at}</span><span>{t.who}</span></p>
                    {t.note.map(|n| view! { <p>{n}</p> })}
                </li>
            }).collect_view()}
        </ol>
    }
}

#[component]
pub fn RequestsPage() -> impl IntoView {
    let requests = Resource::new(|| (), |_| my_requests());
    let mark_read = ServerAction::<MarkNotificationsRead>::new();
    let terms = Resource::new(|| (), |_| copy_terms());
    let messages = Resource::new(move || mark_read.version().get(), |_| my_notifications());
    view! {
        <Title text="Copies of my record"/>
        <section class="page" aria-labelledby=ids::REQUESTS_HEADING>
            <h1 id=ids::REQUESTS_HEADING>"Copies of my record"</h1>
            <Suspense fallback=|| ()>
                {move || Suspend::new(async move {
                    let list = messages.await.unwrap_or_default();
                    let unread = list.iter().filter(|m| m.unread).count();
                    (unread > 0).then(|| view! {
                        <div id=ids::NOTIFICATIONS class="notice" role="status">
                            <p class="notice__title">{format!("{unread} new update(s)")}</p>
                            <ul class="plain">
                                {list.into_iter().filter(|m| m.unread).map(|m| view! {
                                    <li>{match m.request_id.clone() {
                                            Some(id) => view! { <A href=format!("/requests/{id}")>{m.message.clone()}</A> }.into_any(),
                                            None => view! { <span>{m.message.clone()}</span> }.into_any(),
                                        }}
                                        <span class="muted">{format!(" ({})", m.at)}</span></li>
                                }).collect_view()}
                            </ul>
                            <ActionForm action=mark_read attr:class="inline-form">
                                <button type="submit" class="button button--secondary">"Mark as read"</button>
                            </ActionForm>
                        </div>
                    })
                })}
            </Suspense>
            <p><A href="/disclosures">"Who received my record, and my activity history"</A></p>
            <div class="notice" role="note">
                <p class="notice__title">"Want a copy of what you see in the portal?"</p>
                <p>"Download it now, as a PDF, FHIR data or a C-CDA summary: no wait, no fee. "<a href="/record/download">"Download my record"</a></p>
            </div>
            <h2 id="new-request-title">"Ask the records team for a copy"</h2>
            <p class="muted">"For records that are not in the portal (scanned paper charts, billing records), or a copy sent to someone else with your authorization."</p>
            <CopyRequestForm>
                <Suspense fallback=|| ()>
                    {move || Suspend::new(async move {
                        terms.await.ok().map(|t| view! {
                            // A post retried after a lost answer files the request once.
                            <input type="hidden" name="idempotency_key" value=t.request_key.clone()/>
                            <p id=ids::REQUEST_FEES class="muted">{format!(
                                "Fee: {} for a copy to yourself; {} for a copy sent to someone else. We answer within {} days.",
                                t.self_fee, t.third_party_fee, t.response_days
                            )}</p>
                        })
                    })}
                </Suspense>
            </CopyRequestForm>
            <h2 id="my-requests-title">"My requests"</h2>
            <Loaded resource=requests view=move |value| match value {
                list if list.is_empty() => view! { <p class="muted">"No requests yet."</p> }.into_any(),
                list => view! {
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
            }/>
        </section>
    }
}

#[component]
pub fn RequestPage() -> impl IntoView {
    let params = use_params_map();
    let id = Memo::new(move |_| params.read().get("id").unwrap_or_default());
    let advance = ServerAction::<AdvanceRequest>::new();
    let ask_review = ServerAction::<RequestDenialReview>::new();
    let revoke = ServerAction::<RevokeAuthorization>::new();
    let result = Signal::derive(move || advance.value().get());
    let review_result = Signal::derive(move || ask_review.value().get());
    let request = Resource::new(move || (id.get(), advance.version().get(), ask_review.version().get(), revoke.version().get()), |(id, ..)| request_detail(id));
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
                            {(!r.recipient.is_empty()).then(|| view! { <p>{format!("To be sent to {}.", r.recipient)}</p> })}
                            {r.representative.clone().map(|who| view! { <p id=ids::REQUEST_REPRESENTATIVE>{format!("Asked by {who}.")}</p> })}
                            {r.share.clone().map(|share| view! {
                                <div id=ids::REQUEST_SHARE class="notice">
                                    <p class="notice__title">{format!("For {}: give them this link and passcode", share.recipient)}</p>
                                    <p class="hash">{share.url.clone()}</p>
                                    <p>"Passcode: "<strong class="passcode">{share.passcode.clone()}</strong></p>
                                    <p class="muted">{format!("{} Opened {} time(s).", if share.expired { format!("Expired {}.", share.expires) } else { format!("Works until {}.", share.expires) }, share.opened)}</p>
                                </div>
                            })}
                            <AuthorizationPanel request=r.clone() revoke/>
                            <RequestHistory request=r.clone()/>
                            <FormError result id="request-action-error"/>
                            <FormError result=review_result id="review-request-error"/>
                            {r.can_request_review.then({ let rid = r.id.clone(); move || view! {
                                <ActionForm action=ask_review attr:class="form">
                                    <input type="hidden" name="id" value=rid/>
                                    <p>"A licensed health professional who took no part in this decision can review it. We will tell you the result."</p>
                                    <button type="submit" class="button">"Ask for a review"</button>
                                </ActionForm>
                            }})}
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
#[component]
pub fn RequestQueuePage() -> impl IntoView {
    let query = use_query_decoded();
    let advance = ServerAction::<AdvanceRequest>::new();
    let claim = ServerAction::<ClaimRequest>::new();
    let result = Signal::derive(move || advance.value().get());
    let claim_result = Signal::derive(move || claim.value().get());
    let filter = Memo::new(move |_| {
        let q = query.read();
        let get = |k: &str| q.get(k).filter(|v| !v.is_empty());
        QueueFilter { status: get("status"), due_within: get("due_within"), overdue: get("overdue"), mine: get("mine"), recipient: get("recipient"), q: get("q"), page: get("page") }
    });
    // The same filters on another page (a GET address: bookmarkable, works before hydration).
    let page_link = move |page: u64| {
        let q = query.read_untracked();
        let mut pairs: Vec<String> = ["q", "status", "due_within", "recipient", "overdue", "mine"]
            .into_iter()
            .filter_map(|k| q.get(k).filter(|v| !v.is_empty()).map(|v| format!("{k}={}", crate::domain::percent(&v))))
            .collect();
        pairs.push(format!("page={page}"));
        format!("/staff/requests?{}", pairs.join("&"))
    };
    let page = move || filter.read().page.as_deref().and_then(|p| p.parse::<u64>().ok()).unwrap_or(1).max(1);
    let queue = Resource::new(move || (filter.get(), advance.version().get(), claim.version().get()), |(f, ..)| request_queue(f));
    let value = move |k: &'static str| move || query.read().get(k).unwrap_or_default();
    let checked = move |k: &'static str| move || query.read().get(k).is_some_and(|v| !v.is_empty());
    view! {
        <Title text="Request queue"/>
        <section class="page" aria-labelledby=ids::QUEUE_HEADING>
            <h1 id=ids::QUEUE_HEADING>"Request queue"</h1>
            <p>"Open requests for copies, the nearest due date first."</p>
            <form method="get" action="/staff/requests" class="form filter" role="search" aria-label="Filter the queue">
                <div class="field">
                    <label for="queue-q">"Patient, record number or request"</label>
                    <input id="queue-q" name="q" type="search" prop:value=value("q") value=value("q")/>
                </div>
                <div class="field">
                    <label for="queue-status">"Status"</label>
                    <select id="queue-status" name="status">
                        <option value="">"Every open request"</option>
                        {crate::domain::release::Status::ALL.into_iter().map(|st| view! {
                            <option value=st.as_str() selected=move || query.read().get("status").as_deref() == Some(st.as_str())>{st.label()}</option>
                        }).collect_view()}
                    </select>
                </div>
                <div class="field">
                    <label for="queue-due">"Due within (days)"</label>
                    <input id="queue-due" name="due_within" type="number" min="0" max="366" inputmode="numeric" value=value("due_within")/>
                </div>
                <div class="field">
                    <label for="queue-recipient">"Recipient"</label>
                    <select id="queue-recipient" name="recipient">
                        <option value="">"Anyone"</option>
                        <option value="myself" selected=move || query.read().get("recipient").as_deref() == Some("myself")>"The patient"</option>
                        <option value="third_party" selected=move || query.read().get("recipient").as_deref() == Some("third_party")>"Someone else"</option>
                    </select>
                </div>
                <label class="check"><input type="checkbox" name="overdue" value="on" checked=checked("overdue")/>" Overdue only"</label>
                <label class="check"><input type="checkbox" name="mine" value="on" checked=checked("mine")/>" Assigned to me"</label>
                <button type="submit" class="button button--secondary">"Filter"</button>
            </form>
            <FormError result id="queue-error"/>
            <FormError result=claim_result id="claim-error"/>
            <Loaded resource=queue view=move |value| match value {
                list if list.is_empty() => view! {
                    <p id=ids::QUEUE_LIST class="muted">{if page() > 1 { "No more requests match." } else { "No requests match." }}</p>
                    {(page() > 1).then(|| view! { <nav class="pager" aria-label="Pages"><a href=page_link(page() - 1) rel="prev">"Previous page"</a></nav> })}
                }.into_any(),
                list => { let full = list.len() as u64 == QUEUE_PAGE; view! {
                    <p class="muted" role="status">{
                        let first = (page() - 1) * QUEUE_PAGE + 1;
                        format!("Requests {first}–{} (page {})", first + list.len() as u64 - 1, page())
                    }</p>
                    <ul id=ids::QUEUE_LIST class="items">
                        {list.into_iter().map(|r| { let (claim_id, step_id) = (r.id.clone(), r.id.clone()); view! {
                            <li class="item">
                                <p class="item__title"><A href=format!("/staff/requests/{}", r.id.clone())>{format!("{} · {}", r.number, r.status_label)}</A>
                                    {r.overdue.then(|| view! { <span class="badge">"Overdue"</span> })}
                                    {(!r.recipient.is_empty()).then(|| view! { <span class="badge badge--info">"To someone else"</span> })}</p>
                                <p>{format!("{} · {}", r.patient_label, r.scope)}</p>
                                <p class="muted">{format!("{} · {} · received {}", r.requester, r.channel, readable_day(&r.received))}</p>
                                <p class="item__meta muted"><span>{due_text(&r)}</span>
                                    <span>{r.assignee.clone().map(|a| format!("Worked by {a}")).unwrap_or_else(|| "Not claimed".into())}</span></p>
                                <ActionForm action=claim attr:class="inline-form">
                                    <input type="hidden" name="id" value=claim_id/>
                                    {if r.assigned_to_me {
                                        view! { <button type="submit" class="button button--secondary">"Let go"</button> }.into_any()
                                    } else {
                                        view! { <input type="hidden" name="claim" value="on"/><button type="submit" class="button button--secondary">"Claim"</button> }.into_any()
                                    }}
                                </ActionForm>
                                " "
                                <ActionForm action=advance attr:class="inline-form">
                                    <input type="hidden" name="id" value=step_id/>
                                    {r.status.staff_steps().into_iter().map(|(step, label)| view! {
                                        <button type="submit" name="step" value=step.as_str() class="button button--secondary">{label}</button>
                                        " "
                                    }).collect_view()}
                                </ActionForm>
                            </li>
                        }}).collect_view()}
                    </ul>
                    // A full page may have a next one; an empty next page says so and links back.
                    <nav class="pager" aria-label="Pages">
                        {(page() > 1).then(|| view! { <a href=page_link(page() - 1) rel="prev">"Previous page"</a> })}
                        {full.then(|| view! { <a href=page_link(page() + 1) rel="next">"Next page"</a> })}
                    </nav>
                }.into_any() },
            }/>
            <UndeliveredMailList/>
        </section>
    }
}

/// Mail the outbox gave up on after its retries: the clerk sees to whom and about which
/// request, phones or writes instead, or sends it again once the address is mended. Shown only
/// when there is some.
#[component]
fn UndeliveredMailList() -> impl IntoView {
    let retry = ServerAction::<RetryMail>::new();
    let result = Signal::derive(move || retry.value().get());
    let mail = Resource::new(move || retry.version().get(), |_| undelivered_mail());
    view! {
        <FormError result id="retry-mail-error"/>
        <Loaded resource=mail view=move |list| (!list.is_empty()).then(|| view! {
            <h2 id="undelivered-title">{format!("Mail not delivered ({})", list.len())}</h2>
            <ul id=ids::QUEUE_UNDELIVERED class="items" aria-labelledby="undelivered-title">
                {list.into_iter().map(|m| view! {
                    <li class="item">
                        <p class="item__title">{format!("To {}", m.to)}{m.request_id.clone().zip(m.request.clone()).map(|(id, number)| view! { " · " <A href=format!("/staff/requests/{id}")>{number}</A> })}</p>
                        <p class="muted">{format!("Given up {} after {} attempts: {}", m.given_up, m.attempts, m.error)}</p>
                        <ActionForm action=retry attr:class="inline-form">
                            <input type="hidden" name="id" value=m.id/>
                            <button type="submit" class="button button--secondary">"Send again"</button>
                        </ActionForm>
                    </li>
                }).collect_view()}
            </ul>
        })/>
    }
}

/// One request for HIM staff: the facts, a link to the patient's record alongside, the identity
/// step, the review (what to withhold and on what basis, or the denial's ground), the release,
/// and the files. Each is a plain form: it works before hydration.
#[component]
pub fn StaffRequestPage() -> impl IntoView {
    let params = use_params_map();
    let id = Memo::new(move |_| params.read().get("id").unwrap_or_default());
    let advance = ServerAction::<AdvanceRequest>::new();
    let decide = ServerAction::<DecideRequest>::new();
    let release = ServerAction::<ReleaseCopy>::new();
    let review = ServerAction::<ReviewDenial>::new();
    let review_result = Signal::derive(move || review.value().get());
    let extend = ServerAction::<ExtendRequest>::new();
    let extend_result = Signal::derive(move || extend.value().get());
    let advance_result = Signal::derive(move || advance.value().get());
    let decide_result = Signal::derive(move || decide.value().get());
    let release_result = Signal::derive(move || release.value().get());
    let checklist = ServerAction::<crate::api::desk::UpdateChecklist>::new();
    let paid = ServerAction::<crate::api::desk::MarkPaid>::new();
    let assign = ServerAction::<crate::api::desk::AssignRequest>::new();
    let revoke = ServerAction::<RevokeAuthorization>::new();
    let colleagues = crate::ui::pages::desk::colleagues();
    let request = Resource::new(
        move || {
            let desk = (checklist.version().get(), paid.version().get(), assign.version().get(), revoke.version().get());
            (id.get(), advance.version().get(), decide.version().get(), release.version().get(), review.version().get(), extend.version().get(), desk)
        },
        |(id, ..)| request_detail(id),
    );
    view! {
        <Title text="Request review"/>
        <section class="page" aria-labelledby=ids::REQUESTS_HEADING>
            <Suspense fallback=|| view! { <p>"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match request.await {
                        Ok(r) => {
                            let status = r.status;
                            let (id_steps, id_review, id_release, id_denial) = (r.id.clone(), r.id.clone(), r.id.clone(), r.id.clone());
                            let denial_review = (status == Status::DenialUnderReview).then(move || view! {
                                <h2 id="denial-review-title">"Review of the denial"</h2>
                                <ActionForm action=review attr:class="form" attr:aria-labelledby="denial-review-title">
                                    <input type="hidden" name="id" value=id_denial/>
                                    <p class="muted">"Only a licensed reviewer who took no part in the denial may decide (45 CFR 164.524(a)(4))."</p>
                                    <div class="field">
                                        <label for="denial-review-note">"Reasons (the patient sees them)"</label>
                                        <textarea id="denial-review-note" name="note" rows="3" maxlength="2000"></textarea>
                                    </div>
                                    <FormError result=review_result id=ids::DENIAL_REVIEW_ERROR/>
                                    <div class="actions">
                                        <button type="submit" name="outcome" value="uphold" class="button">"Uphold the denial"</button>
                                        <button type="submit" name="outcome" value="overturn" class="button button--secondary">"Overturn: release the copy"</button>
                                    </div>
                                </ActionForm>
                            });
                            let step_list = status.staff_steps();
                            let step_form = (!step_list.is_empty()).then(move || view! {
                                <ActionForm action=advance attr:class="form">
                                    <input type="hidden" name="id" value=id_steps/>
                                    {step_list.into_iter().map(|(step, label)| view! {
                                        <button type="submit" name="step" value=step.as_str() class="button">{label}</button>
                                        " "
                                    }).collect_view()}
                                </ActionForm>
                            });
                            let (segments, receiver, named, consent) = (r.segments.clone(), r.receiver.unwrap_or(Receiver::Access), r.named.clone(), r.consent.clone());
                            let review = (status == Status::InReview).then(move || view! { <ReviewForm id=id_review segments receiver named consent action=decide result=decide_result/> });
                            let id_extend = r.id.clone();
                            let extension = (!r.extended && !status.clock_stopped()).then(move || view! {
                                <details class="form">
                                    <summary>"Extend the deadline (once, up to 30 days)"</summary>
                                    <ActionForm action=extend attr:class="form" attr:novalidate="true">
                                        <input type="hidden" name="id" value=id_extend/>
                                        <div class="field">
                                            <label for="extend-date">"New due date"</label>
                                            <FieldMessage result=extend_result field="new_due"/>
                                            <input id="extend-date" name="new_due" type="date"/>
                                        </div>
                                        <div class="field">
                                            <label for="extend-reason">"Why (the patient reads this notice)"</label>
                                            <FieldMessage result=extend_result field="reason"/>
                                            <textarea id="extend-reason" name="reason" rows="2" maxlength="1000"></textarea>
                                        </div>
                                        <button type="submit" class="button button--secondary">"Extend and tell the patient"</button>
                                    </ActionForm>
                                </details>
                            });
                            let release_form = matches!(status, Status::Approved | Status::PartiallyApproved).then(move || view! {
                                <ActionForm action=release attr:class="form" attr:aria-busy=move || release.pending().get().to_string()>
                                    <input type="hidden" name="id" value=id_release/>
                                    <FormError result=release_result id=ids::RELEASE_ERROR/>
                                    <p role="status" aria-live="polite">{move || release.pending().get().then_some("Producing the copy… this can take a few seconds for a long record.")}</p>
                                    <button type="submit" id=ids::RELEASE_BUTTON class="button" disabled=move || release.pending().get()>"Produce and release the copy"</button>
                                </ActionForm>
                            });
                            view! {
                                <h1 id=ids::REQUESTS_HEADING>{format!("Request {}", r.number)}</h1>
                                <p id=ids::REQUEST_PATIENT class="lead">{r.patient_label.clone()}</p>
                                <p id=ids::REQUEST_STATUS class="notice" role="status">{format!("{}. {}", r.status_label, due_text(&r))}</p>
                                <dl class="facts">
                                    <dt>"Asked by"</dt><dd id=ids::REQUEST_REQUESTER>{format!("{} · {}", r.requester, r.channel)}</dd>
                                    <dt>"Assigned to"</dt><dd>{r.assignee.clone().unwrap_or_else(|| "Nobody yet".into())}</dd>
                                    <dt>"What"</dt><dd>{r.scope.clone()}</dd>
                                    <dt>"Formats"</dt><dd>{r.formats.clone()}</dd>
                                    <dt>"Fee"</dt><dd>{r.fee.clone()}</dd>
                                    <dt>"Recipient"</dt><dd>{if r.recipient.is_empty() { if r.representative.is_some() { "The representative who asked".to_string() } else { "The patient".to_string() } } else { format!("{} (signed authorization in the files)", r.recipient) }}</dd>
                                    {r.representative.clone().map(|who| view! { <dt>"Representative"</dt><dd id=ids::REQUEST_REPRESENTATIVE>{who}</dd> })}
                                    <dt>"Patient"</dt><dd><A href=format!("/staff/patients/{}/record", r.patient_id)>"Open the record"</A>" · "
                                        <A href=format!("/staff/patients/{}/disclosures", r.patient_id)>"Accounting of disclosures"</A></dd>
                                </dl>
                                <crate::ui::pages::desk::DeskPanel request=r.clone() checklist paid assign colleagues/>
                                <AuthorizationPanel request=r.clone() revoke/>
                                <FormError result=advance_result id="step-error"/>
                                {step_form}
                                {extension}
                                {review}
                                {denial_review}
                                {release_form}
                                <RequestHistory request=r.clone()/>
                                <p><A href="/staff/requests">"Back to the queue"</A></p>
                            }.into_any()
                        }
                        Err(e) => view! { <h1 id=ids::REQUESTS_HEADING>"Request"</h1><LoadError error=e/> }.into_any(),
                    }
                })}
            </Suspense>
        </section>
    }
}

/// The authorization behind a copy for someone else: ended (revoked or expired: nothing more
/// goes out under it, its links are closed), or a button to revoke it (45 CFR 164.508(b)(5)).
#[component]
fn AuthorizationPanel(request: RequestView, revoke: ServerAction<RevokeAuthorization>) -> impl IntoView {
    let result = Signal::derive(move || revoke.value().get());
    let id = request.id.clone();
    view! {
        {request.authorization_state.clone().map(|state| view! { <p id=ids::AUTHORIZATION_STATE class="notice" role="status">{state}</p> })}
        {request.can_revoke.then(move || view! {
            <details class="form">
                <summary>"Revoke the authorization"</summary>
                <ActionForm action=revoke attr:class="form">
                    <input type="hidden" name="id" value=id/>
                    <p>"Nothing more will be sent under it and its links stop working at once. What was already sent cannot be called back (45 CFR 164.508(b)(5))."</p>
                    <div class="field">
                        <label for="revoke-note">"Note (optional)"</label>
                        <textarea id="revoke-note" name="note" rows="2" maxlength="500"></textarea>
                    </div>
                    <FormError result id=ids::REVOKE_ERROR/>
                    <button type="submit" id=ids::REVOKE_BUTTON class="button button--secondary">"Revoke the authorization"</button>
                </ActionForm>
            </details>
        })}
    }
}

/// One sensitive category of the review: what and how many (each item openable), the rule for
/// this receiver, and the choice (preset by the rule).
#[component]
fn SegmentChoice(segment: Segment, index: usize, receiver: Receiver, named: bool, result: Signal<Option<Result<RequestView, crate::error::AppError>>>) -> impl IntoView {
    let code = segment.category.clone();
    let (select_id, named_id, heading_id) = (format!("withhold-{code}"), format!("named-{code}"), format!("segment-{code}"));
    let (select_for, named_for, labelled_by) = (select_id.clone(), named_id.clone(), heading_id.clone());
    let more = segment.count.saturating_sub(segment.items.len());
    let default = segment.default_basis.clone().unwrap_or_default();
    let field: &'static str = crate::domain::Category::parse(&code).map(|c| c.as_str()).unwrap_or("withheld");
    let choice = if segment.fixed {
        view! { <p class="muted">"Always left out."</p> }.into_any()
    } else {
        view! {
            <label for=select_for>"Release or leave out"</label>
            <FieldMessage result field/>
            <select id=select_id name=code.clone()>
                <option value="" selected=default.is_empty()>"Release it"</option>
                {WITHHOLD_BASES.iter().filter(|(c, _)| *c != "psychotherapy_notes").map(|(c, text)| view! {
                    <option value=*c selected=default == *c>{format!("Leave out: {text}")}</option>
                }).collect_view()}
            </select>
            {(receiver != Receiver::Access).then(|| view! {
                <label class="check" for=named_for><input id=named_id type="checkbox" name=format!("named[{index}]") value=code.clone() checked=named/>" The authorization (or consent) names this information"</label>
            })}
        }
        .into_any()
    };
    view! {
        <div class="field segment" role="group" aria-labelledby=labelled_by>
            <h3 id=heading_id>{format!("{} ({} item{})", segment.label, segment.count, if segment.count == 1 { "" } else { "s" })}</h3>
            <p class="muted">{segment.rule.clone()}</p>
            <ul class="segment__items">
                {segment.items.clone().into_iter().map(|item| view! {
                    <li><A href=item.href>{item.title}</A>{item.date.map(|d| format!(" · {d}"))}</li>
                }).collect_view()}
                {(more > 0).then(|| view! { <li class="muted">{format!("and {more} more")}</li> })}
            </ul>
            {choice}
        </div>
    }
}

/// The review: the sensitive categories present in the request's scope, each preset by the rule
/// for who receives it; for Part 2 records, the consent's 42 CFR 2.31 elements; then approve,
/// approve in part (withholding on a 164.524 ground: a letter goes with it), or deny.
#[component]
fn ReviewForm(
    id: String,
    segments: Vec<Segment>,
    receiver: Receiver,
    /// Prefilled from the authorization signed in the portal (the clerk may change them).
    named: Vec<String>,
    consent: Vec<String>,
    action: ServerAction<DecideRequest>,
    result: Signal<Option<Result<RequestView, crate::error::AppError>>>,
) -> impl IntoView {
    let part2 = receiver != Receiver::Access && segments.iter().any(|s| s.category == "part2");
    let empty = segments.is_empty();
    view! {
        <h2 id="review-title">"Review and decide"</h2>
        <ActionForm action attr:id=ids::REVIEW_FORM attr:class="form" attr:novalidate="true" attr:aria-labelledby="review-title">
            <input type="hidden" name="id" value=id/>
            <fieldset class="field">
                <legend>"Sensitive information in the scope of this request"</legend>
                <FieldMessage result field="withheld"/>
                {empty.then(|| view! { <p id=ids::REVIEW_NO_SEGMENTS>"None: nothing in the scope is in a sensitive category."</p> })}
                {segments.into_iter().enumerate().map(|(n, segment)| {
                    let is_named = named.contains(&segment.category);
                    view! { <SegmentChoice segment index=n receiver named=is_named result/> }
                }).collect_view()}
            </fieldset>
            {part2.then(|| view! {
                <fieldset class="field">
                    <legend>"Part 2 consent: what the paper shows (42 CFR 2.31)"</legend>
                    <FieldMessage result field="consent"/>
                    {Part2Element::ALL.into_iter().enumerate().map(|(n, e)| {
                        let box_id = format!("consent-{}", e.as_str());
                        let box_for = box_id.clone();
                        let ticked = consent.iter().any(|c| c == e.as_str());
                        view! { <label class="check" for=box_for><input id=box_id type="checkbox" name=format!("consent[{n}]") value=e.as_str() checked=ticked/>{format!(" {}", e.label())}</label> }
                    }).collect_view()}
                </fieldset>
            })}
            <FieldMessage result field="authorization"/>
            <div class="field">
                <label for="deny-ground">"Ground, if you deny"</label>
                <FieldMessage result field="ground"/>
                <select id="deny-ground" name="ground">
                    <option value="" selected=true>"(not denying)"</option>
                    {DenialGround::ALL.into_iter().map(|g| view! {
                        <option value=g.code()>{format!("{} {}{}", g.citation(), g.plain_language(), if g.reviewable() { " (reviewable)" } else { "" })}</option>
                    }).collect_view()}
                </select>
            </div>
            <div class="field">
                <label for="review-note">"Note for the timeline (optional; the patient sees it)"</label>
                <textarea id="review-note" name="note" rows="2" maxlength="2000"></textarea>
            </div>
            <FormError result id=ids::REVIEW_ERROR/>
            <div class="actions">
                <button type="submit" name="decision" value="approve" class="button">"Approve"</button>
                " "
                <button type="submit" name="decision" value="approve_partially" class="button button--secondary">"Approve in part"</button>
                " "
                <button type="submit" name="decision" value="deny" class="button button--secondary">"Deny"</button>
            </div>
        </ActionForm>
    }
}

/// Reviewable denials waiting for a licensed reviewer (HIM reviewers).
#[component]
pub fn ReviewQueuePage() -> impl IntoView {
    let queue = Resource::new(|| (), |_| review_queue());
    view! {
        <Title text="Denials to review"/>
        <section class="page" aria-labelledby=ids::QUEUE_HEADING>
            <h1 id=ids::QUEUE_HEADING>"Denials to review"</h1>
            <p>"Patients asked for these denials to be reviewed. Decide only those you took no part in."</p>
            <Loaded resource=queue view=move |value| match value {
                list if list.is_empty() => view! { <p id=ids::QUEUE_LIST class="muted">"Nothing to review."</p> }.into_any(),
                list => view! {
                    <ul id=ids::QUEUE_LIST class="items">
                        {list.into_iter().map(|r| view! {
                            <li class="item">
                                <p class="item__title"><A href=format!("/staff/requests/{}", r.id)>{format!("{} · {}", r.number, r.status_label)}</A></p>
                                <p>{r.scope.clone()}</p>
                            </li>
                        }).collect_view()}
                    </ul>
                }.into_any(),
            }/>
        </section>
    }
}

/// The patient's request for a copy. An island: an error (an address that is not one, a
/// missing element of the authorization) is answered in place and everything typed stays;
/// success is the server's redirect to the new request's page. `children`: the fees, read on
/// the server.
#[island]
fn CopyRequestForm(children: Children) -> impl IntoView {
    let submit = ServerAction::<SubmitRequest>::new();
    let result = Signal::derive(move || submit.value().get());
    view! {
        <ActionForm action=submit attr:class="form" attr:novalidate="true" attr:aria-labelledby="new-request-title">
            <fieldset class="field">
                <legend>"What to include"</legend>
                <FieldMessage result=result field="scope"/>
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
                <FieldMessage result=result field="formats"/>
                <label class="check"><input type="checkbox" name="pdf" value="on" checked=true/>" PDF, to read and print"</label>
                <label class="check"><input type="checkbox" name="fhir" value="on"/>" FHIR data, for health apps"</label>
            </fieldset>
            <fieldset class="field">
                <legend>"Who gets the copy"</legend>
                <label class="check"><input type="radio" name="recipient" value="myself" checked=true/>" Me, to download here"</label>
                <label class="check"><input type="radio" name="recipient" value="someone_else"/>" Someone else (a doctor, a lawyer, an insurer, a family member)"</label>
            </fieldset>
            <fieldset class="field" aria-describedby="third-party-help">
                <legend>"Sending it to someone else: your authorization"</legend>
                <p id="third-party-help" class="muted">"Only if you chose someone else. We send them a link; you give them the passcode shown on this request's page. The law (45 CFR 164.508) needs every item below."</p>
                {[
                    ("recipient_name", "Their name or organization", "text", "organization"),
                    ("recipient_address", "Their email, or postal address", "text", "off"),
                    ("purpose", "Why (\"at my request\" is enough)", "text", "off"),
                    ("expires_on", "This authorization ends on", "date", "off"),
                    ("expiry_event", "…or ends when (an event, instead of a date)", "text", "off"),
                ].into_iter().map(|(name, label, kind, auto)| {
                    let id = format!("auth-{name}");
                    let error_id = format!("{id}-error");
                    view! {
                        <div class="field">
                            <label for=id.clone()>{label}</label>
                            <FieldMessage result field=name id=error_id.clone()/>
                            <input id=id name=name type=kind autocomplete=auto
                                aria-invalid=move || field_error(result.get(), name).is_some().to_string()
                                aria-describedby=move || field_error(result.get(), name).map(|_| error_id.clone())/>
                        </div>
                    }
                }).collect_view()}
                <fieldset class="field">
                    <legend>"Sensitive information: sent only if you tick it"</legend>
                    <p class="muted">"Without a tick, these are left out of the copy (45 CFR 164.508; substance use disorder program records, 42 CFR Part 2). Psychotherapy notes need an authorization of their own."</p>
                    {crate::domain::Category::REVIEWED.into_iter().filter(|c| *c != crate::domain::Category::PsychotherapyNotes).enumerate().map(|(n, c)| {
                        let box_id = format!("sensitive-{}", c.as_str());
                        let box_for = box_id.clone();
                        view! { <label class="check" for=box_for><input id=box_id type="checkbox" name=format!("sensitive[{n}]") value=c.as_str()/>{format!(" {}", c.label())}</label> }
                    }).collect_view()}
                </fieldset>
                {[
                    ("ack_revocation", "I understand I may revoke this authorization in writing at any time, except for what was already done under it."),
                    ("ack_no_conditioning", "I understand my treatment, payment or benefits do not depend on signing it."),
                    ("ack_redisclosure", "I understand the recipient may share the information further, and it may then no longer be protected by federal privacy law."),
                ].into_iter().map(|(name, label)| view! {
                    <div class="field">
                        <FieldMessage result=result field=name/>
                        <label class="check"><input type="checkbox" name=name value="on"/>{format!(" {label}")}</label>
                    </div>
                }).collect_view()}
                <div class="field">
                    <label for="auth-signature_name">"Sign: type your full name as on your account"</label>
                    <FieldMessage result=result field="signature_name"/>
                    <input id="auth-signature_name" name="signature_name" type="text" autocomplete="name"/>
                </div>
                <div class="field">
                    <FieldMessage result=result field="consent"/>
                    <label class="check"><input type="checkbox" name="consent" value="on"/>" I sign this authorization. The time and my network address are recorded with my signature."</label>
                </div>
            </fieldset>
            {children()}
            <FormError result id=ids::REQUEST_ERROR/>
            <button type="submit" id=ids::REQUEST_SUBMIT class="button">"Send my request"</button>
        </ActionForm>
    }
}
