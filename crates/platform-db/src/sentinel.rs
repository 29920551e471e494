//! The sentinel's tables: its incidents (`sentinel_incidents`), opened and closed in the batch
//! that enqueues their alert, and the operator's silences (`sentinel_silences`). Every read is
//! bounded by what is open or by a limit, never by history.

use platform_core::{EpochMs, FeatureKey, ProjectId};
use platform_sentinel::incident::{Finding, IncidentKind, Open};
use platform_sentinel::silences::{Matcher, Silence};

use crate::db::Db;
use crate::error::DbError;
use crate::row::{FromRow, Row};
use crate::sql::Sql;
use crate::statement::Statement;
use crate::tables::{SENTINEL_INCIDENTS, SENTINEL_SILENCES};

const INCIDENT_COLUMNS: &str =
    "id, kind, subject, project, feature, since, opened_at, closed_at, summary, detail, silenced_by";

/// A `sentinel_incidents` row.
#[derive(Debug, Clone, PartialEq)]
pub struct Incident {
    pub id: u64,
    pub open: Open,
    pub closed_at: Option<EpochMs>,
    pub summary: String,
    /// The rule's figures as stored (JSON).
    pub detail: serde_json::Value,
    pub silenced_by: Option<u64>,
}

fn optional<T>(row: &Row, column: &str, parse: impl Fn(&str) -> Option<T>) -> Result<Option<T>, String> {
    let text: Option<String> = row.get(column)?;
    text.map(|t| parse(&t).ok_or_else(|| format!("column {column}: {t:?} is not valid")))
        .transpose()
}

impl FromRow for Incident {
    fn from_row(row: &Row) -> Result<Self, String> {
        let detail: String = row.get("detail")?;
        Ok(Self {
            id: row.get("id")?,
            open: Open {
                kind: row.parse("kind", IncidentKind::parse)?,
                subject: row.get("subject")?,
                project: optional(row, "project", |s| ProjectId::parse(s).ok())?,
                feature: optional(row, "feature", |s| FeatureKey::parse(s).ok())?,
                opened_at: row.get("opened_at")?,
                since: row.get("since")?,
            },
            closed_at: row.get("closed_at")?,
            summary: row.get("summary")?,
            detail: serde_json::from_str(&detail).unwrap_or(serde_json::Value::String(detail)),
            silenced_by: row.get("silenced_by")?,
        })
    }
}

/// Every open incident.
pub async fn open_incidents<S: Sql>(db: &Db<S>) -> Result<Vec<Incident>, DbError> {
    let statement = Statement::read(
        format!("SELECT {INCIDENT_COLUMNS} FROM sentinel_incidents WHERE closed_at IS NULL ORDER BY id"),
        Vec::new(),
    );
    db.rows("reading open incidents", statement).await
}

/// The latest `limit` incidents of `kind`, open or closed, newest first.
pub async fn latest<S: Sql>(db: &Db<S>, kind: IncidentKind, limit: u32) -> Result<Vec<Incident>, DbError> {
    let statement = Statement::read(
        format!("SELECT {INCIDENT_COLUMNS} FROM sentinel_incidents WHERE kind = ? ORDER BY id DESC LIMIT ?"),
        vec![kind.name().into(), limit.into()],
    );
    db.rows("reading the latest incidents", statement).await
}

/// Opens an incident for `finding`; `silenced_by` is the silence that holds its alert back. A
/// second open incident of the same kind and subject is refused by the table's unique index.
pub fn open(finding: &Finding, silenced_by: Option<u64>, now: EpochMs) -> Statement {
    Statement::write(
        &SENTINEL_INCIDENTS,
        "INSERT INTO sentinel_incidents (kind, subject, project, feature, since, opened_at, summary, detail, \
         silenced_by) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
        vec![
            finding.kind.name().into(),
            finding.subject.as_str().into(),
            finding.project.as_ref().map(ProjectId::as_str).into(),
            finding.feature.as_ref().map(FeatureKey::as_str).into(),
            finding.since.into(),
            now.into(),
            finding.summary.as_str().into(),
            finding.detail.to_string().into(),
            silenced_by.into(),
        ],
    )
}

/// Refreshes an open incident's figures (the silence grows, the day's cost is recounted).
pub fn refresh(id: u64, finding: &Finding) -> Statement {
    Statement::write(
        &SENTINEL_INCIDENTS,
        "UPDATE sentinel_incidents SET detail = ? WHERE id = ? AND closed_at IS NULL",
        vec![finding.detail.to_string().into(), id.into()],
    )
}

/// Closes an open incident.
pub fn close(id: u64, now: EpochMs) -> Statement {
    Statement::write(
        &SENTINEL_INCIDENTS,
        "UPDATE sentinel_incidents SET closed_at = ? WHERE id = ? AND closed_at IS NULL",
        vec![now.into(), id.into()],
    )
}

impl FromRow for Silence {
    fn from_row(row: &Row) -> Result<Self, String> {
        Ok(Self {
            id: row.get("id")?,
            matcher: Matcher {
                project: optional(row, "project", |s| ProjectId::parse(s).ok())?,
                feature: optional(row, "feature", |s| FeatureKey::parse(s).ok())?,
                kind: optional(row, "kind", IncidentKind::parse)?,
            },
            reason: row.get("reason")?,
            created_at: row.get("created_at")?,
            expires_at: row.get("expires_at")?,
        })
    }
}

/// Silences that have not expired at `now`.
pub async fn silences<S: Sql>(db: &Db<S>, now: EpochMs) -> Result<Vec<Silence>, DbError> {
    let statement = Statement::read(
        "SELECT id, project, feature, kind, reason, created_at, expires_at FROM sentinel_silences \
         WHERE expires_at > ? ORDER BY id",
        vec![now.into()],
    );
    db.rows("reading silences", statement).await
}

/// Stores a silence; returns it with its id.
pub async fn add_silence<S: Sql>(
    db: &Db<S>,
    matcher: Matcher,
    reason: &str,
    expires_at: EpochMs,
    now: EpochMs,
) -> Result<Silence, DbError> {
    let statement = Statement::write(
        &SENTINEL_SILENCES,
        "INSERT INTO sentinel_silences (project, feature, kind, reason, created_at, expires_at) \
         VALUES (?, ?, ?, ?, ?, ?) RETURNING id, project, feature, kind, reason, created_at, expires_at",
        vec![
            matcher.project.as_ref().map(ProjectId::as_str).into(),
            matcher.feature.as_ref().map(FeatureKey::as_str).into(),
            matcher.kind.map(IncidentKind::name).into(),
            reason.into(),
            now.into(),
            expires_at.into(),
        ],
    );
    db.first("adding a silence", statement)
        .await?
        .ok_or_else(|| DbError::backend("adding a silence", "the insert returned no row"))
}

/// Ends a silence at once; returns whether there was one to end.
pub async fn end_silence<S: Sql>(db: &Db<S>, id: u64, now: EpochMs) -> Result<bool, DbError> {
    let statement = Statement::write(
        &SENTINEL_SILENCES,
        "UPDATE sentinel_silences SET expires_at = ? WHERE id = ? AND expires_at > ?",
        vec![now.into(), id.into(), now.into()],
    );
    Ok(db.run("ending a silence", statement).await?.changes > 0)
}

struct OpenBreaker(FeatureKey);

impl FromRow for OpenBreaker {
    fn from_row(row: &Row) -> Result<Self, String> {
        row.parse("feature_key", |s| FeatureKey::parse(s).ok()).map(Self)
    }
}

/// Up to `limit` feature breakers open since before `tripped_before`, for the synthetic check
/// that consumers can read them (one row per feature: bounded by features, not history).
pub async fn open_breakers<S: Sql>(
    db: &Db<S>,
    tripped_before: EpochMs,
    limit: u32,
) -> Result<Vec<FeatureKey>, DbError> {
    let statement = Statement::read(
        "SELECT feature_key FROM feature_breakers WHERE open = 1 AND tripped_at IS NOT NULL AND tripped_at < ? \
         ORDER BY tripped_at DESC LIMIT ?",
        vec![tripped_before.into(), limit.into()],
    );
    let rows: Vec<OpenBreaker> = db.rows("reading open breakers", statement).await?;
    Ok(rows.into_iter().map(|r| r.0).collect())
}

struct Repository(String, String);

impl FromRow for Repository {
    fn from_row(row: &Row) -> Result<Self, String> {
        Ok(Self(row.get("project_id")?, row.get("repository")?))
    }
}

/// The GitHub repository (`owner/name`) of each of `projects` that services.yaml declares, for
/// its gap issue.
pub async fn repositories<S: Sql>(
    db: &Db<S>,
    projects: &[ProjectId],
) -> Result<std::collections::BTreeMap<String, String>, DbError> {
    let mut found = std::collections::BTreeMap::new();
    let keys = projects.iter().map(|p| p.as_str().into()).collect();
    for statement in crate::statement::select_in(
        "SELECT project_id, repository FROM project_registry WHERE project_id",
        &[],
        keys,
        "",
    ) {
        let rows: Vec<Repository> = db.rows("reading project repositories", statement).await?;
        found.extend(rows.into_iter().map(|r| (r.0, r.1)));
    }
    Ok(found)
}
