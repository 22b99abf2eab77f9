//! The audit report (administrators): filter by period, user, patient and action; sort by any
//! column (the headings are links, `aria-sort` says which); download the same report as CSV.
//! A GET form, so a report is a bookmarkable address and works without JavaScript.

use crate::api::audit::audit_report;
use crate::domain::AuditAction;
use crate::domain::{AuditReportForm, AuditSort};
use crate::ui::ids;
use crate::ui::components::loaded::Loaded;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::Form;
use crate::ui::query::use_query_decoded;

fn query_string(form: &AuditReportForm) -> String {
    let enc = crate::domain::percent;
    format!(
        "from={}&to={}&user={}&patient={}&action={}&sort={}&dir={}",
        enc(&form.from),
        enc(&form.to),
        enc(&form.user),
        enc(&form.patient),
        enc(&form.action),
        enc(&form.sort),
        enc(&form.dir)
    )
}

#[component]
pub fn AuditReportPage() -> impl IntoView {
    let query = use_query_decoded();
    let form = Memo::new(move |_| {
        let q = query.read();
        let get = |k: &str| q.get(k).unwrap_or_default();
        AuditReportForm {
            from: get("from"),
            to: get("to"),
            user: get("user"),
            patient: get("patient"),
            action: get("action"),
            sort: get("sort"),
            dir: get("dir"),
        }
    });
    let rows = Resource::new(move || form.get(), audit_report);
    let current_sort = move || AuditSort::parse(&form.get().sort).unwrap_or(AuditSort::Time);
    let descending = move || form.get().dir != "asc";

    let heading = move |sort: AuditSort, label: &'static str| {
        let aria = move || {
            if current_sort() == sort {
                if descending() { "descending" } else { "ascending" }
            } else {
                "none"
            }
        };
        let href = move || {
            let mut f = form.get();
            let flip = current_sort() == sort && descending();
            f.sort = sort.as_str().to_string();
            f.dir = if flip { "asc".into() } else { "desc".into() };
            format!("/admin/audit?{}", query_string(&f))
        };
        view! { <th scope="col" aria-sort=aria><a href=href>{label}</a></th> }
    };

    view! {
        <Title text="Audit report"/>
        <section class="page" aria-labelledby=ids::AUDIT_HEADING>
            <h1 id=ids::AUDIT_HEADING>"Audit report"</h1>
            <p class="muted">"Every sign-in, time-out, role change and every read or change of patient data. Times are the hospital's local time."</p>
            <Form method="GET" action="" attr:class="form form--inline" attr:aria-label="Filter the audit report">
                <div class="field">
                    <label for="audit-from">"From"</label>
                    <input id="audit-from" name="from" type="date" prop:value=move || form.get().from/>
                </div>
                <div class="field">
                    <label for="audit-to">"To (included)"</label>
                    <input id="audit-to" name="to" type="date" prop:value=move || form.get().to/>
                </div>
                <div class="field">
                    <label for=ids::AUDIT_USER>"User's email"</label>
                    <input id=ids::AUDIT_USER name="user" type="email" maxlength="254" prop:value=move || form.get().user/>
                </div>
                <div class="field">
                    <label for=ids::AUDIT_PATIENT>"Patient record number"</label>
                    <input id=ids::AUDIT_PATIENT name="patient" type="text" maxlength="32" prop:value=move || form.get().patient/>
                </div>
                <div class="field">
                    <label for=ids::AUDIT_ACTION>"Action"</label>
                    <select id=ids::AUDIT_ACTION name="action" prop:value=move || form.get().action>
                        <option value="">"Any action"</option>
                        {AuditAction::ALL.iter().map(|a| view! { <option value=a.as_str()>{a.as_str().replace('_', " ")}</option> }).collect_view()}
                    </select>
                </div>
                <input type="hidden" name="sort" prop:value=move || form.get().sort/>
                <input type="hidden" name="dir" prop:value=move || form.get().dir/>
                <button type="submit" id=ids::AUDIT_SUBMIT class="button">"Show"</button>
            </Form>
            <p>
                <a id=ids::AUDIT_CSV rel="external" download="audit-report.csv"
                    href=move || format!("/admin/audit.csv?{}", query_string(&form.get()))>
                    "Download this report as CSV"
                </a>
            </p>
            <Loaded resource=rows view=move |value| match value {
                list if list.is_empty() => view! { <p id=ids::AUDIT_TABLE role="status">"No events match."</p> }.into_any(),
                list => view! {
                    <p role="status">{format!("{} event(s), newest first unless sorted otherwise (at most 500 here; the CSV has up to 100,000).", list.len())}</p>
                    <div class="table-scroll" tabindex="0" role="region" aria-label="Audit events">
                        <table id=ids::AUDIT_TABLE class="table">
                            <thead>
                                <tr>
                                    {heading(AuditSort::Time, "Time")}
                                    {heading(AuditSort::User, "User")}
                                    {heading(AuditSort::Patient, "Patient")}
                                    {heading(AuditSort::Action, "Action")}
                                    {heading(AuditSort::Outcome, "Outcome")}
                                    <th scope="col">"Details"</th>
                                </tr>
                            </thead>
                            <tbody>
                                {list.into_iter().map(|r| view! {
                                    <tr>
                                        <td>{r.time}</td>
                                        <td>{r.user.unwrap_or_else(|| "—".into())}{r.on_behalf_of.map(|o| format!(" for {o}"))}</td>
                                        <td>{r.patient.unwrap_or_else(|| "—".into())}</td>
                                        <td>{r.action.replace('_', " ")}</td>
                                        <td>{r.outcome}</td>
                                        <td class="muted">
                                            {[r.entity, r.detail, r.client_address].into_iter().flatten().collect::<Vec<_>>().join(" · ")}
                                        </td>
                                    </tr>
                                }).collect_view()}
                            </tbody>
                        </table>
                    </div>
                }.into_any(),
            }/>
        </section>
    }
}
