//! `JsonText<T>`: a column that holds a value as JSON text. The column stays text on both databases
//! (SQLite has no JSON type and PostgreSQL's would change the migrated schema); the entity field
//! is typed, so a row is written from a domain value and read back into one. A stored text that
//! does not decode fails the query (a reference-id error), never a default value.

use serde::{Serialize, de::DeserializeOwned};
use sea_orm::sea_query::{ArrayType, ColumnType, ValueType, ValueTypeErr};
use sea_orm::{ColIdx, DbErr, QueryResult, TryGetError, TryGetable, Value};

/// A value stored as JSON text.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct JsonText<T>(pub T);

impl<T> std::ops::Deref for JsonText<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T: Serialize> From<JsonText<T>> for Value {
    fn from(value: JsonText<T>) -> Self {
        // Serializing the domain's own plain structs (strings, numbers, lists) does not fail; if a
        // type ever could, the value goes as NULL and the NOT NULL column refuses the write, so a
        // failure is an error, never a silently emptied value.
        Value::String(serde_json::to_string(&value.0).ok())
    }
}

impl<T: DeserializeOwned> TryGetable for JsonText<T> {
    fn try_get_by<I: ColIdx>(res: &QueryResult, idx: I) -> Result<Self, TryGetError> {
        let text = String::try_get_by(res, idx)?;
        serde_json::from_str(&text)
            .map(JsonText)
            .map_err(|e| TryGetError::DbErr(DbErr::Type(format!("a stored JSON column does not decode: {e}"))))
    }
}

impl<T: Serialize + DeserializeOwned> ValueType for JsonText<T> {
    fn try_from(value: Value) -> Result<Self, ValueTypeErr> {
        let text = <String as ValueType>::try_from(value)?;
        serde_json::from_str(&text).map(JsonText).map_err(|_| ValueTypeErr)
    }

    fn type_name() -> String {
        format!("JsonText<{}>", std::any::type_name::<T>())
    }

    fn array_type() -> ArrayType {
        ArrayType::String
    }

    fn column_type() -> ColumnType {
        ColumnType::Text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_value_round_trips_as_text() {
        let value: Value = JsonText(vec!["a".to_string(), "b".to_string()]).into();
        assert_eq!(value, Value::from(r#"["a","b"]"#));
        let back: JsonText<Vec<String>> = <JsonText<Vec<String>> as ValueType>::try_from(value).expect("decodes");
        assert_eq!(back.0, ["a", "b"]);
    }

    #[test]
    fn text_that_is_not_the_type_is_refused() {
        assert!(<JsonText<Vec<String>> as ValueType>::try_from(Value::from("{\"a\":1}")).is_err());
    }
}
