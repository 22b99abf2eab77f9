//! The frame around every page: skip link, header with navigation (by role) and the sign-in
//! state, the idle time-out warning, and the footer.

use crate::api::auth::{CurrentUser, SignOut, me};
use crate::domain::Role;
use crate::ui::components::idle_warning::IdleWarning;
use crate::ui::ids;
use leptos::prelude::*;
use leptos_router::components::A;
use leptos_router::hooks::use_location;

/// The attribute that opens the collapsible navigation (CSS `.site-menu--collapsible[data-open]`).
const MENU_OPEN: &str = "data-open";

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
        links.push(("/staff/intake", "Log a request"));
        links.push(("/staff/verifications", "Verifications"));
        links.push(("/staff/duplicates", "Duplicates"));
        links.push(("/staff/representatives", "Representatives"));
    }
    if user.is(Role::HimLead) && user.is(Role::HimStaff) {
        links.push(("/staff/desk", "Desk"));
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
        links.push(("/admin/fees", "Fees"));
        links.push(("/admin/segmentation", "Sensitive records"));
    }
    links.push(("/account", "Account"));
    links
}

/// The header: the brand, the navigation and who is signed in. On a small screen it is one row
/// (brand, "Menu", "Sign out") and the navigation opens below it (issue 15: the wrapped
/// navigation took a quarter of a phone's screen). Before hydration, or without JavaScript,
/// "Menu" is a link to the navigation, which CSS shows as the link's target; once hydrated the
/// [`MenuToggle`] island opens and closes it in place and says whether it is open.
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
                        let links: Vec<(&'static str, &'static str)> = match &current {
                            Some(u) => nav_links(u),
                            None => vec![("/", "Home"), ("/sign-in", "Sign in")],
                        };
                        let signed_in = current.is_some();
                        view! {
                            // Signed out there are two links: they fit on one row without a menu.
                            {signed_in.then(|| view! {
                                <MenuToggle/>
                                <ActionForm action=sign_out attr:class="inline-form site-sign-out">
                                    <button type="submit" id=ids::SIGN_OUT class="button button--quiet">"Sign out"</button>
                                </ActionForm>
                            })}
                            <div id=ids::SITE_MENU class="site-menu" class:site-menu--collapsible=signed_in>
                                <nav id=ids::SITE_NAV class="site-nav" aria-label="Main">
                                    <ul>
                                        {links.into_iter().map(|(href, label)| view! {
                                            <li><A href=href>{label}</A></li>
                                        }).collect_view()}
                                    </ul>
                                </nav>
                                {current.as_ref().map(|u| view! {
                                    <p class="site-user"><span id=ids::SIGNED_IN_AS class="site-user__name">{u.name.clone()}</span></p>
                                })}
                            </div>
                            {signed_in.then(|| view! { <IdleWarning/> })}
                            {current.as_ref().and_then(crate::ui::pages::caregivers::acting_banner)}
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

/// "Menu" on a small screen: a link to the navigation until hydrated (CSS `:target` opens it),
/// then a disclosure button in all but name that opens and closes it in place. Every page is a
/// page load, so the menu starts closed on each.
#[island]
pub fn MenuToggle() -> impl IntoView {
    let open = RwSignal::new(false);
    Effect::new(move |_| {
        let open = open.get();
        if let Some(menu) = document().get_element_by_id(ids::SITE_MENU) {
            let _ = if open { menu.set_attribute(MENU_OPEN, "") } else { menu.remove_attribute(MENU_OPEN) };
        }
    });
    let toggle = move |ev: leptos::ev::MouseEvent| {
        ev.prevent_default();
        open.update(|open| *open = !*open);
    };
    view! {
        <a id=ids::SITE_MENU_TOGGLE class="site-menu-toggle" href=format!("#{}", ids::SITE_MENU)
            aria-controls=ids::SITE_MENU aria-expanded=move || open.get().to_string() on:click=toggle>
            "Menu"
        </a>
    }
}

/// Marks the page as interactive (`<body data-hydrated="true">`). It is the last island in the
/// page and islands hydrate in document order, so browser tests that wait for the marker find
/// every other island ready.
#[island]
pub fn HydrationMarker() -> impl IntoView {
    Effect::new(move |_| {
        if let Some(body) = document().body() {
            let _ = body.set_attribute("data-hydrated", "true");
        }
    });
}
