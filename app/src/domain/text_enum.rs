//! `text_enum!`: an enum whose variants are stored and sent as fixed text (statuses, kinds,
//! actions). One list of `Variant = "text"` pairs gives the enum, `ALL`, `as_str`, `parse`,
//! `Display` and serde under the same names, so no hand-written table can fall out of step.
//! On the server the same names are the column type: an entity field of such an enum reads and
//! writes its text, and a stored text no variant has fails the query (a reference-id error, never
//! a default value).

/// Declares an enum of fixed text values. Each variant is written `Name = "text"`; the text is
/// what the database stores and the wire carries, and must never change once shipped.
macro_rules! text_enum {
    (
        $(#[$meta:meta])*
        $vis:vis enum $name:ident {
            $( $(#[$vmeta:meta])* $variant:ident = $text:literal ),+ $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
        $vis enum $name {
            $( $(#[$vmeta])* #[serde(rename = $text)] $variant ),+
        }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: [$name; { [$($text),+].len() }] = [$($name::$variant),+];

            /// The stored text.
            pub fn as_str(self) -> &'static str {
                match self {
                    $( $name::$variant => $text ),+
                }
            }

            /// The value stored as `text`, or `None` when no value has that text.
            pub fn parse(text: &str) -> Option<$name> {
                match text {
                    $( $text => Some($name::$variant), )+
                    _ => None,
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        #[cfg(feature = "ssr")]
        impl From<$name> for sea_orm::Value {
            fn from(value: $name) -> Self {
                sea_orm::Value::from(value.as_str())
            }
        }

        #[cfg(feature = "ssr")]
        impl sea_orm::TryGetable for $name {
            fn try_get_by<I: sea_orm::ColIdx>(res: &sea_orm::QueryResult, idx: I) -> Result<Self, sea_orm::TryGetError> {
                let text = String::try_get_by(res, idx)?;
                $name::parse(&text).ok_or_else(|| {
                    sea_orm::TryGetError::DbErr(sea_orm::DbErr::Type(format!(
                        "a stored {} is not one of its values",
                        stringify!($name)
                    )))
                })
            }
        }

        #[cfg(feature = "ssr")]
        impl sea_orm::sea_query::ValueType for $name {
            fn try_from(value: sea_orm::Value) -> Result<Self, sea_orm::sea_query::ValueTypeErr> {
                let text = <String as sea_orm::sea_query::ValueType>::try_from(value)?;
                $name::parse(&text).ok_or(sea_orm::sea_query::ValueTypeErr)
            }

            fn type_name() -> String {
                stringify!($name).to_owned()
            }

            fn array_type() -> sea_orm::sea_query::ArrayType {
                sea_orm::sea_query::ArrayType::String
            }

            fn column_type() -> sea_orm::sea_query::ColumnType {
                sea_orm::sea_query::ColumnType::String(sea_orm::sea_query::StringLen::None)
            }
        }

        #[cfg(feature = "ssr")]
        impl sea_orm::sea_query::Nullable for $name {
            fn null() -> sea_orm::Value {
                sea_orm::Value::String(None)
            }
        }
    };
}
pub(crate) use text_enum;
