//! The operator settings (`settings`): one validated text value per key.

use platform_core::settings::{Resolved, Settings};
use platform_core::EpochMs;

use crate::db::Db;
use crate::error::DbError;
use crate::row::{FromRow, Row};
use crate::sql::Sql;
use crate::statement::{insert_rows, Statement};
use crate::tables::SETTINGS;

struct Setting {
    key: String,
    value: String,
}

impl FromRow for Setting {
    fn from_row(row: &Row) -> Result<Self, String> {
        Ok(Self {
            key: row.get("key")?,
            value: row.get("value")?,
        })
    }
}

/// The stored settings resolved over the defaults: an invalid value is reported in `problems`
/// and its default applies.
pub async fn resolved<S: Sql>(db: &Db<S>) -> Result<Resolved, DbError> {
    let statement = Statement::read("SELECT key, value FROM settings ORDER BY key", Vec::new());
    let rows: Vec<Setting> = db.rows("reading settings", statement).await?;
    Ok(Settings::resolve(
        rows.iter().map(|row| (row.key.as_str(), row.value.as_str())),
    ))
}

/// Stores validated values (key, text), replacing those already set.
pub fn put(values: &[(String, String)], now: EpochMs) -> Vec<Statement> {
    let rows = values
        .iter()
        .map(|(key, value)| vec![key.into(), value.into(), now.into()])
        .collect();
    insert_rows(
        &SETTINGS,
        "INSERT INTO settings (key, value, updated_at)",
        rows,
        "ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
    )
}
