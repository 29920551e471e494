//! platform-usage's tables: the usage ledger a telemetry batch reads and writes ([`ledger`]), the
//! admin API's reads and manual changes ([`admin`]), the sweep's due resets and the hourly
//! reconciliation's reads ([`sweep`]) and the operator settings ([`settings`]). The breaker rows
//! shared by all of them are read here, once.

pub mod activity;
pub mod admin;
pub mod ledger;
pub mod settings;
pub mod sweep;

use platform_core::breaker::{FeatureBreaker, Level, ProjectBreaker};
use platform_core::{FeatureKey, ProjectId};

use crate::row::{FromRow, Row};
use crate::statement::Statement;
use crate::tables::{FEATURE_BREAKERS, PROJECT_BREAKERS};

const FEATURE_BREAKER_COLUMNS: &str =
    "feature_key, open, manual, reason, tripped_at, auto_reset_at, consecutive_trips, last_reset_at, exempt_until";
const PROJECT_BREAKER_COLUMNS: &str = "project, level, manual, reason, since, auto_reset_at, exempt_until";

/// `SELECT` of every feature breaker column, then `tail` (`WHERE …`).
fn select_feature_breakers(tail: &str) -> String {
    format!("SELECT {FEATURE_BREAKER_COLUMNS} FROM feature_breakers {tail}")
}

fn select_project_breakers(tail: &str) -> String {
    format!("SELECT {PROJECT_BREAKER_COLUMNS} FROM project_breakers {tail}")
}

/// A `feature_breakers` row.
#[derive(Debug, Clone, PartialEq)]
pub struct FeatureBreakerRow {
    pub feature: FeatureKey,
    pub breaker: FeatureBreaker,
}

impl FromRow for FeatureBreakerRow {
    fn from_row(row: &Row) -> Result<Self, String> {
        Ok(Self {
            feature: row.parse("feature_key", |s| FeatureKey::parse(s).ok())?,
            breaker: FeatureBreaker {
                open: row.get("open")?,
                manual: row.get("manual")?,
                reason: row.get("reason")?,
                tripped_at: row.get("tripped_at")?,
                auto_reset_at: row.get("auto_reset_at")?,
                consecutive_trips: row.get("consecutive_trips")?,
                last_reset_at: row.get("last_reset_at")?,
                exempt_until: row.get("exempt_until")?,
            },
        })
    }
}

/// A `project_breakers` row.
#[derive(Debug, Clone, PartialEq)]
pub struct ProjectBreakerRow {
    pub project: ProjectId,
    pub breaker: ProjectBreaker,
}

impl FromRow for ProjectBreakerRow {
    fn from_row(row: &Row) -> Result<Self, String> {
        Ok(Self {
            project: row.parse("project", |s| ProjectId::parse(s).ok())?,
            breaker: ProjectBreaker {
                level: row.parse("level", Level::parse)?,
                manual: row.get("manual")?,
                reason: row.get("reason")?,
                since: row.get("since")?,
                auto_reset_at: row.get("auto_reset_at")?,
                exempt_until: row.get("exempt_until")?,
            },
        })
    }
}

/// Stores a feature's breaker, replacing the row.
pub fn set_feature_breaker(feature: &FeatureKey, breaker: &FeatureBreaker) -> Statement {
    Statement::write(
        &FEATURE_BREAKERS,
        format!(
            "INSERT OR REPLACE INTO feature_breakers ({FEATURE_BREAKER_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
        ),
        vec![
            feature.as_str().into(),
            breaker.open.into(),
            breaker.manual.into(),
            breaker.reason.as_deref().into(),
            breaker.tripped_at.into(),
            breaker.auto_reset_at.into(),
            breaker.consecutive_trips.into(),
            breaker.last_reset_at.into(),
            breaker.exempt_until.into(),
        ],
    )
}

/// Stores a project's breaker, replacing the row.
pub fn set_project_breaker(project: &ProjectId, breaker: &ProjectBreaker) -> Statement {
    Statement::write(
        &PROJECT_BREAKERS,
        format!("INSERT OR REPLACE INTO project_breakers ({PROJECT_BREAKER_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)"),
        vec![
            project.as_str().into(),
            breaker.level.as_str().into(),
            breaker.manual.into(),
            breaker.reason.as_deref().into(),
            breaker.since.into(),
            breaker.auto_reset_at.into(),
            breaker.exempt_until.into(),
        ],
    )
}

#[cfg(all(test, feature = "sqlite"))]
mod tests {
    // Here rather than in tests/usage.rs: only this crate can build a statement writing another
    // worker's table, which is what must be refused.
    use platform_kv::{block_on, PlatformWorker};

    use super::ledger::Transaction;
    use crate::sqlite::Sqlite;
    use crate::tables::ERROR_COLLECTOR_STATE;
    use crate::{Db, DbError, DbErrorKind, Statement};

    #[test]
    fn a_write_to_another_workers_table_refuses_the_whole_batch() -> Result<(), DbError> {
        let sqlite = Sqlite::migrated()?;
        let db = Db::new(sqlite.clone(), PlatformWorker::PlatformUsage);
        let mut tx = Transaction::new(1_000);
        tx.mark_seen(&["m1".to_owned()]);
        tx.push(Statement::write(
            &ERROR_COLLECTOR_STATE,
            "INSERT INTO error_collector_state (key, value, at) VALUES ('k', 'v', 1)",
            Vec::new(),
        ));
        let refused = block_on(tx.commit(&db, "a batch")).map_err(|e| e.kind);
        assert_eq!(refused, Err(DbErrorKind::Refused));
        for table in ["telemetry_seen", "error_collector_state"] {
            let rows = sqlite.select(&format!("SELECT count(*) AS n FROM {table}"))?;
            assert_eq!(rows[0].get::<u64>("n").ok(), Some(0), "{table}");
        }
        // The collector itself may write it.
        let collector = Db::new(sqlite.clone(), PlatformWorker::ErrorCollector);
        let statement = Statement::write(
            &ERROR_COLLECTOR_STATE,
            "INSERT INTO error_collector_state (key, value, at) VALUES ('k', 'v', 1)",
            Vec::new(),
        );
        assert_eq!(block_on(collector.run("its own table", statement))?.changes, 1);
        Ok(())
    }
}
