//! The browser entry point. In islands mode the page stays as the server rendered it; the
//! loader script then hydrates each `#[island]` of the `app` crate (they are exported from it).
//! cargo-leptos compiles this crate to WebAssembly (profile `wasm-release` for release builds).

// The islands are `#[wasm_bindgen]` exports of the app crate: link it even though nothing here
// names it.
extern crate app;

/// How long after loading a panic is taken for a stale page rather than a fault of this build.
const RELOAD_AFTER_MS: f64 = 10_000.0;

/// Called by the hydration script that the server puts in every page.
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    let loaded_at = js_sys::Date::now();
    std::panic::set_hook(Box::new(move |info| {
        console_error_panic_hook::hook(info);
        // A panic stops the module for good (panic = "abort"), and the page would stop reacting.
        // The likeliest cause in a tab left open is a deploy since it loaded (its code no longer
        // matches the server's), so the page reloads itself and comes back with the new build.
        // A panic soon after loading is this build's own fault: reloading would loop, so the
        // page stays as the server rendered it, whose links and forms work without JavaScript.
        if js_sys::Date::now() - loaded_at > RELOAD_AFTER_MS {
            let _ = leptos::prelude::window().location().reload();
        }
    }));
    // A server function that answers with a redirect (signing in lands the person on their
    // page) is followed with a page load: there is no client-side router in islands mode.
    let _ = leptos::server_fn::redirect::set_redirect_hook(|to: &str| {
        let _ = leptos::prelude::window().location().set_href(to);
    });
    leptos::mount::hydrate_islands();
}
