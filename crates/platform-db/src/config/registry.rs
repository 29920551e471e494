//! The rows a config derives: the `settings` rows budgets.yaml states (only the keys of
//! [`SETTINGS`]: platform-usage writes the table too), and the project and feature registries of
//! services.yaml. sync-config diffs what a config derives against [`current_rows`] and writes the
//! difference with [`write_rows`], in one transaction.

use std::collections::BTreeMap;

use platform_core::services::CostTier;
use platform_core::settings::SETTINGS;
use platform_core::sorted::CollectSorted;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value as Json};

use super::{chunked, delete_keys, json_array};
use crate::db::{lenient, Db};
use crate::error::DbError;
use crate::row::{FromRow, Row};
use crate::sql::{Outcome, Sql};
use crate::statement::Statement;
use crate::tables::{FEATURE_REGISTRY, PROJECT_REGISTRY, SETTINGS as SETTINGS_TABLE};

/// A row of `settings` that budgets.yaml states.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SettingRow {
    pub key: String,
    pub value: String,
}

/// A row of `project_registry`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProjectRow {
    pub project_id: String,
    pub display_name: String,
    pub repository: String,
    pub tier: u8,
    /// JSON array of the project's Worker scripts, as stored.
    pub scripts: String,
}

/// A row of `feature_registry`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FeatureRow {
    pub feature_key: String,
    pub project_id: String,
    pub category: String,
    pub feature: String,
    pub display_name: String,
    /// Whether a breaker guards the feature: 0 or 1 in D1 and in the `/sync` plan, as always.
    #[serde(with = "zero_or_one")]
    pub circuit_breaker: bool,
    pub cost_tier: CostTier,
}

/// A flag as `0`/`1` on the wire, the shape `/sync` plans have always had; `true`/`false` read too.
mod zero_or_one {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(flag: &bool, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_u8(u8::from(*flag))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<bool, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Flag {
            Number(u8),
            Bool(bool),
        }
        match Flag::deserialize(deserializer)? {
            Flag::Bool(flag) => Ok(flag),
            Flag::Number(0) => Ok(false),
            Flag::Number(1) => Ok(true),
            Flag::Number(n) => Err(serde::de::Error::custom(format!("expected 0 or 1, found {n}"))),
        }
    }
}

impl FromRow for SettingRow {
    fn from_row(row: &Row) -> Result<Self, String> {
        Ok(Self {
            key: row.get("key")?,
            value: row.get("value")?,
        })
    }
}

impl FromRow for ProjectRow {
    fn from_row(row: &Row) -> Result<Self, String> {
        Ok(Self {
            project_id: row.get("project_id")?,
            display_name: row.get("display_name")?,
            repository: row.get("repository")?,
            tier: row.get("tier")?,
            scripts: row.get("scripts")?,
        })
    }
}

impl FromRow for FeatureRow {
    fn from_row(row: &Row) -> Result<Self, String> {
        Ok(Self {
            feature_key: row.get("feature_key")?,
            project_id: row.get("project_id")?,
            category: row.get("category")?,
            feature: row.get("feature")?,
            display_name: row.get("display_name")?,
            circuit_breaker: row.get("circuit_breaker")?,
            cost_tier: row.parse("cost_tier", CostTier::parse)?,
        })
    }
}

/// A JSON object of text and integer fields, as the upserts' `json_extract(value, '$.field')`
/// read them.
fn object<const N: usize>(fields: [(&str, Json); N]) -> Json {
    let mut object = Map::new();
    for (name, value) in fields {
        object.insert(name.to_owned(), value);
    }
    Json::Object(object)
}

fn text(s: &str) -> Json {
    Json::String(s.to_owned())
}

impl SettingRow {
    fn json(&self) -> Json {
        object([("key", text(&self.key)), ("value", text(&self.value))])
    }
}

impl ProjectRow {
    fn json(&self) -> Json {
        object([
            ("project_id", text(&self.project_id)),
            ("display_name", text(&self.display_name)),
            ("repository", text(&self.repository)),
            ("tier", Json::from(self.tier)),
            ("scripts", text(&self.scripts)),
        ])
    }
}

impl FeatureRow {
    fn json(&self) -> Json {
        object([
            ("feature_key", text(&self.feature_key)),
            ("project_id", text(&self.project_id)),
            ("category", text(&self.category)),
            ("feature", text(&self.feature)),
            ("display_name", text(&self.display_name)),
            ("circuit_breaker", Json::from(u8::from(self.circuit_breaker))),
            ("cost_tier", text(self.cost_tier.name())),
        ])
    }
}

/// The rows D1 holds now, by key (settings: only the keys budgets.yaml manages).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CurrentRows {
    pub settings: BTreeMap<String, SettingRow>,
    pub projects: BTreeMap<String, ProjectRow>,
    pub features: BTreeMap<String, FeatureRow>,
    /// Rows that do not read as their type (edited by hand): left out, so the apply writes them
    /// afresh instead of failing on them.
    pub skipped: Vec<String>,
}

/// The three reads of [`CurrentRows`], in order: settings, projects, features.
pub(super) fn current_statements() -> Vec<Statement> {
    let keys: Vec<&str> = SETTINGS.iter().map(|spec| spec.key).collect();
    vec![
        Statement::read(
            "SELECT key, value FROM settings WHERE key IN (SELECT value FROM json_each(?1))",
            vec![json_array(&keys, |key| text(key))],
        ),
        Statement::read(
            "SELECT project_id, display_name, repository, tier, scripts FROM project_registry",
            Vec::new(),
        ),
        Statement::read(
            "SELECT feature_key, project_id, category, feature, display_name, circuit_breaker, cost_tier \
             FROM feature_registry",
            Vec::new(),
        ),
    ]
}

/// [`CurrentRows`] from the outcomes of [`current_statements`].
pub(super) fn current_of(context: &str, outcomes: &[Outcome]) -> Result<CurrentRows, DbError> {
    let [settings, projects, features] = outcomes else {
        return Err(DbError::backend(
            context,
            format!("expected 3 results, got {}", outcomes.len()),
        ));
    };
    let mut skipped = Vec::new();
    let settings: Vec<SettingRow> = lenient(std::slice::from_ref(settings), &mut skipped);
    let projects: Vec<ProjectRow> = lenient(std::slice::from_ref(projects), &mut skipped);
    let features: Vec<FeatureRow> = lenient(std::slice::from_ref(features), &mut skipped);
    Ok(CurrentRows {
        settings: settings.into_iter().map(|r| (r.key.clone(), r)).collect_map(),
        projects: projects
            .into_iter()
            .map(|r| (r.project_id.clone(), r))
            .collect_map(),
        features: features
            .into_iter()
            .map(|r| (r.feature_key.clone(), r))
            .collect_map(),
        skipped,
    })
}

/// The rows a config derives that D1 holds now, in one round trip.
pub async fn current_rows<S: Sql>(db: &Db<S>) -> Result<CurrentRows, DbError> {
    const CONTEXT: &str = "reading settings and registries";
    let outcomes = db.batch(CONTEXT, current_statements()).await?;
    current_of(CONTEXT, &outcomes)
}

/// What to write to one table: rows to insert or replace, and keys of rows to delete.
#[derive(Debug)]
pub struct RowWrites<'a, R> {
    pub upsert: &'a [R],
    pub delete: &'a [String],
}

impl<R> Clone for RowWrites<'_, R> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<R> Copy for RowWrites<'_, R> {}

impl<R> Default for RowWrites<'_, R> {
    fn default() -> Self {
        Self {
            upsert: &[],
            delete: &[],
        }
    }
}

/// What to write to the three tables.
#[derive(Debug, Clone, Copy, Default)]
pub struct Writes<'a> {
    pub settings: RowWrites<'a, SettingRow>,
    pub projects: RowWrites<'a, ProjectRow>,
    pub features: RowWrites<'a, FeatureRow>,
}

/// Inserts or replaces settings rows (only the keys given), updated at `now`.
pub fn upsert_settings(rows: &[SettingRow], now: u64) -> Vec<Statement> {
    chunked(
        &SETTINGS_TABLE,
        "INSERT INTO settings (key, value, updated_at) \
         SELECT json_extract(value, '$.key'), json_extract(value, '$.value'), ?2 FROM json_each(?1) WHERE true \
         ON CONFLICT(key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
        rows,
        SettingRow::json,
        &[now.into()],
    )
}

pub fn upsert_projects(rows: &[ProjectRow], now: u64) -> Vec<Statement> {
    chunked(
        &PROJECT_REGISTRY,
        "INSERT INTO project_registry (project_id, display_name, repository, tier, scripts, updated_at) \
         SELECT json_extract(value, '$.project_id'), json_extract(value, '$.display_name'), \
         json_extract(value, '$.repository'), json_extract(value, '$.tier'), json_extract(value, '$.scripts'), ?2 \
         FROM json_each(?1) WHERE true \
         ON CONFLICT(project_id) DO UPDATE SET display_name = excluded.display_name, \
         repository = excluded.repository, tier = excluded.tier, scripts = excluded.scripts, updated_at = excluded.updated_at",
        rows,
        ProjectRow::json,
        &[now.into()],
    )
}

pub fn upsert_features(rows: &[FeatureRow], now: u64) -> Vec<Statement> {
    chunked(
        &FEATURE_REGISTRY,
        "INSERT INTO feature_registry (feature_key, project_id, category, feature, display_name, circuit_breaker, cost_tier, updated_at) \
         SELECT json_extract(value, '$.feature_key'), json_extract(value, '$.project_id'), \
         json_extract(value, '$.category'), json_extract(value, '$.feature'), json_extract(value, '$.display_name'), \
         json_extract(value, '$.circuit_breaker'), json_extract(value, '$.cost_tier'), ?2 \
         FROM json_each(?1) WHERE true \
         ON CONFLICT(feature_key) DO UPDATE SET project_id = excluded.project_id, category = excluded.category, \
         feature = excluded.feature, display_name = excluded.display_name, circuit_breaker = excluded.circuit_breaker, \
         cost_tier = excluded.cost_tier, updated_at = excluded.updated_at",
        rows,
        FeatureRow::json,
        &[now.into()],
    )
}

/// Deletes the settings rows of exactly these keys.
pub fn delete_settings(keys: &[String]) -> Vec<Statement> {
    delete_keys(
        &SETTINGS_TABLE,
        "DELETE FROM settings WHERE key IN (SELECT value FROM json_each(?1))",
        keys,
    )
}

pub fn delete_projects(ids: &[String]) -> Vec<Statement> {
    delete_keys(
        &PROJECT_REGISTRY,
        "DELETE FROM project_registry WHERE project_id IN (SELECT value FROM json_each(?1))",
        ids,
    )
}

pub fn delete_features(keys: &[String]) -> Vec<Statement> {
    delete_keys(
        &FEATURE_REGISTRY,
        "DELETE FROM feature_registry WHERE feature_key IN (SELECT value FROM json_each(?1))",
        keys,
    )
}

/// The statements of [`write_rows`]: upserts, then deletes.
pub fn write_statements(writes: Writes<'_>, now: u64) -> Vec<Statement> {
    let mut statements = upsert_settings(writes.settings.upsert, now);
    statements.extend(upsert_projects(writes.projects.upsert, now));
    statements.extend(upsert_features(writes.features.upsert, now));
    statements.extend(delete_settings(writes.settings.delete));
    statements.extend(delete_projects(writes.projects.delete));
    statements.extend(delete_features(writes.features.delete));
    statements
}

/// Writes settings and registries in one transaction (no round trip when there is nothing to
/// write).
pub async fn write_rows<S: Sql>(db: &Db<S>, writes: Writes<'_>, now: u64) -> Result<(), DbError> {
    db.batch("writing settings and registries", write_statements(writes, now))
        .await
        .map(drop)
}
