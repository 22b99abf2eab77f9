//! The frame around every page: skip link, header with navigation, footer.

use crate::ui::ids;
use leptos::prelude::*;
use leptos_router::components::A;

/// First focusable element: lets keyboard and screen-reader users jump past the navigation.
#[component]
pub fn SkipLink() -> impl IntoView {
    // rel="external": the client-side router must leave this link to the browser, whose fragment
    // navigation moves focus to <main tabindex="-1"> (WCAG 2.4.1 bypass blocks).
    view! { <a class="skip-link" rel="external" href=format!("#{}", ids::MAIN)>"Skip to main content"</a> }
}

#[component]
pub fn SiteHeader() -> impl IntoView {
    view! {
        <header id=ids::SITE_HEADER class="site-header">
            <div class="site-header__inner">
                <A href="/" attr:class="brand">
                    <span class="brand__mark" aria-hidden="true">"+"</span>
                    <span class="brand__name">"Patient portal"</span>
                </A>
                <nav id=ids::SITE_NAV class="site-nav" aria-label="Main">
                    <ul>
                        <li><A href="/">"Home"</A></li>
                    </ul>
                </nav>
            </div>
        </header>
    }
}

#[component]
pub fn SiteFooter() -> impl IntoView {
    view! {
        <footer id=ids::SITE_FOOTER class="site-footer">
            <p>
                "This portal shows protected health information. Access is logged. "
                "Do not share your sign-in with anyone."
            </p>
            <p class="site-footer__small">"Open-source patient-access portal"</p>
        </footer>
    }
}
