//! The page shown when rendering a page fails. It never shows the cause (which may name tables,
//! files or data); only a reference id that support staff can look up in the server log.

use crate::error::AppError;
use crate::ui::ids;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::A;

#[component]
pub fn ErrorPage(errors: ArcRwSignal<Errors>) -> impl IntoView {
    let app_errors = move || {
        errors
            .get()
            .into_iter()
            .filter_map(|(_, error)| error.downcast_ref::<AppError>().cloned())
            .collect::<Vec<_>>()
    };

    #[cfg(feature = "ssr")]
    {
        let status = app_errors().first().map(AppError::status_code).unwrap_or(500);
        if let (Some(response), Ok(code)) = (
            use_context::<leptos_axum::ResponseOptions>(),
            http::StatusCode::from_u16(status),
        ) {
            response.set_status(code);
        }
    }

    view! {
        <Title text="Something went wrong"/>
        <section class="page" aria-labelledby=ids::ERROR_HEADING>
            <h1 id=ids::ERROR_HEADING>"Something went wrong"</h1>
            <div role="alert">
                {move || {
                    let shown = app_errors();
                    if shown.is_empty() {
                        view! { <p>"This page could not be shown. Please try again in a moment."</p> }.into_any()
                    } else {
                        shown.into_iter().map(|e| view! { <p>{e.to_string()}</p> }).collect_view().into_any()
                    }
                }}
            </div>
            <p><A href="/">"Go to the home page"</A></p>
        </section>
    }
}
