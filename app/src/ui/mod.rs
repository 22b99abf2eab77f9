//! The user interface: the HTML shell, the application with its routes, pages and components.
//! Rendered on the server (works before and without JavaScript), then hydrated in the browser.

pub mod components;
pub mod ids;
pub mod pages;

use components::layout::{SiteFooter, SiteHeader, SkipLink};
use leptos::prelude::*;
use leptos_meta::{MetaTags, Stylesheet, Title, provide_meta_context};
use leptos_router::components::{Route, Router, Routes};
use leptos_router::path;
use pages::account::AccountPage;
use pages::audit_report::AuditReportPage;
use pages::mfa::{RecoveryCodesPage, SetupPage, VerifyPage};
use pages::record::RecordPage;
use pages::sign_in::SignInPage;
use pages::staff_patients::{PatientPage, PatientsPage};
use pages::{error::ErrorPage, home::HomePage, not_found::NotFound};

/// The HTML document around the application, rendered on the server only.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8"/>
                <meta name="viewport" content="width=device-width, initial-scale=1"/>
                <meta name="color-scheme" content="light"/>
                <link rel="icon" href="/favicon.svg" type="image/svg+xml"/>
                <AutoReload options=options.clone()/>
                <HydrationScripts options/>
                <MetaTags/>
            </head>
            <body>
                <App/>
            </body>
        </html>
    }
}

/// The application: header, navigation, the routed page and the footer.
#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();

    // Effects run only in the browser, once hydration has attached the event handlers; browser
    // tests wait for this marker before they expect anything to react.
    Effect::new(move |_| {
        if let Some(body) = document().body() {
            let _ = body.set_attribute("data-hydrated", "true");
        }
    });

    view! {
        <Stylesheet id="leptos" href="/pkg/portal.css"/>
        <Title formatter=|title: String| {
            if title.is_empty() { "Patient portal".to_string() } else { format!("{title} · Patient portal") }
        }/>
        <Router>
            <SkipLink/>
            <SiteHeader/>
            <main id=ids::MAIN class="site-main" tabindex="-1">
                <ErrorBoundary fallback=|errors| view! { <ErrorPage errors/> }>
                    <Routes fallback=|| view! { <NotFound/> }>
                        <Route path=path!("") view=HomePage/>
                        <Route path=path!("/sign-in") view=SignInPage/>
                        <Route path=path!("/sign-in/verify") view=VerifyPage/>
                        <Route path=path!("/sign-in/setup") view=SetupPage/>
                        <Route path=path!("/account") view=AccountPage/>
                        <Route path=path!("/account/mfa") view=SetupPage/>
                        <Route path=path!("/account/recovery-codes") view=RecoveryCodesPage/>
                        <Route path=path!("/record") view=RecordPage/>
                        <Route path=path!("/staff/patients") view=PatientsPage/>
                        <Route path=path!("/admin/audit") view=AuditReportPage/>
                        <Route path=path!("/staff/patients/:id") view=PatientPage/>
                    </Routes>
                </ErrorBoundary>
            </main>
            <SiteFooter/>
        </Router>
    }
}
