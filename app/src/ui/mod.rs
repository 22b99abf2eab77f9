//! The user interface: the HTML shell, the application with its routes, pages and components.
//!
//! Islands architecture (issue 15): every page is rendered on the server only, and works as plain
//! HTML (links are page loads, forms post to their server function, which redirects back with
//! the result or the error). Only the few parts that must react in the browser are `#[island]`s
//! and ship as WebAssembly: the idle time-out warning, the menu toggle, the privacy reminder's
//! dismissal and the hydration marker. A phone then loads a small module, cached for good, once.

pub mod components;
pub mod ids;
pub mod pages;
pub mod query;

use components::layout::{HydrationMarker, SiteFooter, SiteHeader, SkipLink};
use leptos::prelude::*;
use leptos_meta::{HashedStylesheet, MetaTags, Title, provide_meta_context};
use leptos_router::components::{Route, Router, Routes};
use leptos_router::{SsrMode, path};
use pages::account::AccountPage;
use pages::activation::{ActivationLetterPage, RegisterPage, VerificationsPage};
use pages::audit_report::AuditReportPage;
use pages::import::{DuplicatesPage, ImportPage};
use pages::mfa::{RecoveryCodesPage, SetupPage, VerifyPage};
use pages::record::{DocumentPage, RecordPage, SectionPage, TrendPage, VisitPage};
use pages::requests::{RequestPage, RequestQueuePage, RequestsPage, ReviewQueuePage, StaffRequestPage};
use pages::reset::{ForgotPasswordPage, ResetPasswordPage, VerifyEmailPage};
use pages::sign_in::SignInPage;
use pages::users::UsersPage;
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
                <HashedStylesheet options=options.clone() id="leptos"/>
                <HydrationScripts options islands=true/>
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

    // Every route renders in `Async` mode: the server waits for the page's data and sends complete
    // HTML, so pages (and their forms' errors) work before hydration and without JavaScript.
    view! {
        <Title formatter=|title: String| {
            if title.is_empty() { "Patient portal".to_string() } else { format!("{title} · Patient portal") }
        }/>
        <Router>
            <SkipLink/>
            <SiteHeader/>
            <main id=ids::MAIN class="site-main" tabindex="-1">
                <ErrorBoundary fallback=|errors| view! { <ErrorPage errors/> }>
                    <Routes fallback=|| view! { <NotFound/> }>
                        <Route path=path!("") view=HomePage ssr=SsrMode::Async/>
                        <Route path=path!("/sign-in") view=SignInPage ssr=SsrMode::Async/>
                        <Route path=path!("/sign-in/verify") view=VerifyPage ssr=SsrMode::Async/>
                        <Route path=path!("/sign-in/setup") view=SetupPage ssr=SsrMode::Async/>
                        <Route path=path!("/account") view=AccountPage ssr=SsrMode::Async/>
                        <Route path=path!("/account/mfa") view=SetupPage ssr=SsrMode::Async/>
                        <Route path=path!("/account/recovery-codes") view=RecoveryCodesPage ssr=SsrMode::Async/>
                        <Route path=path!("/record") view=RecordPage ssr=SsrMode::Async/>
                        <Route path=path!("/record/download") view=pages::download::DownloadPage ssr=SsrMode::Async/>
                        <Route path=path!("/record/:section") view=SectionPage ssr=SsrMode::Async/>
                        <Route path=path!("/record/visits/:id") view=VisitPage ssr=SsrMode::Async/>
                        <Route path=path!("/record/documents/:id") view=DocumentPage ssr=SsrMode::Async/>
                        <Route path=path!("/record/trend/:code") view=TrendPage ssr=SsrMode::Async/>
                        <Route path=path!("/staff/patients/:pid/record") view=RecordPage ssr=SsrMode::Async/>
                        <Route path=path!("/staff/patients/:pid/record/:section") view=SectionPage ssr=SsrMode::Async/>
                        <Route path=path!("/staff/patients/:pid/record/visits/:id") view=VisitPage ssr=SsrMode::Async/>
                        <Route path=path!("/staff/patients/:pid/record/documents/:id") view=DocumentPage ssr=SsrMode::Async/>
                        <Route path=path!("/staff/patients/:pid/record/trend/:code") view=TrendPage ssr=SsrMode::Async/>
                        <Route path=path!("/staff/patients") view=PatientsPage ssr=SsrMode::Async/>
                        <Route path=path!("/admin/audit") view=AuditReportPage ssr=SsrMode::Async/>
                        <Route path=path!("/admin/users") view=UsersPage ssr=SsrMode::Async/>
                        <Route path=path!("/staff/patients/:id") view=PatientPage ssr=SsrMode::Async/>
                        <Route path=path!("/staff/patients/:id/letter") view=ActivationLetterPage ssr=SsrMode::Async/>
                        <Route path=path!("/register") view=RegisterPage ssr=SsrMode::Async/>
                        <Route path=path!("/forgot-password") view=ForgotPasswordPage ssr=SsrMode::Async/>
                        <Route path=path!("/reset-password") view=ResetPasswordPage ssr=SsrMode::Async/>
                        <Route path=path!("/verify-email") view=VerifyEmailPage ssr=SsrMode::Async/>
                        <Route path=path!("/staff/verifications") view=VerificationsPage ssr=SsrMode::Async/>
                        <Route path=path!("/staff/import") view=ImportPage ssr=SsrMode::Async/>
                        <Route path=path!("/requests") view=RequestsPage ssr=SsrMode::Async/>
                        <Route path=path!("/requests/:id") view=RequestPage ssr=SsrMode::Async/>
                        <Route path=path!("/staff/requests") view=RequestQueuePage ssr=SsrMode::Async/>
                        <Route path=path!("/staff/requests/:id") view=StaffRequestPage ssr=SsrMode::Async/>
                        <Route path=path!("/staff/intake") view=pages::desk::IntakePage ssr=SsrMode::Async/>
                        <Route path=path!("/staff/desk") view=pages::desk::DeskPage ssr=SsrMode::Async/>
                        <Route path=path!("/admin/fees") view=pages::desk::FeesPage ssr=SsrMode::Async/>
                        <Route path=path!("/admin/segmentation") view=pages::desk::SegmentationPage ssr=SsrMode::Async/>
                        <Route path=path!("/staff/reviews") view=ReviewQueuePage ssr=SsrMode::Async/>
                        <Route path=path!("/shared/:token") view=pages::shared::SharedPage ssr=SsrMode::Async/>
                        <Route path=path!("/disclosures") view=pages::disclosures::DisclosuresPage ssr=SsrMode::Async/>
                        <Route path=path!("/verify") view=pages::verify::VerifyPage ssr=SsrMode::Async/>
                        <Route path=path!("/oauth/authorize") view=pages::apps::AuthorizePage ssr=SsrMode::Async/>
                        <Route path=path!("/staff/patients/:pid/disclosures") view=pages::disclosures::StaffDisclosuresPage ssr=SsrMode::Async/>
                        <Route path=path!("/staff/duplicates") view=DuplicatesPage ssr=SsrMode::Async/>
                        <Route path=path!("/caregivers") view=pages::caregivers::CaregiversPage ssr=SsrMode::Async/>
                        <Route path=path!("/caregivers/accept") view=pages::caregivers::AcceptInvitationPage ssr=SsrMode::Async/>
                        <Route path=path!("/people") view=pages::caregivers::PeoplePage ssr=SsrMode::Async/>
                        <Route path=path!("/representatives") view=pages::caregivers::RepresentativesPage ssr=SsrMode::Async/>
                        <Route path=path!("/staff/representatives") view=pages::caregivers::StaffRepresentativesPage ssr=SsrMode::Async/>
                    </Routes>
                </ErrorBoundary>
            </main>
            <SiteFooter/>
        </Router>
        // Last in the page, so hydrated last: browser tests wait for its marker.
        <HydrationMarker/>
    }
}
