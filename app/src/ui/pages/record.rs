//! The patient's own record (demographics for now; the clinical-records feature fills it in).
//! An account whose identity is not yet verified sees an explanation and nothing else.

use crate::api::patients::my_record;
use crate::ui::components::form::LoadError;
use crate::ui::ids;
use leptos::prelude::*;
use leptos_meta::Title;

#[component]
pub fn RecordPage() -> impl IntoView {
    let record = Resource::new(|| (), |_| my_record());
    view! {
        <Title text="My record"/>
        <section class="page" aria-labelledby=ids::RECORD_HEADING>
            <h1 id=ids::RECORD_HEADING>"My record"</h1>
            <Suspense fallback=|| view! { <p>"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match record.await {
                        Ok(Some(p)) => view! {
                            <dl id=ids::RECORD_DEMOGRAPHICS class="facts">
                                <dt>"Name"</dt><dd>{format!("{} {}", p.given_names, p.family_name)}</dd>
                                <dt>"Date of birth"</dt><dd>{p.birth_date}</dd>
                                <dt>"Record number"</dt><dd>{p.mrn}</dd>
                            </dl>
                        }.into_any(),
                        Ok(None) => view! {
                            <p id=ids::RECORD_PENDING class="notice" role="status">
                                "Your account is not linked to a health record yet. Our records team verifies "
                                "every new account before it can see health information; you will be able to "
                                "see your record here once they have."
                            </p>
                        }.into_any(),
                        Err(e) => view! { <LoadError error=e/> }.into_any(),
                    }
                })}
            </Suspense>
        </section>
    }
}
