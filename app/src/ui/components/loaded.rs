//! `Loaded`: the skeleton every data page repeats. While a resource loads it says so (the
//! server sends the finished HTML, so a page without JavaScript never sees this); once loaded it
//! shows the page's own view of the value, or the one explanation of why the data could not be
//! had ([`LoadError`]: sign in, not found, or a reference to quote).

use super::form::LoadError;
use crate::error::AppError;
use leptos::prelude::*;

/// Shows `view(value)` once `resource` has loaded, "Loading…" until then, and [`LoadError`]
/// when it failed.
#[component]
pub fn Loaded<T, Ser, F, V>(resource: Resource<Result<T, AppError>, Ser>, view: F) -> impl IntoView
where
    T: Clone + Send + Sync + 'static,
    Ser: Send + Sync + 'static,
    F: Fn(T) -> V + Clone + Send + Sync + 'static,
    V: IntoView + 'static,
{
    view! {
        <Suspense fallback=|| view! { <p>"Loading…"</p> }>
            {move || {
                let view = view.clone();
                Suspend::new(async move {
                    match resource.await {
                        Ok(value) => view(value).into_any(),
                        Err(e) => view! { <LoadError error=e/> }.into_any(),
                    }
                })
            }}
        </Suspense>
    }
}
