//! One file's references resolved to stored resource ids: inside the file first (`urn:uuid:`
//! full URLs, `Type/id`, conditional references on directory resources), then in the database.

use super::super::rows::{
    fhir_resource,
    resource_identifier,
};
use crate::backend::fhir::map::Mapped;
use crate::backend::fhir::parse::RawEntry;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbErr, EntityTrait,
    QueryFilter,
};
use serde_json::Value;
use std::collections::HashMap;

/// One entry, mapped.
pub(super) struct Prepared<'a> {
    pub(super) entry: &'a RawEntry<'a>,
    /// The patient the resource names (`subject`, `patient`, `beneficiary`), as written.
    pub(super) subject: Option<String>,
    pub(super) mapped: Mapped,
    pub(super) identifiers: Vec<(String, String)>,
    pub(super) sha256: String,
    pub(super) is_directory: bool,
}

pub(super) fn identifiers(value: &Value) -> Vec<(String, String)> {
    value
        .get("identifier")
        .and_then(Value::as_array)
        .map(|ids| {
            ids.iter()
                .filter_map(|i| Some((i.get("system")?.as_str()?.to_string(), i.get("value")?.as_str()?.to_string())))
                .filter(|(s, v)| s.len() <= 255 && v.len() <= 255)
                .collect()
        })
        .unwrap_or_default()
}

/// Resolves references to stored resource ids: inside the file first (`urn:uuid:` full URLs,
/// `Type/id`, conditional `Type?identifier=system|value` on directory resources), then in the
/// database. Lookups are cached.
pub(super) struct Resolver<'a> {
    by_full_url: HashMap<&'a str, usize>,
    by_type_id: HashMap<(&'a str, &'a str), usize>,
    by_identifier: HashMap<(&'a str, &'a str, &'a str), usize>,
    uuid_of: &'a [String],
    cache: std::sync::Mutex<HashMap<String, Option<String>>>,
}

impl<'a> Resolver<'a> {
    pub(super) fn new(prepared: &'a [Prepared<'a>], uuid_of: &'a [String]) -> Self {
        let mut by_full_url = HashMap::new();
        let mut by_type_id = HashMap::new();
        let mut by_identifier = HashMap::new();
        for (n, p) in prepared.iter().enumerate() {
            if let Some(url) = &p.entry.full_url {
                by_full_url.insert(url.as_str(), n);
            }
            by_type_id.insert((p.entry.resource_type.as_str(), p.entry.id.as_str()), n);
            for (system, value) in &p.identifiers {
                by_identifier.insert((p.entry.resource_type.as_str(), system.as_str(), value.as_str()), n);
            }
        }
        Resolver { by_full_url, by_type_id, by_identifier, uuid_of, cache: Default::default() }
    }

    /// The entry of this file a reference points at, if it is in the file.
    pub(super) fn local(&self, reference: &str) -> Option<usize> {
        if let Some(n) = self.by_full_url.get(reference) {
            return Some(*n);
        }
        let (kind, id) = reference.rsplit_once('/')?;
        self.by_type_id.get(&(kind.rsplit('/').next().unwrap_or(kind), id)).copied()
    }

    pub(super) async fn resolve(&self, txn: &impl ConnectionTrait, reference: &str) -> Result<Option<String>, DbErr> {
        if let Some(n) = self.by_full_url.get(reference) {
            return Ok(Some(self.uuid_of[*n].clone()));
        }
        if let Some(hit) = self.cache.lock().ok().and_then(|c| c.get(reference).cloned()) {
            return Ok(hit);
        }
        let found = if let Some((kind, query)) = reference.split_once("?identifier=") {
            let (system, value) = query.split_once('|').unwrap_or(("", query));
            match self.by_identifier.get(&(kind, system, value)) {
                Some(n) => Some(self.uuid_of[*n].clone()),
                None => {
                    let ids: Vec<String> = resource_identifier::Entity::find()
                        .filter(resource_identifier::Column::System.eq(system))
                        .filter(resource_identifier::Column::Value.eq(value))
                        .all(txn)
                        .await?
                        .into_iter()
                        .map(|r| r.resource_id)
                        .collect();
                    match ids.is_empty() {
                        true => None,
                        false => fhir_resource::Entity::find()
                            .filter(fhir_resource::Column::Id.is_in(ids))
                            .filter(fhir_resource::Column::ResourceType.eq(kind))
                            .one(txn)
                            .await?
                            .map(|r| r.id),
                    }
                }
            }
        } else if let Some((kind, id)) = reference.rsplit_once('/').filter(|(k, _)| !k.contains(':')).map(|(k, i)| (k.rsplit('/').next().unwrap_or(k), i)) {
            match self.by_type_id.get(&(kind, id)) {
                Some(n) => Some(self.uuid_of[*n].clone()),
                None => fhir_resource::Entity::find()
                    .filter(fhir_resource::Column::ResourceType.eq(kind))
                    .filter(fhir_resource::Column::FhirId.eq(id))
                    .one(txn)
                    .await?
                    .map(|r| r.id),
            }
        } else {
            None
        };
        if let Ok(mut cache) = self.cache.lock() {
            cache.insert(reference.to_string(), found.clone());
        }
        Ok(found)
    }
}
