//! Caregiver pages: the patient's "Who can see my records" (invite, withdraw, revoke, history),
//! accepting an invitation, "People I help" (the switcher), asking to be recognised as a
//! representative (a plain multipart form with the documents), and HIM staff's queue of
//! representative requests. Forms are `ActionForm`s, so they work before hydration.

use crate::api::auth::CurrentUser;
use crate::api::caregivers::{
    AcceptInvitation, CloseSharedLink, DecideRepresentative, EndCaregiver, patient_caregivers, InviteCaregiver, RevokeCaregiver, SwitchPerson, WithdrawInvitation, acting_state, preview_invitation,
    take_sent_invitation, who_can_see, my_representative_requests, representative_queue,
};
use crate::api::release::RevokeAuthorization;
use crate::domain::caregiver::{AuthorizationView, GrantKind, GrantView, InvitationView, RepresentativeView, SharedLinkView};
use crate::ui::components::form::{FieldMessage, FormError, LoadError, field_error};
use crate::ui::ids;
use crate::ui::components::loaded::Loaded;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::A;
use crate::ui::query::use_query_decoded;

fn grant_item(g: GrantView, revoke: Option<ServerAction<RevokeCaregiver>>) -> impl IntoView {
    let scope = g.effective.unwrap_or(g.scope).describe();
    let id = g.id.clone();
    let label = format!("Revoke access for {}", g.caregiver_name);
    view! {
        <li class="item">
            <p class="item__title">{format!("{} · {}", g.caregiver_name, g.caregiver_email)}</p>
            <p>{format!("{} · {}", g.kind.label(), scope)}</p>
            <p class="item__meta muted">
                {format!("From {} · {} · granted by {}", g.starts_on, g.expires_on.clone().map(|e| format!("until {e}")).unwrap_or_else(|| "no end date".into()), g.granted_by)}
            </p>
            {g.active.then(|| view! { <p class="item__meta muted">{g.last_used.clone().map(|at| format!("Last used the record {at}")).unwrap_or_else(|| "Has not used the record yet".into())}</p> })}
            {(!g.active).then(|| view! { <p class="muted">{format!("{}{}", g.status, g.ended_on.clone().map(|d| format!(" ({d})")).unwrap_or_default())}</p> })}
            {revoke.filter(|_| g.active).map(|action| view! {
                <ActionForm action=action attr:class="inline-form">
                    <input type="hidden" name="id" value=id.clone()/>
                    <button type="submit" class="button button--danger" aria-label=label.clone()>"Revoke access"</button>
                </ActionForm>
            })}
        </li>
    }
}

fn invitation_item(i: InvitationView, withdraw: ServerAction<WithdrawInvitation>) -> impl IntoView {
    let pending = i.status == "pending";
    let id = i.id.clone();
    let label = format!("Withdraw the invitation to {}", i.email);
    view! {
        <li class="item">
            <p class="item__title">{i.email.clone()}</p>
            <p>{format!("{} · for {} days", i.scope.describe(), i.days)}</p>
            <p class="item__meta muted">{format!("Sent {} · {}", i.sent_on, if pending { format!("can be accepted until {}", i.expires_on) } else { i.status.clone() })}</p>
            {pending.then(|| view! {
                <ActionForm action=withdraw attr:class="inline-form">
                    <input type="hidden" name="id" value=id.clone()/>
                    <button type="submit" class="button button--quiet" aria-label=label.clone()>"Withdraw"</button>
                </ActionForm>
            })}
        </li>
    }
}

fn link_item(l: SharedLinkView, close: ServerAction<CloseSharedLink>) -> impl IntoView {
    let label = format!("Close the link for {}", l.recipient);
    view! {
        <li class="item">
            <p class="item__title">{l.recipient.clone()}</p>
            <p>{format!("{} · request {}", l.what, l.request)}</p>
            <p class="item__meta muted">{format!(
                "Sent {} · opens until {} · {}",
                l.sent,
                l.until,
                match (l.opened, l.last_opened.clone()) {
                    (0, _) => "not opened yet".to_string(),
                    (1, Some(at)) => format!("opened once, {at}"),
                    (n, Some(at)) => format!("opened {n} times, last {at}"),
                    (n, None) => format!("opened {n} times"),
                }
            )}</p>
            <ActionForm action=close attr:class="inline-form">
                <input type="hidden" name="id" value=l.id.clone()/>
                <button type="submit" class="button button--danger" aria-label=label>"Close the link"</button>
            </ActionForm>
        </li>
    }
}

fn authorization_item(a: AuthorizationView, revoke: ServerAction<RevokeAuthorization>) -> impl IntoView {
    let label = format!("Revoke the authorization for {}", a.recipient);
    view! {
        <li class="item">
            <p class="item__title">{a.recipient.clone()}</p>
            <p>{format!("{} · for {}", a.what, a.purpose)}</p>
            <p class="item__meta muted">{format!(
                "Signed {} · until {} · request {} · {}",
                a.signed,
                a.expires_on,
                a.request,
                a.last_sent.clone().map(|on| format!("last sent {on}")).unwrap_or_else(|| "nothing sent yet".into())
            )}</p>
            <ActionForm action=revoke attr:class="inline-form">
                <input type="hidden" name="id" value=a.request_id.clone()/>
                <button type="submit" class="button button--danger" aria-label=label>"Revoke"</button>
            </ActionForm>
        </li>
    }
}

/// The patient's page: who can see their records, and inviting someone.
#[component]
pub fn CaregiversPage() -> impl IntoView {
    let invite = ServerAction::<InviteCaregiver>::new();
    let revoke = ServerAction::<RevokeCaregiver>::new();
    let withdraw = ServerAction::<WithdrawInvitation>::new();
    let close_link = ServerAction::<CloseSharedLink>::new();
    let revoke_authorization = ServerAction::<RevokeAuthorization>::new();
    let result = Signal::derive(move || invite.value().get());
    let revoke_result = Signal::derive(move || revoke.value().get());
    let close_result = Signal::derive(move || close_link.value().get());
    let authorization_result = Signal::derive(move || revoke_authorization.value().get());
    let overview = Resource::new(
        move || (invite.version().get(), revoke.version().get(), withdraw.version().get(), close_link.version().get(), revoke_authorization.version().get()),
        |_| who_can_see(),
    );
    let error = move |name: &'static str| Signal::derive(move || field_error(result.get(), name));
    // The invitation just sent (the form's answer is a page load back here), shown once.
    let sent = Resource::new(|| (), |_| take_sent_invitation());
    view! {
        <Title text="Who can see my records"/>
        <section class="page" aria-labelledby=ids::CAREGIVERS_HEADING>
            <h1 id=ids::CAREGIVERS_HEADING>"Who can see my records"</h1>
            <FormError result=revoke_result id="revoke-error"/>
            <Loaded resource=overview view=move |o| {
                let (default_days, max_days) = (o.default_days, o.max_days);
                view! {
                    <h2 id="active-title">"People who can see your record"</h2>
                    {if o.active.is_empty() {
                        view! { <p class="muted">"Nobody else can see your record."</p> }.into_any()
                    } else {
                        view! { <ul id=ids::CAREGIVERS_ACTIVE class="items" aria-labelledby="active-title">
                            {o.active.into_iter().map(|g| grant_item(g, Some(revoke))).collect_view()}
                        </ul> }.into_any()
                    }}
                    <h2 id="invitations-title">"Invitations"</h2>
                    {if o.invitations.is_empty() {
                        view! { <p class="muted">"No invitations sent."</p> }.into_any()
                    } else {
                        view! { <ul id=ids::CAREGIVERS_INVITATIONS class="items" aria-labelledby="invitations-title">
                            {o.invitations.into_iter().map(|i| invitation_item(i, withdraw)).collect_view()}
                        </ul> }.into_any()
                    }}
                    {(!o.representatives.is_empty()).then(|| view! {
                        <h2 id="reps-title">"Representatives who asked HIM for access"</h2>
                        <ul class="items" aria-labelledby="reps-title">
                            {o.representatives.into_iter().map(|r| view! {
                                <li class="item">
                                    <p class="item__title">{format!("{} · {}", r.requester_name, r.kind.label())}</p>
                                    <p class="muted">{format!("Asked {} · {}", r.submitted_on, r.status)}</p>
                                </li>
                            }).collect_view()}
                        </ul>
                    })}
                    <h2 id="links-title">"Links to copies you sent"</h2>
                    <FormError result=close_result id=ids::SHARED_LINKS_NOTICE/>
                    {if o.links.is_empty() {
                        view! { <p class="muted">"No link to a copy can be opened now."</p> }.into_any()
                    } else {
                        view! {
                            <p>"Whoever has the link and its passcode can open these copies until the date shown. Closing a link stops the next opening; what was already opened cannot be called back."</p>
                            <ul id=ids::SHARED_LINKS class="items" aria-labelledby="links-title">
                                {o.links.into_iter().map(|l| link_item(l, close_link)).collect_view()}
                            </ul>
                        }.into_any()
                    }}
                    <h2 id="authorizations-title">"Authorizations you signed"</h2>
                    <FormError result=authorization_result id=ids::AUTHORIZATIONS_NOTICE/>
                    {if o.authorizations.is_empty() {
                        view! { <p class="muted">"No authorization to release your records to someone else is in force."</p> }.into_any()
                    } else {
                        view! {
                            <p>"Each lets us send your records to the one named, for the purpose given, until its date. Revoking one stops anything more going out under it and closes its links (45 CFR 164.508(b)(5))."</p>
                            <ul id=ids::AUTHORIZATIONS class="items" aria-labelledby="authorizations-title">
                                {o.authorizations.into_iter().map(|a| authorization_item(a, revoke_authorization)).collect_view()}
                            </ul>
                        }.into_any()
                    }}
                    <h2 id="history-title">"History"</h2>
                    {if o.history.is_empty() {
                        view! { <p class="muted">"No access has ended yet."</p> }.into_any()
                    } else {
                        view! { <ul id=ids::CAREGIVERS_HISTORY class="items" aria-labelledby="history-title">
                            {o.history.into_iter().map(|g| grant_item(g, None)).collect_view()}
                        </ul> }.into_any()
                    }}
                    <h2 id="invite-title">"Invite someone to help"</h2>
                    <p>"They sign in with their own account. You choose what they may see and do, and for how long; you can revoke it at any time."</p>
                    <ActionForm action=invite attr:class="form" attr:novalidate="true" attr:aria-labelledby="invite-title">
                        <crate::ui::components::form::Field label="Their email address" name="form[email]" id=ids::INVITE_EMAIL kind="email" autocomplete="off" required=true error=error("email")/>
                        <fieldset class="field">
                            <legend>"What they may see"</legend>
                            {move || error("view").get().map(|e| view! { <p class="field__error">{e}</p> })}
                            <label class="check"><input type="radio" name="form[view]" value="limited" id=ids::INVITE_LIMITED checked=true/>" The limited record (no notes, no sensitive information)"</label>
                            <label class="check"><input type="radio" name="form[view]" value="full" id=ids::INVITE_FULL/>" The full record"</label>
                        </fieldset>
                        <label class="check"><input type="checkbox" name="form[request_copies]" value="true" id=ids::INVITE_COPIES/>" They may request copies for me"</label>
                        <label class="check"><input type="checkbox" name="form[track_requests]" value="true" id=ids::INVITE_TRACK checked=true/>" They may see and follow my requests"</label>
                        <div class="field">
                            <label for=ids::INVITE_DAYS>"For how many days"</label>
                            <p id="invite-days-hint" class="field__hint">{format!("Up to {max_days} days. You can revoke it sooner at any time.")}</p>
                            {move || error("days").get().map(|e| view! { <p class="field__error" role="alert">{e}</p> })}
                            <input id=ids::INVITE_DAYS name="form[days]" type="number" min=1 max=max_days value=default_days.to_string() aria-describedby="invite-days-hint"/>
                        </div>
                        <FormError result id=ids::INVITE_ERROR/>
                        <button type="submit" id=ids::INVITE_SUBMIT class="button">"Send the invitation"</button>
                    </ActionForm>
                }.into_any()
            }/>
            <ConnectedApps/>
            <Suspense fallback=|| ()>
                {move || Suspend::new(async move {
                    sent.await.ok().flatten().map(|sent| view! {
                        <div id=ids::INVITE_SENT class="notice" role="status">
                            <p>{format!("We emailed the invitation to {}. It can be accepted until {}.", sent.invitation.email, sent.invitation.expires_on)}</p>
                            <p>"You can also give them this link yourself; only an account with that email address can accept it:"</p>
                            <p><code id=ids::INVITE_LINK>{sent.link}</code></p>
                        </div>
                    })
                })}
            </Suspense>
        </section>
    }
}

/// The apps connected to the record (issue 22): what each may read, until when, its last read,
/// and a button that disconnects it (its next request fails).
#[component]
fn ConnectedApps() -> impl IntoView {
    use crate::api::apps::{DisconnectApp, connected_apps};
    let disconnect = ServerAction::<DisconnectApp>::new();
    let result = Signal::derive(move || disconnect.value().get());
    let apps = Resource::new(move || disconnect.version().get(), |_| connected_apps());
    view! {
        <h2 id="apps-title">"Apps connected to your record"</h2>
        <FormError result id=ids::CONNECTED_APPS_NOTICE/>
        <Loaded resource=apps view=move |list| {
            if list.is_empty() {
                return view! { <p class="muted">"No app is connected. An app you choose can ask to read your record; you decide here what it may see."</p> }.into_any();
            }
            view! {
                <ul id=ids::CONNECTED_APPS class="items" aria-labelledby="apps-title">
                    {list.into_iter().map(|app| {
                        let label = format!("Disconnect {}", app.app_name);
                        view! {
                            <li class="item">
                                <p class="item__title">{app.app_name.clone()}</p>
                                <p>{format!("May: {}", app.can_read.join("; "))}</p>
                                <p class="item__meta muted">{format!(
                                    "Connected {} by {} · until {} · {}",
                                    app.since,
                                    app.connected_by,
                                    app.until,
                                    app.last_used.clone().map(|at| format!("last read {at}")).unwrap_or_else(|| "not used yet".into())
                                )}</p>
                                <ActionForm action=disconnect attr:class="inline-form">
                                    <input type="hidden" name="id" value=app.grant_id.clone()/>
                                    <button type="submit" class="button button--danger" aria-label=label>"Disconnect"</button>
                                </ActionForm>
                            </li>
                        }
                    }).collect_view()}
                </ul>
            }.into_any()
        }/>
    }
}

/// Accepting an invitation (`/caregivers/accept?token=`): sign in first, then accept.
#[component]
pub fn AcceptInvitationPage() -> impl IntoView {
    let query = use_query_decoded();
    let token = Memo::new(move |_| query.read().get("token").unwrap_or_default());
    let accept = ServerAction::<AcceptInvitation>::new();
    let result = Signal::derive(move || accept.value().get());
    let preview = Resource::new(move || token.get(), |t| async move {
        match crate::api::auth::me().await {
            Ok(Some(_)) => preview_invitation(t).await.map(Some),
            Ok(None) => Ok(None),
            Err(e) => Err(e),
        }
    });
    view! {
        <Title text="Accept an invitation"/>
        <section class="page" aria-labelledby=ids::ACCEPT_HEADING>
            <h1 id=ids::ACCEPT_HEADING>"An invitation to help with someone's records"</h1>
            <Suspense fallback=|| view! { <p>"Loading…"</p> }>
                {move || Suspend::new(async move {
                    let next = format!("/caregivers/accept?token={}", token.get_untracked());
                    let next_query: String = next.bytes().map(|b| if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') { (b as char).to_string() } else { format!("%{b:02X}") }).collect();
                    match preview.await {
                        Ok(None) => view! {
                            <p>"Sign in with your own account to accept. If you do not have one, create it with the email address the invitation was sent to."</p>
                            <p class="actions">
                                <a class="button" id=ids::ACCEPT_SIGN_IN href=format!("/sign-in?next={next_query}") rel="external">"Sign in"</a>
                                <a class="button button--quiet" href=format!("/register?next={next_query}") rel="external">"Create an account"</a>
                            </p>
                        }.into_any(),
                        Ok(Some(p)) if !p.for_you => view! {
                            <p class="form-error" role="alert">"This invitation was sent to another email address. Sign in with the account for that address."</p>
                        }.into_any(),
                        Ok(Some(p)) => view! {
                            <p id=ids::ACCEPT_SUMMARY>{format!("{} invites you to see their record: {}, for {} days.", p.patient_name, p.scope.describe(), p.days)}</p>
                            <p class="muted">{format!("Accept by {}. Everything you do is recorded with your name and theirs.", p.expires_on)}</p>
                            <ActionForm action=accept attr:class="form">
                                <input type="hidden" name="token" value=token.get_untracked()/>
                                <FormError result id=ids::ACCEPT_ERROR/>
                                <button type="submit" id=ids::ACCEPT_SUBMIT class="button">"Accept"</button>
                            </ActionForm>
                        }.into_any(),
                        Err(e) => view! { <LoadError error=e/> }.into_any(),
                    }
                })}
            </Suspense>
        </section>
    }
}

/// "People I help": switch between oneself and each person one acts for.
#[component]
pub fn PeoplePage() -> impl IntoView {
    let switch = ServerAction::<SwitchPerson>::new();
    let result = Signal::derive(move || switch.value().get());
    let people = Resource::new(move || switch.version().get(), |_| acting_state());
    let query = use_query_decoded();
    let accepted = move || query.read().get("accepted").is_some();
    view! {
        <Title text="People I help"/>
        <section class="page" aria-labelledby=ids::PEOPLE_HEADING>
            <h1 id=ids::PEOPLE_HEADING>"People I help"</h1>
            {move || accepted().then(|| view! { <p class="notice" role="status">"Invitation accepted. Choose the person below to see their record."</p> })}
            <FormError result id="switch-error"/>
            <Loaded resource=people view=move |a| {
                let current = a.acting_for.as_ref().map(|c| c.patient_id.clone());
                let myself = current.is_none().to_string();
                view! {
                    {a.lost.then(|| view! { <p class="form-error" role="alert">"Your access to the person you were helping has ended."</p> })}
                    <ul id=ids::PEOPLE_LIST class="items">
                        <li class="item">
                            <p class="item__title">"Myself"</p>
                            <ActionForm action=switch attr:class="inline-form">
                                <input type="hidden" name="patient" value=""/>
                                <button type="submit" class="button button--quiet" aria-pressed=myself>"Switch to my own account"</button>
                            </ActionForm>
                        </li>
                        {a.choices.into_iter().map(|c| {
                            let pressed = current.as_deref() == Some(c.patient_id.as_str());
                            let label = format!("See {}'s record", c.name);
                            view! {
                                <li class="item">
                                    <p class="item__title">{c.name.clone()}</p>
                                    <p>{format!("{} · {}", c.kind.label(), c.scope.describe())}</p>
                                    {c.expires_on.clone().map(|e| view! { <p class="item__meta muted">{format!("Until {e}")}</p> })}
                                    <ActionForm action=switch attr:class="inline-form">
                                        <input type="hidden" name="patient" value=c.patient_id.clone()/>
                                        <button type="submit" class="button" aria-pressed=pressed.to_string()>{label}</button>
                                    </ActionForm>
                                </li>
                            }
                        }).collect_view()}
                    </ul>
                }.into_any()
            }/>
            <p><A href="/representatives">"Ask to be recognised as a parent, guardian, agent or executor"</A></p>
        </section>
    }
}

fn representative_item(r: RepresentativeView) -> impl IntoView {
    view! {
        <li class="item">
            <p class="item__title">{format!("{} · born {}", r.patient_name, r.birth_date)}</p>
            <p>{format!("{} · sent {} · {}", r.kind.label(), r.submitted_on, r.status)}</p>
            {r.reason.clone().map(|reason| view! { <p>{format!("Reason: {reason}")}</p> })}
            <p class="muted">{format!("{} document(s)", r.documents.len())}</p>
        </li>
    }
}

/// Asking to be recognised as a representative, with documents (multipart; no JavaScript needed).
#[component]
pub fn RepresentativesPage() -> impl IntoView {
    let mine = Resource::new(|| (), |_| my_representative_requests());
    let query = use_query_decoded();
    // The refusal's messages come from the session (shown once), never from the address.
    let errors = Resource::new(move || query.read().get("error").is_some(), |refused| async move {
        if refused { crate::api::caregivers::take_form_errors("representatives".into()).await.unwrap_or_default() } else { Vec::new() }
    });
    let sent = move || query.read().get("sent").is_some();
    view! {
        <Title text="Act for a patient"/>
        <section class="page" aria-labelledby=ids::REPRESENTATIVE_HEADING>
            <h1 id=ids::REPRESENTATIVE_HEADING>"Ask to act for a patient"</h1>
            <p>"Parents of children under 18, guardians, holders of a health-care power of attorney and executors can see records and ask for copies. "
               "HIM staff check your documents before access starts; you will get a message either way."</p>
            <Suspense fallback=|| ()>{move || Suspend::new(async move {
                let list = errors.await;
                (!list.is_empty()).then(|| view! {
                    <div id=ids::REPRESENTATIVE_ERROR class="form-error" role="alert">
                        <p>"Nothing was sent. Please correct:"</p>
                        <ul>{list.into_iter().map(|e| view! { <li>{e.message}</li> }).collect_view()}</ul>
                    </div>
                })
            })}</Suspense>
            {move || sent().then(|| view! { <p id=ids::REPRESENTATIVE_SENT class="notice" role="status">"Sent. HIM staff will check your documents."</p> })}
            <form method="post" action="/representatives/new" enctype="multipart/form-data" class="form">
                <div class="field">
                    <label for=ids::REPRESENTATIVE_KIND>"I am"</label>
                    <select id=ids::REPRESENTATIVE_KIND name="kind" required=true>
                        {GrantKind::REPRESENTATIVE.into_iter().map(|k| view! { <option value=k.as_str()>{k.claim()}</option> }).collect_view()}
                    </select>
                </div>
                <div class="field">
                    <label for=ids::REPRESENTATIVE_NAME>"The patient's full name"</label>
                    <input id=ids::REPRESENTATIVE_NAME name="patient_name" type="text" required=true maxlength=200 autocomplete="off"/>
                </div>
                <div class="field">
                    <label for=ids::REPRESENTATIVE_BIRTH>"The patient's date of birth"</label>
                    <input id=ids::REPRESENTATIVE_BIRTH name="birth_date" type="date" required=true/>
                </div>
                <div class="field">
                    <label for="representative-mrn">"Medical record number (if you know it)"</label>
                    <input id="representative-mrn" name="mrn" type="text" maxlength=64 autocomplete="off"/>
                </div>
                <div class="field">
                    <label for="representative-statement">"Anything HIM staff should know (optional)"</label>
                    <textarea id="representative-statement" name="statement" maxlength=2000 rows=3></textarea>
                </div>
                <div class="field">
                    <label for=ids::REPRESENTATIVE_FILES>"Documents that show your authority"</label>
                    <p id="representative-files-hint" class="field__hint">"A birth certificate, court order or power of attorney: PDF, PNG or JPEG, up to 5 files."</p>
                    <input id=ids::REPRESENTATIVE_FILES name="documents" type="file" multiple=true accept=".pdf,.png,.jpg,.jpeg,application/pdf,image/png,image/jpeg" required=true aria-describedby="representative-files-hint"/>
                </div>
                <button type="submit" id=ids::REPRESENTATIVE_SUBMIT class="button">"Send to HIM"</button>
            </form>
            <h2 id="my-reps-title">"My requests"</h2>
            <Loaded resource=mine view=move |value| match value {
                rows if rows.is_empty() => view! { <p class="muted">"None yet."</p> }.into_any(),
                rows => view! { <ul class="items" aria-labelledby="my-reps-title">{rows.into_iter().map(representative_item).collect_view()}</ul> }.into_any(),
            }/>
        </section>
    }
}

/// HIM staff: representative requests to verify, with their documents.
#[component]
pub fn StaffRepresentativesPage() -> impl IntoView {
    let decide = ServerAction::<DecideRepresentative>::new();
    let result = Signal::derive(move || decide.value().get());
    let queue = Resource::new(move || decide.version().get(), |_| representative_queue());
    view! {
        <Title text="Representatives"/>
        <section class="page" aria-labelledby=ids::STAFF_REPRESENTATIVES_HEADING>
            <h1 id=ids::STAFF_REPRESENTATIVES_HEADING>"Representatives to verify"</h1>
            <FormError result id="decide-representative-error"/>
            <Loaded resource=queue view=move |value| match value {
                rows if rows.is_empty() => view! { <p class="muted">"Nothing waiting."</p> }.into_any(),
                rows => view! {
                    <ul id=ids::STAFF_REPRESENTATIVES_LIST class="items">
                        {rows.into_iter().map(|r| {
                            let id = r.id.clone();
                            let heading = format!("rep-{}", r.id);
                            view! {
                                <li class="item">
                                    <h2 class="item__title" id=heading.clone()>{format!("{} ({}) for {}, born {}", r.requester_name, r.requester_email, r.patient_name, r.birth_date)}</h2>
                                    <p>{format!("{} · sent {}{}", r.kind.claim(), r.submitted_on, if r.mrn.is_empty() { String::new() } else { format!(" · record number given: {}", r.mrn) })}</p>
                                    {(!r.statement.is_empty()).then(|| view! { <p>{r.statement.clone()}</p> })}
                                    <ul>
                                        {r.documents.iter().map(|d| view! {
                                            <li><a href=format!("/representatives/{}/documents/{}", r.id, d.id) rel="external">{format!("{} ({}, {} KB)", d.file_name, d.content_type, (d.size + 1023) / 1024)}</a></li>
                                        }).collect_view()}
                                    </ul>
                                    <ActionForm action=decide attr:class="form" attr:aria-labelledby=heading>
                                        <input type="hidden" name="id" value=id.clone()/>
                                        <div class="field">
                                            <label for=format!("mrn-{id}")>"Verified medical record number (to approve)"</label>
                                            <FieldMessage result=result field="mrn"/>
                                            <input id=format!("mrn-{id}") name="mrn" type="text" value=r.mrn.clone()/>
                                        </div>
                                        <div class="field">
                                            <label for=format!("view-{id}")>"What they may see"</label>
                                            <select id=format!("view-{id}") name="view" required=true>
                                                <option value="" selected=true>"Choose…"</option>
                                                <option value="full">"The full record (narrowed by the age rules)"</option>
                                                <option value="limited">"The limited record"</option>
                                            </select>
                                        </div>
                                        <label class="check"><input type="checkbox" name="request_copies" value="on" checked=true/>" May request copies"</label>
                                        <label class="check"><input type="checkbox" name="track_requests" value="on" checked=true/>" May follow requests"</label>
                                        <div class="field">
                                            <label for=format!("days-{id}")>"Days of access (empty: until the law or HIM ends it)"</label>
                                            <input id=format!("days-{id}") name="days" type="number" min=1/>
                                        </div>
                                        <div class="field">
                                            <label for=format!("reason-{id}")>"Reason (required to refuse; the requester is told)"</label>
                                            <FieldMessage result=result field="reason"/>
                                            <input id=format!("reason-{id}") name="reason" type="text" maxlength=500/>
                                        </div>
                                        <p class="actions">
                                            <button type="submit" name="decision" value="approve" class="button">"Approve"</button>
                                            <button type="submit" name="decision" value="refuse" class="button button--danger">"Refuse"</button>
                                        </p>
                                    </ActionForm>
                                </li>
                            }
                        }).collect_view()}
                    </ul>
                }.into_any(),
            }/>
        </section>
    }
}

/// HIM staff, on a patient's page: everyone who holds or held access, and ending a grant with
/// a reason where abuse or endangerment is suspected (45 CFR 164.502(g)(5)).
#[component]
pub fn StaffCaregivers(patient: String) -> impl IntoView {
    let end = ServerAction::<EndCaregiver>::new();
    let result = Signal::derive(move || end.value().get());
    let grants = Resource::new(move || (patient.clone(), end.version().get()), |(p, _)| patient_caregivers(p));
    view! {
        <h2 id="staff-caregivers-title">"Caregivers and representatives"</h2>
        <FormError result id="end-caregiver-error"/>
        <Loaded resource=grants view=move |value| match value {
            rows if rows.is_empty() => view! { <p class="muted">"Nobody acts for this patient."</p> }.into_any(),
            rows => view! {
                <ul class="items" aria-labelledby="staff-caregivers-title">
                    {rows.into_iter().map(|g| {
                        let id = g.id.clone();
                        let reason_id = format!("end-reason-{}", g.id);
                        let active = g.active;
                        view! {
                            {grant_item(g, None)}
                            {active.then(|| view! {
                                <li class="item">
                                    <ActionForm action=end attr:class="form">
                                        <input type="hidden" name="id" value=id.clone()/>
                                        <div class="field">
                                            <label for=reason_id.clone()>"Reason for ending this access (kept in the history)"</label>
                                            <FieldMessage result=result field="reason"/>
                                            <input id=reason_id.clone() name="reason" type="text" maxlength=500 required=true/>
                                        </div>
                                        <button type="submit" class="button button--danger">"End this access"</button>
                                    </ActionForm>
                                </li>
                            })}
                        }
                    }).collect_view()}
                </ul>
            }.into_any(),
        }/>
    }
}

/// The banner under the header: whose record is on screen (always, for someone who helps
/// others), or that access to the person has ended.
pub fn acting_banner(user: &CurrentUser) -> Option<AnyView> {
    if user.acting_lost {
        return Some(view! {
            <div id=ids::ACTING_BANNER class="acting-banner acting-banner--ended" role="alert">
                <p class="acting-banner__text">"Your access to this person's record has ended."</p>
                <A href="/people">"Choose"</A>
            </div>
        }.into_any());
    }
    match &user.acting {
        Some(c) => Some(view! {
            // One line on a phone (issue 15): the text is cut with an ellipsis on screen, read
            // whole by screen readers, and "Switch" always shows.
            <div id=ids::ACTING_BANNER class="acting-banner" role="status">
                <p class="acting-banner__text">"You are viewing the record of "<strong>{c.name.clone()}</strong>{format!(" ({}; {}).", c.kind.label().to_lowercase(), c.scope.describe())}</p>
                <A href="/people">"Switch"</A>
            </div>
        }.into_any()),
        None if user.helps_others => Some(view! {
            <div id=ids::ACTING_BANNER class="acting-banner acting-banner--self" role="status">
                <p class="acting-banner__text">"You are in your own account."</p>
                <A href="/people">"Switch to someone you help"</A>
            </div>
        }.into_any()),
        None => None,
    }
}
