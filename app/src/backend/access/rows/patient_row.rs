//! The `patient` table's entity. Private to `backend::access`: no other module can name it, so no
//! server function or route can read a patient row around the access context.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "patient")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub site_code: String,
    pub mrn: String,
    pub family_name: String,
    pub given_names: String,
    pub birth_date: String,
    pub sex: String,
    pub phone: Option<String>,
    pub email: Option<String>,
    pub deceased_date: Option<String>,
    pub created_at_ms: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

/// Rows whose `column`, lower-cased, starts with `text` (lower-cased; `%` and `_` match
/// themselves). The range lets both databases answer from the index on `lower(column)`
/// (migration 14; a `LIKE` on an expression uses no index), and the `LIKE` keeps it exact where
/// a collation orders some other text inside the range.
pub fn starts_with(column: Column, text: &str) -> sea_orm::Condition {
    use sea_orm::sea_query::{Expr, ExprTrait, Func, LikeExpr};
    let low = text.to_lowercase();
    let lowered = || Expr::expr(Func::lower(Expr::col(column)));
    let mut escaped = String::new();
    for c in low.chars() {
        if matches!(c, '%' | '_' | '!') {
            escaped.push('!');
        }
        escaped.push(c);
    }
    let mut condition = sea_orm::Condition::all().add(lowered().gte(low.clone())).add(lowered().like(LikeExpr::new(format!("{escaped}%")).escape('!')));
    // The first text after every text that starts with `low`: its last character moved up one
    // (none when there is no next character).
    let mut chars: Vec<char> = low.chars().collect();
    if let Some(next) = chars.pop().and_then(|last| char::from_u32(u32::from(last) + 1)) {
        chars.push(next);
        condition = condition.add(lowered().lt(chars.into_iter().collect::<String>()));
    }
    condition
}

#[cfg(test)]
mod tests {
    use super::*;
    use sea_orm::{DbBackend, EntityTrait, QueryFilter, QueryTrait};

    #[test]
    fn a_prefix_is_a_range_on_the_lowered_column_and_a_literal_like() {
        let sql = Entity::find().filter(starts_with(Column::FamilyName, "Le%o")).build(DbBackend::Sqlite).to_string();
        assert!(sql.contains(r#"LOWER("family_name") >= 'le%o'"#), "{sql}");
        assert!(sql.contains(r#"LOWER("family_name") LIKE 'le!%o%' ESCAPE '!'"#), "{sql}");
        assert!(sql.contains(r#"LOWER("family_name") < 'le%p'"#), "{sql}");
    }
}
