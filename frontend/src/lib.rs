//! The browser entry point: hydrates the server-rendered page with the same `App` component.
//! cargo-leptos compiles this crate to WebAssembly (profile `wasm-release` for release builds).

/// Called by the hydration script that the server puts in every page.
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    leptos::mount::hydrate_body(app::App);
}
