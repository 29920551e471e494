//! The one retention sweep: each table the registry gives a retention in days loses its old rows,
//! swept by the table's owner, in one transaction.

use platform_kv::PlatformWorker;
use serde::Serialize;

use crate::db::Db;
use crate::error::DbError;
use crate::sql::Sql;
use crate::statement::Statement;
use crate::tables::{Retention, TABLES};

const DAY_MS: u64 = 86_400_000;

/// The deletes `worker` runs at `now`: one per table it owns that has a retention in days.
pub fn statements(worker: PlatformWorker, now: u64) -> Vec<(&'static str, Statement)> {
    TABLES
        .iter()
        .filter(|table| table.owner == worker)
        .filter_map(|table| match table.retention {
            Retention::Days { column, days } => {
                let cutoff = now.saturating_sub(u64::from(days) * DAY_MS);
                let sql = format!("DELETE FROM {} WHERE {column} < ?", table.name);
                Some((table.name, Statement::write(table, sql, vec![cutoff.into()])))
            }
            Retention::Kept(_) => None,
        })
        .collect()
}

/// Rows deleted from one table by a sweep.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Swept {
    pub table: &'static str,
    pub deleted: u64,
}

/// Runs the worker's retention sweep in one round trip.
pub async fn sweep<S: Sql>(db: &Db<S>, now: u64) -> Result<Vec<Swept>, DbError> {
    let (tables, statements): (Vec<_>, Vec<_>) = statements(db.worker(), now).into_iter().unzip();
    let outcomes = db.batch("applying retention", statements).await?;
    Ok(tables
        .into_iter()
        .zip(outcomes)
        .map(|(table, outcome)| Swept {
            table,
            deleted: outcome.changes,
        })
        .collect())
}
