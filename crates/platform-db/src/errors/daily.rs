//! `error_daily_issues`: issues filed at most once per project per UTC day. The row is the claim,
//! inserted before GitHub is called, completed with the issue's number once GitHub accepted it,
//! deleted again when GitHub refused, so that a later run can try again.

use platform_core::UtcDay;

use super::state::{self, FactKey};
use crate::db::Db;
use crate::error::DbError;
use crate::sql::Sql;
use crate::statement::Statement;
use crate::tables::ERROR_DAILY_ISSUES;

/// A claim older than this without an issue (its caller died) is taken over.
pub const CLAIM_MS: u64 = 60_000;

/// What an issue filed once a day is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DailyKind {
    /// The digest of a project's warnings of the day.
    Digest,
    /// A coverage gap the sentinel found.
    Gap,
}

impl DailyKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Digest => "digest",
            Self::Gap => "gap",
        }
    }
}

/// One project's issue of one kind for one day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DailyIssue<'a> {
    pub kind: DailyKind,
    pub project: &'a str,
    pub day: UtcDay,
}

impl DailyIssue<'_> {
    /// Claims the day's issue before GitHub is called: true for one caller, until the issue is
    /// recorded, the claim released, or a claim older than [`CLAIM_MS`] is taken over.
    pub async fn claim<S: Sql>(&self, db: &Db<S>, now: u64) -> Result<bool, DbError> {
        let statement = Statement::write(
            &ERROR_DAILY_ISSUES,
            "INSERT INTO error_daily_issues (kind, project, day, claimed_at) VALUES (?1, ?2, ?3, ?4) \
             ON CONFLICT (kind, project, day) DO UPDATE SET claimed_at = excluded.claimed_at \
             WHERE issue_number IS NULL AND claimed_at <= ?5 RETURNING day",
            vec![
                self.kind.as_str().into(),
                self.project.into(),
                self.day.to_string().into(),
                now.into(),
                now.saturating_sub(CLAIM_MS).into(),
            ],
        );
        let outcome = db.run("claiming a daily issue", statement).await?;
        Ok(!outcome.rows.is_empty())
    }

    /// Records the issue GitHub accepted (in `repository`), and the collector's last successful
    /// issue write, in one round trip.
    pub async fn record<S: Sql>(
        &self,
        db: &Db<S>,
        repository: &str,
        number: u64,
        now: u64,
    ) -> Result<(), DbError> {
        let update = Statement::write(
            &ERROR_DAILY_ISSUES,
            "UPDATE error_daily_issues SET issue_number = ?1 WHERE kind = ?2 AND project = ?3 AND day = ?4",
            vec![
                number.into(),
                self.kind.as_str().into(),
                self.project.into(),
                self.day.to_string().into(),
            ],
        );
        let fact = state::record(FactKey::LastIssueWrite, &format!("{repository}#{number}"), now);
        db.batch("recording a daily issue", vec![update, fact]).await?;
        Ok(())
    }

    /// Gives the claim back after GitHub refused, so a later run can try again.
    pub async fn release<S: Sql>(&self, db: &Db<S>) -> Result<(), DbError> {
        let statement = Statement::write(
            &ERROR_DAILY_ISSUES,
            "DELETE FROM error_daily_issues WHERE kind = ?1 AND project = ?2 AND day = ?3 \
             AND issue_number IS NULL",
            vec![
                self.kind.as_str().into(),
                self.project.into(),
                self.day.to_string().into(),
            ],
        );
        db.run("releasing a daily issue claim", statement).await?;
        Ok(())
    }
}
