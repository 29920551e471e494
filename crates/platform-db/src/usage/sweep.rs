//! The scheduled work's reads: the automatic trips whose period has ended, and the open breakers
//! the hourly reconciliation re-broadcasts. Retention is the registry's ([`crate::retention`]).

use platform_core::EpochMs;

use super::admin::{read_global_stop, GlobalStop};
use super::{select_feature_breakers, select_project_breakers, FeatureBreakerRow, ProjectBreakerRow};
use crate::db::lenient;
use crate::db::Db;
use crate::error::DbError;
use crate::sql::Sql;
use crate::statement::Statement;

/// Breakers read by a scheduled run.
#[derive(Debug, Default, PartialEq)]
pub struct Breakers {
    pub features: Vec<FeatureBreakerRow>,
    pub projects: Vec<ProjectBreakerRow>,
    /// Whether the account-wide stop is on (reconciliation only).
    pub global_stopped: bool,
    /// Rows that could not be read, left out.
    pub skipped: Vec<String>,
}

/// The open, automatic feature trips and paused, automatic projects whose reset time has come,
/// in one round trip. Manual ones wait for an operator.
pub async fn due_resets<S: Sql>(db: &Db<S>, now: EpochMs) -> Result<Breakers, DbError> {
    let statements = vec![
        Statement::read(
            select_feature_breakers(
                "WHERE open = 1 AND manual = 0 AND auto_reset_at IS NOT NULL AND auto_reset_at <= ?",
            ),
            vec![now.into()],
        ),
        Statement::read(
            select_project_breakers(
                "WHERE level = 'paused' AND manual = 0 AND auto_reset_at IS NOT NULL AND auto_reset_at <= ?",
            ),
            vec![now.into()],
        ),
    ];
    let outcomes = db.batch("reading due resets", statements).await?;
    let mut breakers = Breakers::default();
    let part = |i: usize| outcomes.get(i..=i).unwrap_or_default();
    breakers.features = lenient(part(0), &mut breakers.skipped);
    breakers.projects = lenient(part(1), &mut breakers.skipped);
    Ok(breakers)
}

/// Every open feature breaker, every paused project and the global stop, in one round trip.
pub async fn open_breakers<S: Sql>(db: &Db<S>) -> Result<Breakers, DbError> {
    let statements = vec![
        Statement::read(select_feature_breakers("WHERE open = 1"), Vec::new()),
        Statement::read(select_project_breakers("WHERE level = 'paused'"), Vec::new()),
        read_global_stop(),
    ];
    let outcomes = db.batch("reading open breakers", statements).await?;
    let mut breakers = Breakers::default();
    let part = |i: usize| outcomes.get(i..=i).unwrap_or_default();
    breakers.features = lenient(part(0), &mut breakers.skipped);
    breakers.projects = lenient(part(1), &mut breakers.skipped);
    let global: Vec<GlobalStop> = lenient(part(2), &mut breakers.skipped);
    breakers.global_stopped = global.first().is_some_and(|g| g.enabled);
    Ok(breakers)
}
