//! The clinical record, mobile-first: a summary, one page per section (date-range filter and
//! pages, as plain GET forms and links, so it all works before hydration), a visit with everything
//! recorded in it, a note, and a trend chart (SVG) for any test with several results. The same
//! pages serve the patient (`/record/...`) and HIM staff (`/staff/patients/:pid/record/...`).
//! An account whose identity is not yet verified sees an explanation and nothing else.

use crate::api::record::{record_document, record_section, record_summary, record_trend, record_visit};
use crate::domain::{DocumentRow, ItemRow, Section, Trend, readable_when};
use crate::error::AppError;
use crate::ui::components::form::LoadError;
use crate::ui::ids;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::A;
use crate::ui::query::use_query_decoded;
use leptos_router::hooks::use_params_map;

/// The staff member's patient id from the address, or `None` on the patient's own pages.
fn patient_param() -> Memo<Option<String>> {
    let params = use_params_map();
    Memo::new(move |_| params.read().get("pid"))
}

/// Where this record's pages live.
fn base(pid: &Option<String>) -> String {
    match pid {
        Some(pid) => format!("/staff/patients/{pid}/record"),
        None => "/record".into(),
    }
}

/// The section links, as a scrollable row on a phone.
#[component]
fn RecordNav(#[prop(into)] base: String, current: Option<Section>) -> impl IntoView {
    view! {
        <nav class="record-nav" aria-label="Record sections">
            <ul>
                // Plain links (the router still handles them in place): `A` would also mark the
                // summary current on every section page (each address starts with the summary's),
                // and a screen reader would hear two. One link is current: the page's own section
                // (a trend counts as lab results), or the summary.
                <li><a href=base.clone() aria-current=current.is_none().then_some("page")>"Summary"</a></li>
                {Section::ALL.into_iter().map(|s| {
                    let href = format!("{base}/{}", s.slug());
                    view! { <li><a href=href aria-current=(current == Some(s)).then_some("page")>{s.title()}</a></li> }
                }).collect_view()}
            </ul>
        </nav>
    }
}

/// One entry: what it is, when, its value and flag, its codes with their systems.
#[component]
fn Item(item: ItemRow, #[prop(into)] base: String) -> impl IntoView {
    let link = match item.kind.as_str() {
        "encounter" => Some(format!("{base}/visits/{}", item.id)),
        _ => None,
    };
    let trend = item.trend_code.clone().map(|code| format!("{base}/trend/{}", crate::domain::percent(&code)));
    let title = match link {
        Some(href) => view! { <A href=href>{item.display.clone()}</A> }.into_any(),
        None => view! { <span>{item.display.clone()}</span> }.into_any(),
    };
    let when = match (&item.date, &item.end_date) {
        (Some(d), Some(e)) if e != d => Some(format!("{} – {}", readable_when(d), readable_when(e))),
        (Some(d), _) => Some(readable_when(d)),
        _ => None,
    };
    view! {
        <li class="item">
            <p class="item__title">{title}</p>
            {item.value.clone().map(|v| view! {
                <p class="item__value">
                    <strong>{v}</strong>
                    {item.flag.map(|f| view! { <span class=format!("badge badge--{}", f.label().to_lowercase())>{f.label()}</span> })}
                    {item.range.clone().map(|r| view! { <span class="muted">" (normal range " {r} ")"</span> })}
                </p>
            })}
            <p class="item__meta muted">
                {when.map(|w| view! { <span>{w}</span> })}
                {item.status.clone().map(|s| view! { <span>{s}</span> })}
            </p>
            {item.detail.clone().map(|d| view! { <p class="item__detail">{d}</p> })}
            {(!item.codes.is_empty()).then(|| view! {
                <p class="item__codes muted">
                    {item.codes.iter().map(|c| view! {
                        <span class="code">{format!("{} {}", c.system, c.code)}{c.display.clone().map(|d| format!(" · {d}"))}</span>
                    }).collect_view()}
                </p>
            })}
            {trend.map(|href| view! { <p><A href=href>"See the trend"</A></p> })}
        </li>
    }
}

#[component]
fn Items(items: Vec<ItemRow>, #[prop(into)] base: String, #[prop(into)] empty: String) -> impl IntoView {
    if items.is_empty() {
        return view! { <p class="muted">{empty}</p> }.into_any();
    }
    view! { <ul class="items">{items.into_iter().map(|i| view! { <Item item=i base=base.clone()/> }).collect_view()}</ul> }.into_any()
}

#[component]
fn Documents(documents: Vec<DocumentRow>, #[prop(into)] base: String, patient: Option<String>) -> impl IntoView {
    if documents.is_empty() {
        return view! { <p class="muted">"No documents or notes."</p> }.into_any();
    }
    view! {
        <ul class="items">
            {documents.into_iter().map(|d| {
                let href = if d.is_text {
                    format!("{base}/documents/{}", d.id)
                } else {
                    let who = patient.as_ref().map(|p| format!("?patient={p}")).unwrap_or_default();
                    format!("/record/documents/{}/download{who}", d.id)
                };
                let action = if d.is_text { "Read" } else { "Download" };
                view! {
                    <li class="item">
                        <p class="item__title"><a href=href rel="external">{d.title.clone()}</a></p>
                        <p class="item__meta muted">
                            {d.date.as_deref().map(|w| view! { <span>{readable_when(w)}</span> })}
                            <span>{format!("{action} · {} · {} KB", d.content_type.split(';').next().unwrap_or_default(), (d.size.max(0) as u64).div_ceil(1024))}</span>
                        </p>
                    </li>
                }
            }).collect_view()}
        </ul>
    }
    .into_any()
}

/// Shown when the page's data could not be had: the pending-verification note for one's own
/// record, otherwise the error.
fn record_error(error: AppError, own: bool) -> AnyView {
    match error {
        AppError::NotFound if own => view! {
            <p id=ids::RECORD_PENDING class="notice" role="status">
                "There is no record to show here. If your account is new, our records team "
                "verifies every new account before it can see health information; you will see "
                "your record here once they have. If you were helping someone, your access to "
                "their record may have ended: see People I help."
            </p>
        }
        .into_any(),
        other => view! { <LoadError error=other/> }.into_any(),
    }
}

#[component]
pub fn RecordPage() -> impl IntoView {
    let pid = patient_param();
    let summary = Resource::new(move || pid.get(), record_summary);
    view! {
        <Title text="Health record"/>
        <section class="page" aria-labelledby=ids::RECORD_HEADING>
            <h1 id=ids::RECORD_HEADING>{move || if pid.get().is_some() { "Patient record" } else { "My record" }}</h1>
            <Suspense fallback=|| view! { <p>"Loading…"</p> }>
                {move || Suspend::new(async move {
                    let pid = pid.get_untracked();
                    let base = base(&pid);
                    match summary.await {
                        Ok(s) => {
                            let p = s.patient;
                            let limited = s.limited;
                            view! {
                                {limited.then(|| view! {
                                    <p id=ids::RECORD_LIMITED class="notice" role="note">
                                        "You see the limited record: notes and sensitive information are not shown (the law keeps some of a teenager's care, and what the patient chose, private)."
                                    </p>
                                })}
                                <dl id=ids::RECORD_DEMOGRAPHICS class="facts">
                                    <dt>"Name"</dt><dd>{format!("{} {}", p.given_names, p.family_name)}</dd>
                                    <dt>"Date of birth"</dt><dd>{p.birth_date}</dd>
                                    <dt>"Sex"</dt><dd>{p.sex}</dd>
                                    <dt>"Record number"</dt><dd>{p.mrn}</dd>
                                    {p.deceased_date.map(|d| view! { <dt>"Date of death"</dt><dd>{d}</dd> })}
                                </dl>
                                {pid.is_none().then(|| view! {
                                    <p><a id=ids::RECORD_DOWNLOAD_LINK class="button" href="/record/download">"Download or send a copy"</a></p>
                                })}
                                <RecordNav base=base.clone() current=None/>
                                <div class="cards">
                                    <section class="card" aria-labelledby="sum-problems"><h2 id="sum-problems">"Active problems"</h2>
                                        <Items items=s.problems base=base.clone() empty="No active problems recorded."/></section>
                                    <section class="card" aria-labelledby="sum-meds"><h2 id="sum-meds">"Current medications"</h2>
                                        <Items items=s.medications base=base.clone() empty="No current medications recorded."/></section>
                                    <section class="card" aria-labelledby="sum-allergies"><h2 id="sum-allergies">"Allergies"</h2>
                                        <Items items=s.allergies base=base.clone() empty="No allergies recorded."/></section>
                                    <section class="card" aria-labelledby="sum-imm"><h2 id="sum-imm">"Recent immunizations"</h2>
                                        <Items items=s.immunizations base=base.clone() empty="No immunizations recorded."/></section>
                                    <section class="card" aria-labelledby="sum-vitals"><h2 id="sum-vitals">"Latest vital signs"</h2>
                                        <Items items=s.vitals base=base.clone() empty="No vital signs recorded."/></section>
                                    <section class="card" aria-labelledby="sum-labs"><h2 id="sum-labs">"Latest lab results"</h2>
                                        <Items items=s.labs base=base.clone() empty="No lab results recorded."/></section>
                                </div>
                            }.into_any()
                        }
                        Err(e) => record_error(e, pid.is_none()),
                    }
                })}
            </Suspense>
        </section>
    }
}

#[component]
pub fn SectionPage() -> impl IntoView {
    let pid = patient_param();
    let params = use_params_map();
    let query = use_query_decoded();
    let section = Memo::new(move |_| params.read().get("section").and_then(|s| Section::parse(&s)));
    let filter = Memo::new(move |_| {
        let q = query.read();
        (q.get("from").filter(|v| !v.is_empty()), q.get("to").filter(|v| !v.is_empty()), q.get("page").and_then(|p| p.parse::<u32>().ok()))
    });
    let page = Resource::new(
        move || (pid.get(), section.get(), filter.get()),
        |(pid, section, (from, to, page))| async move {
            let section = section.ok_or(AppError::NotFound)?;
            record_section(pid, section.slug().to_string(), from, to, page).await
        },
    );
    let title = move || section.get().map(|s| s.title()).unwrap_or("Not found");
    view! {
        <Title text=title/>
        <section class="page" aria-labelledby=ids::RECORD_HEADING>
            <h1 id=ids::RECORD_HEADING>{title}</h1>
            <RecordNav base=base(&pid.get_untracked()) current=section.get_untracked()/>
            <form method="get" class="filter" aria-label="Dates">
                <div class="field">
                    <label for=ids::RECORD_FROM>"From"</label>
                    <input id=ids::RECORD_FROM name="from" type="date" value=move || filter.get().0.unwrap_or_default()/>
                </div>
                <div class="field">
                    <label for=ids::RECORD_TO>"To"</label>
                    <input id=ids::RECORD_TO name="to" type="date" value=move || filter.get().1.unwrap_or_default()/>
                </div>
                <button type="submit" class="button button--secondary">"Show"</button>
            </form>
            <Suspense fallback=|| view! { <p>"Loading…"</p> }>
                {move || Suspend::new(async move {
                    let pid = pid.get_untracked();
                    let base = base(&pid);
                    match page.await {
                        Ok(p) => {
                            let (from, to, _) = filter.get_untracked();
                            let link = |n: u32| {
                                let mut q = vec![format!("page={n}")];
                                if let Some(f) = &from { q.push(format!("from={f}")); }
                                if let Some(t) = &to { q.push(format!("to={t}")); }
                                format!("{base}/{}?{}", p.section.slug(), q.join("&"))
                            };
                            let (prev, next) = ((p.page > 1).then(|| link(p.page - 1)), (p.page < p.pages).then(|| link(p.page + 1)));
                            let count = format!("{} in all · page {} of {}", p.total, p.page, p.pages);
                            let list = if p.section == Section::Documents {
                                view! { <Documents documents=p.documents base=base.clone() patient=pid.clone()/> }.into_any()
                            } else {
                                view! { <Items items=p.items base=base.clone() empty="Nothing recorded for these dates."/> }.into_any()
                            };
                            view! {
                                <p id=ids::RECORD_COUNT class="muted" role="status">{count}</p>
                                {list}
                                <nav class="pager" aria-label="Pages">
                                    {prev.map(|h| view! { <a href=h rel="prev">"Previous page"</a> })}
                                    {next.map(|h| view! { <a href=h rel="next">"Next page"</a> })}
                                </nav>
                            }.into_any()
                        }
                        Err(e) => record_error(e, pid.is_none()),
                    }
                })}
            </Suspense>
        </section>
    }
}

#[component]
pub fn VisitPage() -> impl IntoView {
    record_detail("Visit", "id", record_visit, |v, pid| {
        let base = base(&pid);
        let when = v.visit.date.as_deref().map(readable_when).unwrap_or_default();
        view! {
            <h1 id=ids::RECORD_HEADING>{v.visit.display.clone()}</h1>
            <p class="muted">{when}{v.visit.detail.clone().map(|d| format!(" · {d}"))}</p>
            <RecordNav base=base.clone() current=Some(Section::Visits)/>
            {v.sections.into_iter().map(|(section, items)| view! {
                <section class="card" aria-label=section.title()>
                    <h2>{section.title()}</h2>
                    <Items items=items base=base.clone() empty=""/>
                </section>
            }).collect_view()}
            {(!v.documents.is_empty()).then(|| view! {
                <section class="card" aria-labelledby="visit-notes"><h2 id="visit-notes">"Notes"</h2>
                    <Documents documents=v.documents base=base.clone() patient=pid.clone()/></section>
            })}
        }
        .into_any()
    })
}

#[component]
pub fn DocumentPage() -> impl IntoView {
    record_detail("Note", "id", record_document, |d, pid| {
        view! {
            <h1 id=ids::RECORD_HEADING>{d.row.title.clone()}</h1>
            <p class="muted">{d.row.date.as_deref().map(readable_when).unwrap_or_default()}</p>
            <RecordNav base=base(&pid) current=Some(Section::Documents)/>
            <div id=ids::RECORD_NOTE class="note">{d.text.unwrap_or_default()}</div>
        }
        .into_any()
    })
}

/// An SVG line chart of a trend, with the normal range as a band. Described for screen readers by
/// its label; the same values follow in a table.
fn chart(trend: &Trend) -> impl IntoView + use<> {
    const W: f64 = 320.0;
    const H: f64 = 160.0;
    const PAD: f64 = 24.0;
    let values: Vec<f64> = trend.points.iter().map(|p| p.value).collect();
    let mut lo = values.iter().copied().fold(f64::INFINITY, f64::min);
    let mut hi = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    if let Some(l) = trend.low {
        lo = lo.min(l);
    }
    if let Some(h) = trend.high {
        hi = hi.max(h);
    }
    if (hi - lo).abs() < f64::EPSILON {
        hi += 1.0;
        lo -= 1.0;
    }
    let (t0, t1) = (trend.points.first().map(|p| p.ms).unwrap_or(0), trend.points.last().map(|p| p.ms).unwrap_or(1));
    let span = (t1 - t0).max(1) as f64;
    let x = move |ms: i64| PAD + (ms - t0) as f64 / span * (W - 2.0 * PAD);
    let y = move |v: f64| H - PAD - (v - lo) / (hi - lo) * (H - 2.0 * PAD);
    let line: Vec<String> = trend.points.iter().map(|p| format!("{:.1},{:.1}", x(p.ms), y(p.value))).collect();
    let band = match (trend.low, trend.high) {
        (Some(l), Some(h)) => Some((y(h), y(l) - y(h))),
        _ => None,
    };
    let unit = trend.unit.clone().unwrap_or_default();
    let label = format!(
        "{}: {} results from {} to {}, lowest {} {unit}, highest {} {unit}",
        trend.title,
        trend.points.len(),
        trend.points.first().map(|p| readable_when(&p.date)).unwrap_or_default(),
        trend.points.last().map(|p| readable_when(&p.date)).unwrap_or_default(),
        crate::domain::format_value(values.iter().copied().fold(f64::INFINITY, f64::min)),
        crate::domain::format_value(values.iter().copied().fold(f64::NEG_INFINITY, f64::max)),
    );
    let dots: Vec<(f64, f64, bool)> = trend.points.iter().map(|p| (x(p.ms), y(p.value), p.flag.is_some())).collect();
    view! {
        <svg id=ids::RECORD_CHART class="chart" viewBox=format!("0 0 {W} {H}") role="img" aria-label=label>
            {band.map(|(top, height)| view! { <rect class="chart__band" x=PAD y=top width=W - 2.0 * PAD height=height/> })}
            <line class="chart__axis" x1=PAD y1=H - PAD x2=W - PAD y2=H - PAD/>
            <text class="chart__label" x=2 y=PAD>{crate::domain::format_value(hi)}</text>
            <text class="chart__label" x=2 y=H - PAD>{crate::domain::format_value(lo)}</text>
            <polyline class="chart__line" points=line.join(" ")/>
            {dots.into_iter().map(|(cx, cy, flagged)| view! {
                <circle class=if flagged { "chart__dot chart__dot--flag" } else { "chart__dot" } cx=cx cy=cy r=3/>
            }).collect_view()}
        </svg>
    }
}

#[component]
pub fn TrendPage() -> impl IntoView {
    record_detail("Trend", "code", record_trend, |t, pid| {
        let unit = t.unit.clone().unwrap_or_default();
        view! {
            <h1 id=ids::RECORD_HEADING>{t.title.clone()}</h1>
            <p class="muted">{format!("{} {}{}", t.code.system, t.code.code, t.code.display.clone().map(|d| format!(" · {d}")).unwrap_or_default())}</p>
            <RecordNav base=base(&pid) current=Some(Section::Labs)/>
            {chart(&t)}
            <table class="table">
                <caption>"Every result, oldest first"</caption>
                <thead><tr><th scope="col">"Date"</th><th scope="col">{format!("Value ({unit})")}</th><th scope="col">"Flag"</th></tr></thead>
                <tbody>
                    {t.points.iter().map(|p| view! {
                        <tr><td>{readable_when(&p.date)}</td><td>{crate::domain::format_value(p.value)}</td><td>{p.flag.map(|f| f.label()).unwrap_or("")}</td></tr>
                    }).collect_view()}
                </tbody>
            </table>
        }
        .into_any()
    })
}

/// The skeleton of a record page that shows one thing named in its address (a visit, a note, a
/// trend): the title, the loading state, and a load error under a plain heading. `body` draws
/// what loaded, given the patient a caregiver is looking at (`None`: one's own record).
fn record_detail<T, Fut>(title: &'static str, key: &'static str, load: fn(Option<String>, String) -> Fut, body: fn(T, Option<String>) -> AnyView) -> impl IntoView
where
    T: Clone + Send + Sync + serde::Serialize + serde::de::DeserializeOwned + 'static,
    Fut: std::future::Future<Output = Result<T, AppError>> + Send + 'static,
{
    let pid = patient_param();
    let params = use_params_map();
    let id = Memo::new(move |_| params.read().get(key).unwrap_or_default());
    let data = Resource::new(move || (pid.get(), id.get()), move |(pid, id)| load(pid, id));
    view! {
        <Title text=title/>
        <section class="page" aria-labelledby=ids::RECORD_HEADING>
            <Suspense fallback=|| view! { <p>"Loading…"</p> }>
                {move || Suspend::new(async move {
                    let pid = pid.get_untracked();
                    match data.await {
                        Ok(value) => body(value, pid),
                        Err(e) => view! { <h1 id=ids::RECORD_HEADING>{title}</h1>{record_error(e, false)}}.into_any(),
                    }
                })}
            </Suspense>
        </section>
    }
}
