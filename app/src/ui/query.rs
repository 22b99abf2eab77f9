//! The page's query string, decoded exactly once.
//!
//! leptos_router 0.8's `use_query_map` decodes each value twice: the URL parser decodes the
//! query (`url::Url::query_pairs` on the server, `URLSearchParams` in the browser) and
//! `ParamsMap::insert` percent-decodes the result again. A value that itself holds an encoded
//! address came out mangled: the `next` that carries an app's authorization request through
//! sign-in lost its `%20`s and `%2F`s (issue 22), and any `%41` typed in a search box read as
//! `A`. Pages read their query through [`use_query_decoded`], which decodes the raw query string
//! (`Location::search`, undecoded on both sides) once, as `application/x-www-form-urlencoded`.

use crate::domain::query_pairs;
use leptos::prelude::*;

/// A query string's parameters, each value decoded once.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct QueryValues(Vec<(String, String)>);

impl QueryValues {
    pub fn parse(search: &str) -> Self {
        QueryValues(query_pairs(search))
    }

    /// The last value of `name` (as a form that repeats a field sends the one it means last).
    pub fn get(&self, name: &str) -> Option<String> {
        self.0.iter().rev().find(|(k, _)| k == name).map(|(_, v)| v.clone())
    }
}

/// The current page's query, decoded once (see the module notes).
pub fn use_query_decoded() -> Memo<QueryValues> {
    let location = leptos_router::hooks::use_location();
    Memo::new(move |_| location.search.with(|search| QueryValues::parse(search)))
}
