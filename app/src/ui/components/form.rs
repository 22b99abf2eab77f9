//! Form building blocks: a labelled field that shows its own error (linked with
//! `aria-describedby`, marked `aria-invalid`), and the form-level error announced by screen
//! readers (`role="alert"`). The same markup works before hydration: errors then come back in the
//! redirect's query string and are rendered on the server.

use crate::error::AppError;
use leptos::prelude::*;

/// The message for `field` in a failed action's validation error, if any.
pub fn field_error<T>(result: Option<Result<T, AppError>>, field: &str) -> Option<String> {
    match result {
        Some(Err(AppError::Validation { fields })) => {
            fields.into_iter().find(|f| f.field == field).map(|f| f.message)
        }
        _ => None,
    }
}

/// The message for one field of a failed action, announced (`role="alert"`) when it appears.
/// For fields drawn by hand (selects, checkbox groups); [`Field`] shows its own.
#[component]
pub fn FieldMessage<T: Clone + Send + Sync + 'static>(
    #[prop(into)] result: Signal<Option<Result<T, AppError>>>,
    /// The form field name the server named in its validation error.
    field: &'static str,
    /// An id, when an input points at the message with `aria-describedby`.
    #[prop(optional, into)]
    id: Option<String>,
) -> impl IntoView {
    move || field_error(result.get(), field).map(|e| view! { <p id=id.clone() class="field__error" role="alert">{e}</p> })
}

/// A text-like input with its label, optional hint and error.
#[component]
pub fn Field(
    /// The visible label.
    label: &'static str,
    /// The form field name (the server function's argument).
    name: &'static str,
    /// The element id (also used by browser tests).
    id: &'static str,
    #[prop(default = "text")] kind: &'static str,
    #[prop(optional)] autocomplete: Option<&'static str>,
    #[prop(optional)] hint: Option<&'static str>,
    #[prop(optional)] required: bool,
    #[prop(optional, into)] value: Option<String>,
    #[prop(optional)] maxlength: Option<u32>,
    #[prop(into)] error: Signal<Option<String>>,
) -> impl IntoView {
    let hint_id = format!("{id}-hint");
    let error_id = format!("{id}-error");
    let described = {
        let hint_id = hint_id.clone();
        let error_id = error_id.clone();
        move || {
            let mut ids = Vec::new();
            if hint.is_some() {
                ids.push(hint_id.clone());
            }
            if error.get().is_some() {
                ids.push(error_id.clone());
            }
            (!ids.is_empty()).then(|| ids.join(" "))
        }
    };
    view! {
        <div class="field" class:field--invalid=move || error.get().is_some()>
            <label for=id>{label}</label>
            {hint.map(|h| view! { <p id=hint_id.clone() class="field__hint">{h}</p> })}
            {move || error.get().map(|e| view! { <p id=error_id.clone() class="field__error">{e}</p> })}
            <input
                id=id
                name=name
                type=kind
                autocomplete=autocomplete
                required=required
                maxlength=maxlength
                value=value
                aria-invalid=move || error.get().is_some().then_some("true")
                aria-describedby=described
            />
        </div>
    }
}

/// The form-level message of a failed action (validation errors point at their fields).
#[component]
pub fn FormError<T: Clone + Send + Sync + 'static>(
    #[prop(into)] result: Signal<Option<Result<T, AppError>>>,
    id: &'static str,
) -> impl IntoView {
    move || {
        result.get().and_then(Result::err).map(|error| {
            view! { <p id=id class="form-error" role="alert">{error.to_string()}</p> }
        })
    }
}

/// What to show instead of a page when its data could not be had. Rendered on the server, the
/// page also answers with the error's status: data that is missing or not the viewer's is a real
/// 404 (as an unknown address is), and a signed-out visitor is sent to sign in (303, with `next`
/// bringing them back), never a 200 page that only says so.
#[component]
pub fn LoadError(error: AppError) -> impl IntoView {
    let location = leptos_router::hooks::use_location();
    let (path, query) = (location.pathname.get_untracked(), location.search.get_untracked());
    let next = if query.is_empty() { path } else { format!("{path}?{}", query.trim_start_matches('?')) };
    let sign_in = format!("/sign-in?next={}", crate::domain::percent(&next));
    #[cfg(feature = "ssr")]
    if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
        match &error {
            AppError::Unauthenticated => {
                response.set_status(http::StatusCode::SEE_OTHER);
                if let Ok(location) = http::HeaderValue::from_str(&sign_in) {
                    response.insert_header(http::header::LOCATION, location);
                }
            }
            AppError::NotFound | AppError::Gone { .. } => {
                if let Ok(status) = http::StatusCode::from_u16(error.status_code()) {
                    response.set_status(status);
                }
            }
            _ => {}
        }
    }
    match error {
        AppError::Unauthenticated => view! {
            <div class="notice" role="status">
                <p>"Please sign in to see this page."</p>
                <a class="button" href=sign_in rel="external">"Sign in"</a>
            </div>
        }
        .into_any(),
        other => view! { <p class="form-error" role="alert">{other.to_string()}</p> }.into_any(),
    }
}
