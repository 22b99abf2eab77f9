//! The idle time-out warning (ONC 170.315(d)(5)): one minute before the session would time out,
//! a dialog says so and offers to stay signed in; at the time-out the browser goes to the sign-in
//! page, which says why. The server decides: the browser only counts down to the deadline the
//! server gave, and asks again before warning (another tab may have been active). An island:
//! every page is a page load, which counts as activity, so the countdown starts with each page.

use crate::api::auth::{KeepAlive, session_clock};
use crate::ui::ids;
use leptos::prelude::*;
use std::time::Duration;

fn now_ms() -> f64 {
    js_sys::Date::now()
}

#[island]
pub fn IdleWarning() -> impl IntoView {
    let keep = ServerAction::<KeepAlive>::new();
    // The deadline (browser clock, ms) and the warning lead, from the server's answer.
    let deadline = RwSignal::new(None::<f64>);
    let warn_secs = RwSignal::new(60i64);
    let left = RwSignal::new(None::<i64>);
    let rechecked = StoredValue::new(false);
    let stay = NodeRef::<leptos::html::Button>::new();

    let set_clock = move |seconds_left: i64, warn: i64| {
        deadline.set(Some(now_ms() + (seconds_left as f64) * 1000.0));
        warn_secs.set(warn);
        rechecked.set_value(false);
    };

    // Loading the page asked the server (and counted as activity): fetch the new deadline.
    Effect::new(move |_| {
        leptos::task::spawn_local(async move {
            if let Ok(clock) = session_clock().await {
                set_clock(clock.idle_seconds_left, clock.warn_seconds);
            }
        });
    });
    Effect::new(move |_| {
        if let Some(Ok(clock)) = keep.value().get() {
            set_clock(clock.idle_seconds_left, clock.warn_seconds);
        }
    });

    Effect::new(move |_| {
        let tick = move || {
            let Some(end) = deadline.get_untracked() else { return };
            let remaining_ms = end - now_ms();
            let secs = (remaining_ms / 1000.0).ceil() as i64;
            if secs <= warn_secs.get_untracked() && !rechecked.get_value() {
                // Before warning, ask the server: activity in another tab moves the deadline.
                rechecked.set_value(true);
                leptos::task::spawn_local(async move {
                    match session_clock().await {
                        Ok(clock) if clock.idle_seconds_left > clock.warn_seconds => {
                            set_clock(clock.idle_seconds_left, clock.warn_seconds);
                        }
                        _ => {}
                    }
                });
            }
            // A second past the deadline, ask the server, which decides: it ends the session (and
            // the sign-in page says why), or, if another tab was active, gives a new deadline.
            if remaining_ms <= -1000.0 {
                deadline.set(None);
                leptos::task::spawn_local(async move {
                    match session_clock().await {
                        Ok(clock) => set_clock(clock.idle_seconds_left, clock.warn_seconds),
                        Err(_) => {
                            left.set(None);
                            let _ = window().location().assign("/sign-in?timeout=1");
                        }
                    }
                });
                return;
            }
            left.set(Some(secs.max(0)));
        };
        if let Ok(handle) = set_interval_with_handle(tick, Duration::from_secs(1)) {
            on_cleanup(move || handle.clear());
        }
    });

    let showing = move || left.get().is_some_and(|l| l <= warn_secs.get());
    // Move focus to the button when the warning appears, so keyboard users can answer at once.
    // (The button mounts after `showing` turns true; the node ref re-runs this when it does.)
    Effect::new(move |focused: Option<bool>| match (showing(), stay.get()) {
        (true, Some(button)) => {
            if focused != Some(true) {
                let _ = button.focus();
            }
            true
        }
        _ => false,
    });

    view! {
        <Show when=showing>
            <div
                id=ids::IDLE_WARNING
                class="idle-warning"
                role="alertdialog"
                aria-labelledby="idle-warning-title"
                aria-describedby="idle-warning-text"
            >
                <h2 id="idle-warning-title">"Are you still there?"</h2>
                <p id="idle-warning-text">
                    "For your privacy you will be signed out in "
                    <strong>{move || left.get().unwrap_or(0)}" seconds"</strong>
                    " unless you choose to stay."
                </p>
                <button
                    type="button"
                    id=ids::IDLE_WARNING_STAY
                    class="button"
                    node_ref=stay
                    on:click=move |_| {
                        keep.dispatch(KeepAlive {});
                    }
                >
                    "Stay signed in"
                </button>
            </div>
        </Show>
    }
}
