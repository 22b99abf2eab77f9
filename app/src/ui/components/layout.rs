//! The frame around every page: skip link, header with navigation (by role) and the sign-in
//! state, the idle time-out warning, and the footer.

use crate::api::auth::{CurrentUser, SignOut, me};
use crate::domain::Role;
use crate::ui::components::idle_warning::IdleWarning;
use crate::ui::ids;
use leptos::prelude::*;
use leptos_router::components::A;
use leptos_router::hooks::use_location;

/// First focusable element: lets keyboard and screen-reader users jump past the navigation.
#[component]
pub fn SkipLink() -> impl IntoView {
    // rel="external": the client-side router must leave this link to the browser, whose fragment
    // navigation moves focus to <main tabindex="-1"> (WCAG 2.4.1 bypass blocks).
    view! { <a class="skip-link" rel="external" href=format!("#{}", ids::MAIN)>"Skip to main content"</a> }
}

/// The signed-in person, re-read on every navigation (which also counts as activity), shared with
/// pages through context.
#[derive(Clone, Copy)]
pub struct CurrentUserResource(pub Resource<Result<Option<CurrentUser>, crate::error::AppError>>);

/// Provides [`CurrentUserResource`]; call once, inside the router.
pub fn provide_current_user() -> CurrentUserResource {
    let location = use_location();
    let resource = CurrentUserResource(Resource::new(move || location.pathname.get(), |_| me()));
    provide_context(resource);
    resource
}

fn nav_links(user: &CurrentUser) -> Vec<(&'static str, &'static str)> {
    let mut links = vec![("/", "Home")];
    if user.acting.is_some() {
        // Acting for someone: the same pages, about them (the banner says whose).
        links.push(("/record", "Record"));
        links.push(("/requests", "Copies"));
        links.push(("/disclosures", "Who received my record"));
    } else if user.is(Role::Patient) || user.roles.is_empty() {
        links.push(("/record", "My record"));
        links.push(("/requests", "Copies"));
        links.push(("/disclosures", "Who received my record"));
        if user.has_record {
            links.push(("/caregivers", "Who can see"));
        }
    }
    if user.helps_others || user.is(Role::Caregiver) {
        links.push(("/people", "People I help"));
    }
    if user.is(Role::HimStaff) {
        links.push(("/staff/patients", "Patients"));
        links.push(("/staff/requests", "Requests"));
        links.push(("/staff/verifications", "Verifications"));
        links.push(("/staff/duplicates", "Duplicates"));
        links.push(("/staff/representatives", "Representatives"));
    }
    if user.is(Role::HimReviewer) {
        links.push(("/staff/reviews", "Reviews"));
    }
    if user.is(Role::HimStaff) || user.is(Role::Administrator) {
        links.push(("/staff/import", "Import"));
    }
    if user.is(Role::Administrator) {
        links.push(("/admin/users", "Accounts"));
        links.push(("/admin/audit", "Audit report"));
    }
    links.push(("/account", "Account"));
    links
}

#[component]
pub fn SiteHeader() -> impl IntoView {
    let user = provide_current_user().0;
    let sign_out = ServerAction::<SignOut>::new();
    view! {
        <header id=ids::SITE_HEADER class="site-header">
            <div class="site-header__inner">
                <A href="/" attr:class="brand">
                    <span class="brand__mark" aria-hidden="true">"+"</span>
                    <span class="brand__name">"Patient portal"</span>
                </A>
                <Transition fallback=|| ()>
                    {move || Suspend::new(async move {
                        let current = user.await.ok().flatten();
                        match current {
                            Some(u) => view! {
                                <nav id=ids::SITE_NAV class="site-nav" aria-label="Main">
                                    <ul>
                                        {nav_links(&u).into_iter().map(|(href, label)| view! {
                                            <li><A href=href>{label}</A></li>
                                        }).collect_view()}
                                    </ul>
                                </nav>
                                <div class="site-user">
                                    <span id=ids::SIGNED_IN_AS class="site-user__name">{u.name.clone()}</span>
                                    <ActionForm action=sign_out attr:class="inline-form">
                                        <button type="submit" id=ids::SIGN_OUT class="button button--quiet">"Sign out"</button>
                                    </ActionForm>
                                </div>
                                <IdleWarning/>
                                {crate::ui::pages::caregivers::acting_banner(&u)}
                            }.into_any(),
                            None => view! {
                                <nav id=ids::SITE_NAV class="site-nav" aria-label="Main">
                                    <ul>
                                        <li><A href="/">"Home"</A></li>
                                        <li><A href="/sign-in">"Sign in"</A></li>
                                    </ul>
                                </nav>
                            }.into_any(),
                        }
                    })}
                </Transition>
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
