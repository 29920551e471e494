//! sync-config's D1 state (wrangler/migrations/0003_sync_config.sql): the config history, the
//! record of KV keys written, the settings rows and the project and feature registries.
//!
//! Rows are written in bulk with one bound JSON array per statement (`json_each`), so an apply
//! of thousands of rows stays a handful of statements and far from D1's 100 bound parameters.

use std::collections::BTreeMap;

use platform_core::settings::SETTINGS;
use platform_worker::{d1, ApiError};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use wasm_bindgen::JsValue;
use worker::{D1Database, D1PreparedStatement, Env};

use crate::state::{CurrentRows, D1Plan, Drift, FeatureRow, ProjectRow, RunReport, SettingRow};

/// Rows per bound JSON array: well under D1's 1 MB per value.
const ROWS_PER_STATEMENT: usize = 500;

/// One applied config.
#[derive(Debug, Clone, Deserialize)]
pub struct HistoryRow {
    pub id: u64,
    pub version: String,
    pub applied_at: u64,
    pub summary: String,
    #[serde(default)]
    pub document: Option<String>,
    pub kv_total: u64,
    pub kv_done: u64,
    pub runs: u64,
    pub completed_at: Option<u64>,
}

/// The last drift check.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DriftRow {
    pub checked_at: u64,
    pub version: String,
    pub checked: u64,
    /// JSON array of [`Drift`].
    pub repaired: String,
}

pub struct Db(D1Database);

fn json_param<T: Serialize>(rows: &[T]) -> JsValue {
    JsValue::from_str(&serde_json::to_string(rows).unwrap_or_else(|_| "[]".into()))
}

impl Db {
    pub fn open(env: &Env) -> Result<Self, ApiError> {
        platform_worker::database(env).map(Self)
    }

    async fn all<T: DeserializeOwned>(
        &self,
        context: &str,
        sql: &str,
        params: &[JsValue],
    ) -> Result<Vec<T>, ApiError> {
        d1::query(&self.0, context, sql, params).await
    }

    fn statement(&self, sql: &str, params: &[JsValue]) -> Result<D1PreparedStatement, ApiError> {
        d1::statement(&self.0, sql, params)
    }

    /// One transaction; `context` names it in the log if it fails.
    async fn batch(&self, context: &str, statements: Vec<D1PreparedStatement>) -> Result<(), ApiError> {
        d1::batch(&self.0, statements)
            .await
            .map(|_| ())
            .inspect_err(|error| {
                worker::console_error!("{context}: {}", error.message);
            })
    }

    /// What sync-config has written to KV: key → digest.
    pub async fn written(&self) -> Result<BTreeMap<String, String>, ApiError> {
        #[derive(Deserialize)]
        struct Row {
            key: String,
            digest: String,
        }
        let rows: Vec<Row> = self
            .all(
                "reading the written keys",
                "SELECT key, digest FROM synced_kv_keys",
                &[],
            )
            .await?;
        Ok(rows.into_iter().map(|row| (row.key, row.digest)).collect())
    }

    /// The rows a config derives that D1 holds now (settings: only the keys budgets.yaml manages).
    pub async fn current_rows(&self) -> Result<CurrentRows, ApiError> {
        let keys: Vec<&str> = SETTINGS.iter().map(|spec| spec.key).collect();
        let settings: Vec<SettingRow> = self
            .all(
                "reading settings",
                "SELECT key, value FROM settings WHERE key IN (SELECT value FROM json_each(?1))",
                &[json_param(&keys)],
            )
            .await?;
        let projects: Vec<ProjectRow> = self
            .all(
                "reading the project registry",
                "SELECT project_id, display_name, repository, tier, scripts FROM project_registry",
                &[],
            )
            .await?;
        let features: Vec<FeatureRow> = self
            .all(
                "reading the feature registry",
                "SELECT feature_key, project_id, category, feature, display_name, circuit_breaker, cost_tier FROM feature_registry",
                &[],
            )
            .await?;
        Ok(CurrentRows {
            settings: settings.into_iter().map(|r| (r.key.clone(), r)).collect(),
            projects: projects.into_iter().map(|r| (r.project_id.clone(), r)).collect(),
            features: features.into_iter().map(|r| (r.feature_key.clone(), r)).collect(),
        })
    }

    /// Writes the D1 part of a plan in one batch (one transaction).
    pub async fn apply_rows(&self, plan: &D1Plan, now: u64) -> Result<(), ApiError> {
        let mut statements = Vec::new();
        for rows in plan.settings.upsert.chunks(ROWS_PER_STATEMENT) {
            statements.push(self.statement(
                "INSERT INTO settings (key, value, updated_at) \
                 SELECT json_extract(value, '$.key'), json_extract(value, '$.value'), ?2 FROM json_each(?1) WHERE true \
                 ON CONFLICT(key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
                &[json_param(rows), d1::ms(now)],
            )?);
        }
        for rows in plan.projects.upsert.chunks(ROWS_PER_STATEMENT) {
            statements.push(self.statement(
                "INSERT INTO project_registry (project_id, display_name, repository, tier, scripts, updated_at) \
                 SELECT json_extract(value, '$.project_id'), json_extract(value, '$.display_name'), \
                 json_extract(value, '$.repository'), json_extract(value, '$.tier'), json_extract(value, '$.scripts'), ?2 \
                 FROM json_each(?1) WHERE true \
                 ON CONFLICT(project_id) DO UPDATE SET display_name = excluded.display_name, \
                 repository = excluded.repository, tier = excluded.tier, scripts = excluded.scripts, updated_at = excluded.updated_at",
                &[json_param(rows), d1::ms(now)],
            )?);
        }
        for rows in plan.features.upsert.chunks(ROWS_PER_STATEMENT) {
            statements.push(self.statement(
                "INSERT INTO feature_registry (feature_key, project_id, category, feature, display_name, circuit_breaker, cost_tier, updated_at) \
                 SELECT json_extract(value, '$.feature_key'), json_extract(value, '$.project_id'), \
                 json_extract(value, '$.category'), json_extract(value, '$.feature'), json_extract(value, '$.display_name'), \
                 json_extract(value, '$.circuit_breaker'), json_extract(value, '$.cost_tier'), ?2 \
                 FROM json_each(?1) WHERE true \
                 ON CONFLICT(feature_key) DO UPDATE SET project_id = excluded.project_id, category = excluded.category, \
                 feature = excluded.feature, display_name = excluded.display_name, circuit_breaker = excluded.circuit_breaker, \
                 cost_tier = excluded.cost_tier, updated_at = excluded.updated_at",
                &[json_param(rows), d1::ms(now)],
            )?);
        }
        let deletes = [
            ("settings", "key", &plan.settings.delete),
            ("project_registry", "project_id", &plan.projects.delete),
            ("feature_registry", "feature_key", &plan.features.delete),
        ];
        for (table, column, keys) in deletes {
            for keys in keys.chunks(ROWS_PER_STATEMENT) {
                statements.push(self.statement(
                    &format!("DELETE FROM {table} WHERE {column} IN (SELECT value FROM json_each(?1))"),
                    &[json_param(keys)],
                )?);
            }
        }
        self.batch("writing settings and registries", statements).await
    }

    /// The config applied last (with its document).
    pub async fn latest(&self) -> Result<Option<HistoryRow>, ApiError> {
        let rows: Vec<HistoryRow> = self
            .all(
                "reading the current config",
                "SELECT * FROM config_history ORDER BY id DESC LIMIT 1",
                &[],
            )
            .await?;
        Ok(rows.into_iter().next())
    }

    /// The configs applied before the current one, newest first (without their documents).
    pub async fn earlier(&self, limit: u32) -> Result<Vec<HistoryRow>, ApiError> {
        self.all(
            "reading the config history",
            "SELECT id, version, applied_at, summary, kv_total, kv_done, runs, completed_at FROM config_history \
             WHERE id < (SELECT MAX(id) FROM config_history) ORDER BY id DESC LIMIT ?1",
            &[d1::number(limit)],
        )
        .await
    }

    /// Records a newly applied config; returns its id.
    pub async fn record_version(
        &self,
        version: &str,
        now: u64,
        document: &str,
        summary: &str,
        kv_total: usize,
    ) -> Result<u64, ApiError> {
        #[derive(Deserialize)]
        struct Id {
            id: u64,
        }
        let rows: Vec<Id> = self
            .all(
                "recording the config",
                "INSERT INTO config_history (version, applied_at, document, summary, kv_total, kv_done, runs) \
                 VALUES (?1, ?2, ?3, ?4, ?5, 0, 0) RETURNING id",
                &[
                    JsValue::from_str(version),
                    d1::ms(now),
                    JsValue::from_str(document),
                    JsValue::from_str(summary),
                    d1::number(kv_total as f64),
                ],
            )
            .await?;
        rows.into_iter()
            .next()
            .map(|row| row.id)
            .ok_or_else(|| ApiError::internal("recording the config", "no id returned"))
    }

    /// Records what a run did: the keys written and deleted, and the config's progress.
    pub async fn record_run(
        &self,
        id: u64,
        report: &RunReport,
        now: u64,
        complete: bool,
    ) -> Result<(), ApiError> {
        let mut statements = Vec::new();
        for rows in report.written.chunks(ROWS_PER_STATEMENT) {
            statements.push(self.statement(
                "INSERT INTO synced_kv_keys (key, digest, written_at) \
                 SELECT json_extract(value, '$[0]'), json_extract(value, '$[1]'), ?2 FROM json_each(?1) WHERE true \
                 ON CONFLICT(key) DO UPDATE SET digest = excluded.digest, written_at = excluded.written_at",
                &[json_param(rows), d1::ms(now)],
            )?);
        }
        statements.extend(self.forget_statements(&report.deleted)?);
        let done = (report.written.len() + report.deleted.len()) as u64;
        statements.push(self.statement(
            "UPDATE config_history SET kv_done = kv_done + ?2, runs = runs + 1, \
             completed_at = CASE WHEN ?3 = 1 THEN ?4 ELSE NULL END WHERE id = ?1",
            &[
                d1::ms(id),
                d1::number(done as f64),
                d1::flag(complete),
                d1::ms(now),
            ],
        )?);
        self.batch("recording the run", statements).await
    }

    fn forget_statements(&self, keys: &[String]) -> Result<Vec<D1PreparedStatement>, ApiError> {
        keys.chunks(ROWS_PER_STATEMENT)
            .map(|keys| {
                self.statement(
                    "DELETE FROM synced_kv_keys WHERE key IN (SELECT value FROM json_each(?1))",
                    &[json_param(keys)],
                )
            })
            .collect()
    }

    /// Forgets drifted keys, so that the next run writes them again, and reopens the config's
    /// progress for them.
    pub async fn forget_drift(&self, id: u64, drift: &[Drift]) -> Result<(), ApiError> {
        let keys: Vec<String> = drift.iter().map(|d| d.key.clone()).collect();
        let mut statements = self.forget_statements(&keys)?;
        statements.push(self.statement(
            "UPDATE config_history SET kv_total = kv_total + ?2, completed_at = NULL WHERE id = ?1",
            &[d1::ms(id), d1::number(keys.len() as f64)],
        )?);
        self.batch("forgetting drifted keys", statements).await
    }

    pub async fn record_drift_check(&self, row: &DriftRow) -> Result<(), ApiError> {
        let statement = self.statement(
            "INSERT OR REPLACE INTO drift_checks (checked_at, version, checked, repaired) VALUES (?1, ?2, ?3, ?4)",
            &[
                d1::ms(row.checked_at),
                JsValue::from_str(&row.version),
                d1::ms(row.checked),
                JsValue::from_str(&row.repaired),
            ],
        )?;
        self.batch("recording the drift check", vec![statement]).await
    }

    pub async fn last_drift_check(&self) -> Result<Option<DriftRow>, ApiError> {
        let rows: Vec<DriftRow> = self
            .all(
                "reading the last drift check",
                "SELECT checked_at, version, checked, repaired FROM drift_checks ORDER BY checked_at DESC LIMIT 1",
                &[],
            )
            .await?;
        Ok(rows.into_iter().next())
    }
}
