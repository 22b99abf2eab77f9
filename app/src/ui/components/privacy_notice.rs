//! The dismissible privacy reminder. The server decides whether it is shown; without
//! JavaScript the button posts a plain form and the server redirects back; once the
//! [`PrivacyReminder`] island is hydrated the same form is sent in the background and the
//! reminder disappears without a page load.

use crate::api::privacy_notice::{DismissPrivacyNotice, privacy_notice_visible};
use crate::ui::ids;
use leptos::prelude::*;

#[component]
pub fn PrivacyNotice() -> impl IntoView {
    let visible = Resource::new(|| (), |_| privacy_notice_visible());
    view! {
        <Suspense fallback=|| ()>
            {move || Suspend::new(async move {
                // If the answer cannot be had, show the reminder: erring on the side of privacy.
                visible.await.unwrap_or(true).then(|| view! { <PrivacyReminder/> })
            })}
        </Suspense>
    }
}

/// The reminder itself, with its "Got it" form.
#[island]
fn PrivacyReminder() -> impl IntoView {
    let dismiss = ServerAction::<DismissPrivacyNotice>::new();
    let dismissed = move || matches!(dismiss.value().get(), Some(Ok(())));
    let failure = move || {
        dismiss.value().get().and_then(Result::err).map(|error| {
            view! { <p id=ids::PRIVACY_NOTICE_ERROR class="form-error" role="alert">{error.to_string()}</p> }
        })
    };
    view! {
        <Show when=move || !dismissed()>
            <aside id=ids::PRIVACY_NOTICE class="notice" aria-labelledby="privacy-notice-title">
                <h2 id="privacy-notice-title" class="notice__title">"Keep your information private"</h2>
                <p>
                    "Use a device you trust. Sign out when you are done, "
                    "especially on a shared or public computer."
                </p>
                <ActionForm action=dismiss>
                    <button type="submit" id=ids::PRIVACY_NOTICE_DISMISS class="button button--secondary">
                        "Got it, hide this"
                    </button>
                </ActionForm>
                {failure}
            </aside>
        </Show>
    }
}
