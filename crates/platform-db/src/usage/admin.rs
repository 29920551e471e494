//! The admin API's reads (status, a feature's usage, events, rejected telemetry) and its manual
//! changes (a breaker, the global stop, a rejected message resolved).

use platform_core::breaker::{FeatureBreaker, ProjectBreaker};
use platform_core::{EpochMs, FeatureKey, ProjectId};
use serde::{Serialize, Serializer};

use std::collections::BTreeSet;

use platform_core::sorted::{self, CollectSorted};
use platform_core::usage::Subject;

use super::ledger::{RejectKind, UsageTotal};
use super::rollup::{self, RollupRow};
use super::{select_feature_breakers, select_project_breakers, FeatureBreakerRow, ProjectBreakerRow};
use crate::db::lenient;
use crate::db::Db;
use crate::error::DbError;
use crate::row::{FromRow, Row};
use crate::sql::Sql;
use crate::statement::Statement;
use crate::tables::{GLOBAL_STOP, TELEMETRY_REJECTS};

/// A feature's breaker; a feature without a row has never tripped.
pub async fn feature_breaker<S: Sql>(db: &Db<S>, feature: &FeatureKey) -> Result<FeatureBreaker, DbError> {
    let statement = Statement::read(
        select_feature_breakers("WHERE feature_key = ?"),
        vec![feature.as_str().into()],
    );
    let row: Option<FeatureBreakerRow> = db.first("reading a breaker", statement).await?;
    Ok(row.map(|row| row.breaker).unwrap_or_default())
}

/// A project's breaker; a project without a row is active.
pub async fn project_breaker<S: Sql>(db: &Db<S>, project: &ProjectId) -> Result<ProjectBreaker, DbError> {
    let statement = Statement::read(
        select_project_breakers("WHERE project = ?"),
        vec![project.as_str().into()],
    );
    let row: Option<ProjectBreakerRow> = db.first("reading a project breaker", statement).await?;
    Ok(row.map(|row| row.breaker).unwrap_or_default())
}

/// Another spelling of `project` that differs only in case, as a project breaker or as a project
/// of the config: consumers read both through one `PROJECT:{SLUG}:STATUS`. Project ids are ASCII
/// (ProjectId), so SQLite's ASCII-only `upper()` finds every one.
pub async fn project_in_another_case<S: Sql>(
    db: &Db<S>,
    project: &ProjectId,
) -> Result<Option<String>, DbError> {
    #[derive(Debug)]
    struct Spelling(String);
    impl FromRow for Spelling {
        fn from_row(row: &Row) -> Result<Self, String> {
            row.get("project").map(Spelling)
        }
    }
    let statement = Statement::read(
        "SELECT project FROM project_breakers WHERE upper(project) = upper(?1) AND project <> ?1 \
         UNION SELECT project_id AS project FROM project_registry \
         WHERE upper(project_id) = upper(?1) AND project_id <> ?1 LIMIT 1",
        vec![project.as_str().into()],
    );
    let row: Option<Spelling> = db.first("reading a project's other spellings", statement).await?;
    Ok(row.map(|Spelling(project)| project))
}

/// Whether the platform knows a feature: services.yaml declares it (the registry sync-config
/// writes), it has a breaker or a heartbeat, or it sent usage on a day from `since` (a UTC day)
/// on. An operator's action on a key it knows nothing of is a typo, not a new feature.
pub async fn feature_known<S: Sql>(db: &Db<S>, feature: &FeatureKey, since: &str) -> Result<bool, DbError> {
    let key = feature.as_str();
    let statement = Statement::read(
        "SELECT EXISTS (SELECT 1 FROM feature_registry WHERE feature_key = ?) \
           OR EXISTS (SELECT 1 FROM feature_breakers WHERE feature_key = ?) \
           OR EXISTS (SELECT 1 FROM feature_health WHERE feature_key = ?) AS known",
        vec![key.into(), key.into(), key.into()],
    );
    let row: Option<Known> = db.first("checking a feature is known", statement).await?;
    if row.is_some_and(|row| row.known) {
        return Ok(true);
    }
    Ok(!feature_usage(db, feature, since).await?.is_empty())
}

/// Whether the platform knows a project: services.yaml declares it or one of its features, it has
/// a breaker, or it has usage on record.
pub async fn project_known<S: Sql>(db: &Db<S>, project: &ProjectId) -> Result<bool, DbError> {
    let id = project.as_str();
    let statement = Statement::read(
        "SELECT EXISTS (SELECT 1 FROM project_registry WHERE project_id = ?) \
           OR EXISTS (SELECT 1 FROM feature_registry WHERE project_id = ?) \
           OR EXISTS (SELECT 1 FROM project_breakers WHERE project = ?) \
           OR EXISTS (SELECT 1 FROM usage_rollups WHERE project = ?) AS known",
        vec![id.into(), id.into(), id.into(), id.into()],
    );
    let row: Option<Known> = db.first("checking a project is known", statement).await?;
    Ok(row.is_some_and(|row| row.known))
}

struct Known {
    known: bool,
}

impl FromRow for Known {
    fn from_row(row: &Row) -> Result<Self, String> {
        let known: u64 = row.get("known")?;
        Ok(Self { known: known != 0 })
    }
}

/// Stores the account-wide stop (`enabled`) or its release.
pub fn set_global_stop(enabled: bool, reason: &str, now: EpochMs) -> Statement {
    Statement::write(
        &GLOBAL_STOP,
        "INSERT OR REPLACE INTO global_stop (id, enabled, reason, since) VALUES (1, ?, ?, ?)",
        vec![enabled.into(), reason.into(), now.into()],
    )
}

/// The `global_stop` row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GlobalStop {
    pub enabled: bool,
    pub reason: Option<String>,
    pub since: EpochMs,
}

impl FromRow for GlobalStop {
    fn from_row(row: &Row) -> Result<Self, String> {
        Ok(Self {
            enabled: row.get("enabled")?,
            reason: row.get("reason")?,
            since: row.get("since")?,
        })
    }
}

pub(super) fn read_global_stop() -> Statement {
    Statement::read(
        "SELECT enabled, reason, since FROM global_stop WHERE id = 1",
        Vec::new(),
    )
}

struct Count(u64);

impl FromRow for Count {
    fn from_row(row: &Row) -> Result<Self, String> {
        row.get("n").map(Self)
    }
}

/// What `GET /status` shows.
#[derive(Debug, Default, PartialEq)]
pub struct Status {
    /// The stop row, whether it is enabled or released.
    pub global: Option<GlobalStop>,
    /// Every project not active, by project.
    pub projects: Vec<ProjectBreakerRow>,
    /// Every open feature breaker, by feature.
    pub features: Vec<FeatureBreakerRow>,
    /// Today's usage of the open features.
    pub usage_today: Vec<UsageTotal>,
    /// Alerts not delivered yet.
    pub pending_alerts: u64,
}

/// Reads the status in one round trip. `today` is the UTC day (`2026-03-02`).
pub async fn status<S: Sql>(db: &Db<S>, today: &str) -> Result<Status, DbError> {
    let statements = vec![
        read_global_stop(),
        Statement::read(
            select_project_breakers("WHERE level != 'active' ORDER BY project"),
            Vec::new(),
        ),
        Statement::read(
            select_feature_breakers("WHERE open = 1 ORDER BY feature_key"),
            Vec::new(),
        ),
        // The day rows of the projects with an open feature; their entries are picked below.
        Statement::read(
            "SELECT project, period, shard, totals FROM usage_rollups WHERE period = ? AND project IN (\
               SELECT DISTINCT substr(feature_key, 1, instr(feature_key, ':') - 1) FROM feature_breakers \
               WHERE open = 1)",
            vec![today.into()],
        ),
        Statement::read(
            "SELECT count(*) AS n FROM alert_outbox WHERE sent_at IS NULL",
            Vec::new(),
        ),
    ];
    let outcomes = db.batch("reading the status", statements).await?;
    let mut skipped = Vec::new();
    let part = |i: usize| outcomes.get(i..=i).unwrap_or_default();
    let global: Vec<GlobalStop> = lenient(part(0), &mut skipped);
    let pending: Vec<Count> = lenient(part(4), &mut skipped);
    let features: Vec<FeatureBreakerRow> = lenient(part(2), &mut skipped);
    let rollups: Vec<RollupRow> = lenient(part(3), &mut skipped);
    let open: BTreeSet<&FeatureKey> = features.iter().map(|row| &row.feature).collect_set();
    let usage_today = rollup::entries(&rollups, &mut skipped)
        .into_iter()
        .filter(|usage| matches!(&usage.subject, Subject::Feature(f) if open.contains(f)))
        .collect();
    Ok(Status {
        global: global.into_iter().next(),
        projects: lenient(part(1), &mut skipped),
        features,
        usage_today,
        pending_alerts: pending.first().map_or(0, |c| c.0),
    })
}

/// A feature's daily totals from `since` (a UTC day) on, newest first.
pub async fn feature_usage<S: Sql>(
    db: &Db<S>,
    feature: &FeatureKey,
    since: &str,
) -> Result<Vec<UsageTotal>, DbError> {
    let statement = rollup::select_days(&feature.project(), since);
    let outcome = db.run("reading usage", statement).await?;
    let mut skipped = Vec::new();
    let rows: Vec<RollupRow> = lenient(&[outcome], &mut skipped);
    let mut usage: Vec<UsageTotal> = rollup::entries(&rows, &mut skipped)
        .into_iter()
        .filter(|usage| matches!(&usage.subject, Subject::Feature(f) if f == feature))
        .collect();
    sorted::sort_by(&mut usage, |a, b| b.period.cmp(&a.period));
    Ok(usage)
}

/// A `breaker_events` row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BreakerEvent {
    pub id: u64,
    #[serde(serialize_with = "platform_core::time::serialize_iso8601")]
    pub at: EpochMs,
    pub scope: String,
    pub subject: String,
    pub event: String,
    pub reason: Option<String>,
}

impl FromRow for BreakerEvent {
    fn from_row(row: &Row) -> Result<Self, String> {
        Ok(Self {
            id: row.get("id")?,
            at: row.get("at")?,
            scope: row.get("scope")?,
            subject: row.get("subject")?,
            event: row.get("event")?,
            reason: row.get("reason")?,
        })
    }
}

/// The latest `limit` breaker transitions, newest first.
pub async fn events<S: Sql>(db: &Db<S>, limit: u32) -> Result<Vec<BreakerEvent>, DbError> {
    let statement = Statement::read(
        "SELECT id, at, scope, subject, event, reason FROM breaker_events ORDER BY id DESC LIMIT ?",
        vec![limit.into()],
    );
    db.rows("reading events", statement).await
}

/// Where a rejected message stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RejectStatus {
    Pending,
    Replayed,
    Discarded,
}

impl RejectStatus {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Replayed => "replayed",
            Self::Discarded => "discarded",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "pending" => Some(Self::Pending),
            "replayed" => Some(Self::Replayed),
            "discarded" => Some(Self::Discarded),
            _ => None,
        }
    }
}

impl Serialize for RejectStatus {
    fn serialize<Z: Serializer>(&self, serializer: Z) -> Result<Z::Ok, Z::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl Serialize for RejectKind {
    fn serialize<Z: Serializer>(&self, serializer: Z) -> Result<Z::Ok, Z::Error> {
        serializer.serialize_str(self.as_str())
    }
}

/// A `telemetry_rejects` row, as `GET /dlq` lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Reject {
    pub id: u64,
    pub kind: RejectKind,
    pub message_id: String,
    pub queue: String,
    pub reason: String,
    pub payload: String,
    #[serde(serialize_with = "platform_core::time::serialize_iso8601")]
    pub received_at: EpochMs,
    pub status: RejectStatus,
}

impl FromRow for Reject {
    fn from_row(row: &Row) -> Result<Self, String> {
        Ok(Self {
            id: row.get("id")?,
            kind: row.parse("kind", RejectKind::parse)?,
            message_id: row.get("message_id")?,
            queue: row.get("queue")?,
            reason: row.get("reason")?,
            payload: row.get("payload")?,
            received_at: row.get("received_at")?,
            status: row.parse("status", RejectStatus::parse)?,
        })
    }
}

const REJECT_COLUMNS: &str = "id, kind, message_id, queue, reason, payload, received_at, status";

/// Rejected and dead-lettered telemetry still pending, oldest first (500 at most).
pub async fn pending_rejects<S: Sql>(db: &Db<S>) -> Result<Vec<Reject>, DbError> {
    let statement = Statement::read(
        format!(
            "SELECT {REJECT_COLUMNS} FROM telemetry_rejects WHERE status = 'pending' ORDER BY id LIMIT 500"
        ),
        Vec::new(),
    );
    let outcome = db.run("reading rejected telemetry", statement).await?;
    Ok(lenient(&[outcome], &mut Vec::new()))
}

/// One rejected message.
pub async fn reject<S: Sql>(db: &Db<S>, id: u64) -> Result<Option<Reject>, DbError> {
    let statement = Statement::read(
        format!("SELECT {REJECT_COLUMNS} FROM telemetry_rejects WHERE id = ?"),
        vec![id.into()],
    );
    db.first("reading rejected telemetry", statement).await
}

/// Marks a rejected message replayed or discarded.
pub fn resolve_reject(id: u64, status: RejectStatus, now: EpochMs) -> Statement {
    Statement::write(
        &TELEMETRY_REJECTS,
        "UPDATE telemetry_rejects SET status = ?, resolved_at = ? WHERE id = ?",
        vec![status.as_str().into(), now.into(), id.into()],
    )
}
