//! What the operator's listing, the daily digest, the gap alerts and `/health` read of
//! `error_fingerprints`.

use platform_core::UtcDay;
use platform_errors::{ErrorKind, Priority, UNMAPPED_PROJECT};
use serde::Serialize;

use super::fingerprints::{flag, kind, kind_text, priority, priority_text, status, Status};
use crate::db::Db;
use crate::error::DbError;
use crate::row::{FromRow, Row};
use crate::sql::Sql;
use crate::statement::Statement;

/// A warning for the daily digest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Warning {
    pub project: String,
    pub repository: String,
    pub script: String,
    pub sample: String,
    pub occurrences: u64,
    pub fingerprint: String,
}

impl FromRow for Warning {
    fn from_row(row: &Row) -> Result<Self, String> {
        Ok(Self {
            project: row.get("project")?,
            repository: row.get("repository")?,
            script: row.get("script")?,
            sample: row.get("sample")?,
            occurrences: row.get("occurrences")?,
            fingerprint: row.get("fingerprint")?,
        })
    }
}

/// Warnings active during `day` (seen on it, or first seen before its end and still going) that
/// are filed somewhere and not muted, by project, the most frequent first.
pub async fn warnings<S: Sql>(db: &Db<S>, day: UtcDay, limit: u32) -> Result<Vec<Warning>, DbError> {
    let statement = Statement::read(
        format!(
            "SELECT project, repository, script, sample, occurrences, fingerprint FROM error_fingerprints \
             WHERE kind = '{warning}' AND repository IS NOT NULL AND muted = 0 AND last_seen >= ?1 \
             AND first_seen < ?2 ORDER BY project, occurrences DESC LIMIT ?3",
            warning = ErrorKind::Warning.as_str(),
        ),
        vec![day.start_ms().into(), day.next_start_ms().into(), limit.into()],
    );
    db.rows("reading the day's warnings", statement).await
}

/// A repository `project`'s errors are filed in, if it has any.
pub async fn project_repository<S: Sql>(db: &Db<S>, project: &str) -> Result<Option<String>, DbError> {
    let statement = Statement::read(
        "SELECT repository FROM error_fingerprints WHERE project = ?1 AND repository IS NOT NULL LIMIT 1",
        vec![project.into()],
    );
    let row: Option<Row> = db.first("finding the project's repository", statement).await?;
    row.map(|r| r.get("repository"))
        .transpose()
        .map_err(|e| DbError::decode("finding the project's repository", e))
}

/// Which fingerprints a listing shows by state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Listed {
    /// Open and not muted.
    Open,
    /// Resolved and not muted.
    Resolved,
    /// Muted, whatever their status.
    Muted,
}

impl Listed {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Open => "open",
            Self::Resolved => "resolved",
            Self::Muted => "muted",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        [Self::Open, Self::Resolved, Self::Muted]
            .into_iter()
            .find(|l| l.as_str() == raw)
    }
}

/// What the operator's listing asks for; `None` matches everything.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Filter<'a> {
    pub project: Option<&'a str>,
    pub script: Option<&'a str>,
    pub status: Option<Listed>,
    pub priority: Option<Priority>,
    pub limit: u32,
}

/// A fingerprint as the operator's listing shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Summary {
    pub fingerprint: String,
    pub project: String,
    pub script: String,
    #[serde(serialize_with = "kind_text")]
    pub kind: ErrorKind,
    pub category: Option<String>,
    #[serde(serialize_with = "priority_text")]
    pub priority: Priority,
    pub title: String,
    pub occurrences: u64,
    pub first_seen: u64,
    pub last_seen: u64,
    pub status: Status,
    #[serde(serialize_with = "flag")]
    pub muted: bool,
    pub issue_number: Option<u64>,
    pub repository: Option<String>,
    pub last_error: Option<String>,
}

impl FromRow for Summary {
    fn from_row(row: &Row) -> Result<Self, String> {
        Ok(Self {
            fingerprint: row.get("fingerprint")?,
            project: row.get("project")?,
            script: row.get("script")?,
            kind: kind(row)?,
            category: row.get("category")?,
            priority: priority(row)?,
            title: row.get("title")?,
            occurrences: row.get("occurrences")?,
            first_seen: row.get("first_seen")?,
            last_seen: row.get("last_seen")?,
            status: status(row)?,
            muted: row.get("muted")?,
            issue_number: row.get("issue_number")?,
            repository: row.get("repository")?,
            last_error: row.get("last_error")?,
        })
    }
}

/// The operator's listing, the most recently seen first.
pub async fn list<S: Sql>(db: &Db<S>, filter: &Filter<'_>) -> Result<Vec<Summary>, DbError> {
    let statement = Statement::read(
        "SELECT fingerprint, project, script, kind, category, priority, title, occurrences, first_seen, \
         last_seen, status, muted, issue_number, repository, last_error FROM error_fingerprints \
         WHERE (?1 IS NULL OR project = ?1) AND (?2 IS NULL OR script = ?2) \
         AND (?3 IS NULL OR (?3 = 'muted' AND muted = 1) OR (?3 != 'muted' AND status = ?3 AND muted = 0)) \
         AND (?4 IS NULL OR priority = ?4) ORDER BY last_seen DESC LIMIT ?5",
        vec![
            filter.project.into(),
            filter.script.into(),
            filter.status.map(Listed::as_str).into(),
            filter.priority.map(Priority::as_str).into(),
            filter.limit.into(),
        ],
    );
    db.rows("listing errors", statement).await
}

/// Scripts whose errors were recorded without a `SCRIPT_MAP` entry (for `/health`).
pub async fn unmapped_scripts<S: Sql>(db: &Db<S>, limit: u32) -> Result<Vec<String>, DbError> {
    const CONTEXT: &str = "listing unmapped scripts";
    let statement = Statement::read(
        "SELECT DISTINCT script FROM error_fingerprints WHERE project = ?1 ORDER BY script LIMIT ?2",
        vec![UNMAPPED_PROJECT.into(), limit.into()],
    );
    let rows: Vec<Row> = db.rows(CONTEXT, statement).await?;
    rows.iter()
        .map(|r| r.get("script").map_err(|e| DbError::decode(CONTEXT, e)))
        .collect()
}
