//! The page for an unknown address. Answers HTTP 404 when rendered on the server.

use crate::ui::ids;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::A;

#[component]
pub fn NotFound() -> impl IntoView {
    #[cfg(feature = "ssr")]
    if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
        response.set_status(http::StatusCode::NOT_FOUND);
    }

    view! {
        <Title text="Page not found"/>
        <section class="page" aria-labelledby=ids::NOT_FOUND_HEADING>
            <h1 id=ids::NOT_FOUND_HEADING>"Page not found"</h1>
            <p>"We could not find that page. The address may be mistyped, or the page may have moved."</p>
            <p><A href="/">"Go to the home page"</A></p>
        </section>
    }
}
