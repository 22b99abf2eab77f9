//! Patient activation pages: the printable letter HIM staff hand or post to a patient (shown once,
//! straight after the code is issued), and the registration form where the patient uses it.

use crate::api::activation::{ActivateAccount, LinkPreview, SelfRegister, VerifyIdentity, pending_verifications, take_activation_letter};
use crate::ui::components::form::{Field, FormError, LoadError, field_error};
use crate::ui::components::oidc::{OidcOutcome, providers_resource};
use crate::ui::ids;
use crate::ui::components::loaded::Loaded;
use leptos::prelude::*;
use leptos_meta::Title;

#[component]
pub fn ActivationLetterPage() -> impl IntoView {
    let params = leptos_router::hooks::use_params_map();
    let patient = Memo::new(move |_| params.read().get("id"));
    let letter = Resource::new(move || patient.get(), take_activation_letter);
    view! {
        <Title text="Activation letter"/>
        <section class="page" aria-labelledby=ids::LETTER_HEADING>
            <Suspense fallback=|| view! { <p>"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match letter.await {
                        Ok(Some(l)) => view! {
                            <article id=ids::ACTIVATION_LETTER class="letter">
                                <h1 id=ids::LETTER_HEADING>"Your patient portal activation code"</h1>
                                <p>"Dear " {l.patient_name.clone()} ","</p>
                                <p>
                                    "You can now see your health record online. To create your account, go to the "
                                    "patient portal, choose “Create your account”, and enter this code with your date of birth:"
                                </p>
                                <p class="letter__code"><code id=ids::ACTIVATION_CODE>{l.code.clone()}</code></p>
                                <p>"The code works once and expires on " <strong>{l.expires_on.clone()}</strong> "."</p>
                                <p class="muted">"Record number " {l.mrn.clone()} ". If you did not ask for this letter, please call the records department."</p>
                            </article>
                            <p class="no-print muted">
                                "Print this page or read the code to the patient now: it is shown only once. "
                                "Issuing another code stops this one from working."
                            </p>
                            <p class="no-print"><a href=format!("/staff/patients/{}", l.patient_id)>"Back to the patient"</a></p>
                        }.into_any(),
                        Ok(None) => view! {
                            <h1 id=ids::LETTER_HEADING>"Activation letter"</h1>
                            <p>"This letter was already shown. Issue a new code from the patient's page if it was lost."</p>
                        }.into_any(),
                        Err(e) => view! { <h1 id=ids::LETTER_HEADING>"Activation letter"</h1><LoadError error=e/> }.into_any(),
                    }
                })}
            </Suspense>
        </section>
    }
}

#[component]
pub fn RegisterPage() -> impl IntoView {
    let query = crate::ui::query::use_query_decoded();
    let next = move || query.read().get("next").unwrap_or_default();
    // Someone who opened a caregiver's invitation and has no account yet: only the form they
    // need, with the address the invitation went to (issue 15: no activation code, no wait).
    let invitation = move || next().strip_prefix("/caregivers/accept?token=").map(str::to_string);
    view! {
        <Title text="Create your account"/>
        <section class="page page--narrow" aria-labelledby=ids::REGISTER_HEADING>
            <h1 id=ids::REGISTER_HEADING>"Create your account"</h1>
            <OidcOutcome/>
            {move || query.read().get("sent").is_some().then(|| view! {
                <p id=ids::REGISTER_SENT class="notice" role="status">
                    "Check your email: we sent a link to the address you gave. Open it within 24 hours to "
                    "finish creating your account. Check your spam folder if it does not arrive."
                </p>
            })}
            {move || match invitation() {
                Some(token) => view! { <InvitedRegistration token next=next()/> }.into_any(),
                None => view! { <ActivationForm/> <NoLetterRegistration next=next()/> }.into_any(),
            }}
            <p>"Already have an account? " <a href="/sign-in">"Sign in"</a></p>
        </section>
    }
}

/// Registration with the activation code from the letter HIM staff gave the patient; the
/// sign-in providers' buttons (read on the server) go inside the form.
#[component]
fn ActivationForm() -> impl IntoView {
    let providers = providers_resource();
    view! {
        <p>"Use the activation code from the letter our records team gave you."</p>
        <ActivationFields>
            <Suspense fallback=|| ()>
                {move || Suspend::new(async move {
                    let list: Vec<_> = providers.await.into_iter().filter(|p| p.for_patients).collect();
                    (!list.is_empty()).then(|| view! {
                        <div id=ids::ACTIVATION_OIDC class="oidc-providers">
                            <p class="divider"><span>"or, instead of a password"</span></p>
                            {list.into_iter().map(|p| view! {
                                <button type="submit" name="oidc_provider" value=p.id.clone()
                                    class="button button--secondary button--wide">
                                    {format!("Continue with {}", p.label)}
                                </button>
                            }).collect_view()}
                        </div>
                    })
                })}
            </Suspense>
        </ActivationFields>
    }
}

/// The activation form itself. An island: a wrong code or birth date is answered in place and
/// what was typed stays; success is the server's redirect to the new account's first page.
#[island]
fn ActivationFields(children: Children) -> impl IntoView {
    let action = ServerAction::<ActivateAccount>::new();
    let result = Signal::derive(move || action.value().get());
    let err = move |field: &'static str| Signal::derive(move || field_error(result.get(), field));
    view! {
        <ActionForm action attr:class="form" attr:novalidate="true">
            <Field label="Activation code" name="code" id=ids::REGISTER_CODE required=true maxlength=20
                autocomplete="off" hint="Twelve letters and digits, like ABCD-EFGH-JKMN." error=err("code")/>
            <Field label="Your date of birth" name="birth_date" id=ids::REGISTER_BIRTH kind="date" required=true
                autocomplete="bday" error=err("birth_date")/>
            <Field label="Your name" name="name" id=ids::REGISTER_NAME required=true maxlength=100
                autocomplete="name" error=err("name")/>
            <Field label="Email address" name="email" id=ids::REGISTER_EMAIL kind="email" required=true maxlength=254
                autocomplete="email" hint="You will sign in with it." error=err("email")/>
            <Field label="Choose a password" name="password" id=ids::REGISTER_PASSWORD kind="password" required=true
                autocomplete="new-password" hint="At least 12 characters. A few unrelated words make a strong password."
                error=err("password")/>
            <FormError result id=ids::REGISTER_ERROR/>
            <button type="submit" id=ids::REGISTER_SUBMIT class="button">"Create my account"</button>
            {children()}
        </ActionForm>
    }
}

/// Registration without a letter: the account waits for HIM staff to verify the person.
#[component]
fn NoLetterRegistration(next: String) -> impl IntoView {
    view! {
        <h2 id="no-letter-title">"No letter?"</h2>
        <p>
            "You can still create an account. It will not show any health information until our "
            "records team has checked who you are, usually within two working days; they may call you."
        </p>
        <SelfRegistrationForm next email=None submit="Create an account to be verified".to_string() labelled_by="no-letter-title".to_string()/>
    }
}

/// Registration for someone a patient invited to help: their own account, then straight back
/// to the invitation, which gives the access; the caregiver waits for nothing.
#[component]
fn InvitedRegistration(token: String, next: String) -> impl IntoView {
    let address = Resource::new(move || token.clone(), crate::api::caregivers::invited_address);
    view! {
        <p id=ids::REGISTER_INVITED>
            "Create your own account to accept the invitation. Use the address the invitation was sent to; "
            "you will go straight back to the invitation."
        </p>
        <Suspense fallback=|| view! { <p>"Loading…"</p> }>
            {move || {
                let next = next.clone();
                Suspend::new(async move {
                    let email = address.await.ok().flatten();
                    view! { <SelfRegistrationForm next email submit="Create my account and continue".to_string() labelled_by=ids::REGISTER_HEADING.to_string()/> }
                })
            }}
        </Suspense>
    }
}

/// The form that creates an account without an activation code. An island, so an error is
/// answered in place and what was typed stays.
#[island]
fn SelfRegistrationForm(next: String, email: Option<String>, submit: String, labelled_by: String) -> impl IntoView {
    let register = ServerAction::<SelfRegister>::new();
    let self_result = Signal::derive(move || register.value().get());
    let self_err = move |field: &'static str| Signal::derive(move || field_error(self_result.get(), field));
    view! {
        <ActionForm action=register attr:class="form" attr:novalidate="true" attr:aria-labelledby=labelled_by>
            <input type="hidden" name="next" value=next/>
            <Field label="Your full name" name="name" id=ids::SELF_NAME required=true maxlength=100
                autocomplete="name" error=self_err("name")/>
            <Field label="Date of birth" name="birth_date" id=ids::SELF_BIRTH kind="date" required=true
                autocomplete="bday" error=self_err("birth_date")/>
            <Field label="Phone (optional)" name="phone" id="self-phone" kind="tel" maxlength=32
                autocomplete="tel" error=self_err("phone")/>
            <Field label="Email" name="email" id=ids::SELF_EMAIL kind="email" required=true maxlength=254
                autocomplete="email" value=email.unwrap_or_default() error=self_err("email")/>
            <Field label="Password" name="password" id=ids::SELF_PASSWORD kind="password" required=true
                autocomplete="new-password" hint="At least 12 characters." error=self_err("password")/>
            <FormError result=self_result id=ids::SELF_ERROR/>
            <button type="submit" id=ids::SELF_SUBMIT class="button button--secondary">{submit}</button>
        </ActionForm>
    }
}

#[component]
pub fn VerificationsPage() -> impl IntoView {
    let verify = ServerAction::<VerifyIdentity>::new();
    let compare = ServerAction::<LinkPreview>::new();
    let compare_result = Signal::derive(move || compare.value().get());
    let pending = Resource::new(move || verify.version().get(), |_| pending_verifications());
    let result = Signal::derive(move || verify.value().get());
    view! {
        <Title text="Identity verification"/>
        <section class="page" aria-labelledby=ids::VERIFY_HEADING>
            <h1 id=ids::VERIFY_HEADING>"Accounts waiting for identity verification"</h1>
            <p class="muted">
                "Check who the person is (for example by calling them at a number in their record), "
                "then link their account to their record. Until then their account shows no health information."
            </p>
            <FormError result id=ids::VERIFY_ERROR/>
            <FormError result=compare_result id="compare-error"/>
            {move || crate::ui::components::form::field_error(result.get(), "mrn").map(|m| view! {
                <p class="form-error" role="alert">{m}</p>
            })}
            <Loaded resource=pending view=move |value| match value {
                list if list.is_empty() => view! { <p id=ids::VERIFY_LIST role="status">"Nobody is waiting."</p> }.into_any(),
                list => view! {
                    <ul id=ids::VERIFY_LIST class="session-list">
                        {list.into_iter().map(|p| {
                            let input_id = format!("verify-mrn-{}", p.user_id);
                            let (form_user, comparison_user) = (p.user_id.clone(), p.user_id.clone());
                            view! {
                                <li class="session-list__item">
                                    <p><strong>{p.full_name}</strong>" · born "{p.birth_date}</p>
                                    <p class="muted">{p.email}{p.phone.map(|ph| format!(" · {ph}"))}" · registered "{p.registered}</p>
                                    <ActionForm action=compare attr:class="form form--inline">
                                        <input type="hidden" name="user_id" value=form_user/>
                                        <div class="field">
                                            <label for=input_id.clone()>"Medical record number"</label>
                                            <input id=input_id name="mrn" type="text" maxlength="32" required=true/>
                                        </div>
                                        <button type="submit" class="button button--secondary">"Compare with the record"</button>
                                    </ActionForm>
                                    <LinkComparison user_id=comparison_user compare verify/>
                                </li>
                            }
                        }).collect_view()}
                    </ul>
                }.into_any(),
            }/>
        </section>
    }
}

/// The account beside the record, once compared (45 CFR 164.514(h)), and the link form: a
/// differing family name or birth date needs a written reason.
#[component]
fn LinkComparison(user_id: String, compare: ServerAction<LinkPreview>, verify: ServerAction<VerifyIdentity>) -> impl IntoView {
    let result = Signal::derive(move || verify.value().get());
    move || {
        let preview = compare.value().get().and_then(Result::ok).filter(|p| p.user_id == user_id)?;
        let differs = !preview.differs.is_empty();
        let mark = |field: &str| if preview.differs.iter().any(|d| d == field) { " (differs)" } else { "" };
        let reason_id = format!("verify-reason-{}", preview.user_id);
        let reason_for = reason_id.clone();
        Some(view! {
            <div class="table-scroll" role="region" aria-label="The account and the record" tabindex="0">
            <table id=ids::VERIFY_COMPARE class="table">
                <thead><tr><th scope="col">"Fact"</th><th scope="col">"The account"</th><th scope="col">"The record"</th></tr></thead>
                <tbody>
                    <tr><th scope="row">{format!("Name{}", mark("family_name"))}</th><td>{preview.account.name.clone()}</td><td>{preview.record.name.clone()}</td></tr>
                    <tr><th scope="row">{format!("Date of birth{}", mark("birth_date"))}</th><td>{preview.account.birth_date.clone()}</td><td>{preview.record.birth_date.clone()}</td></tr>
                    <tr><th scope="row">"Contact"</th><td>{preview.account.contact.clone()}</td><td>{preview.record.contact.clone()}</td></tr>
                </tbody>
            </table>
            </div>
            <ActionForm action=verify attr:class="form">
                <input type="hidden" name="user_id" value=preview.user_id.clone()/>
                <input type="hidden" name="mrn" value=preview.mrn.clone()/>
                <div class="field">
                    <label for=reason_for>{if differs { "Why they are the same person (required: the facts differ)" } else { "Note (optional)" }}</label>
                    <crate::ui::components::form::FieldMessage result field="reason"/>
                    <textarea id=reason_id name="reason" rows="2" maxlength="500" required=differs></textarea>
                </div>
                <button type="submit" class="button">"Verified: link to this record"</button>
            </ActionForm>
        }.into_any())
    }
}
