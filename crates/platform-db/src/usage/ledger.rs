//! The usage ledger: a telemetry batch counts its messages and reads the state after them in one
//! transaction ([`Transaction::count`], [`Transaction::commit_and_read`]), then records whatever
//! its decision changed in a second, only when something changed.

use std::collections::{BTreeMap, BTreeSet};

use platform_core::breaker::{FeatureBreaker, ProjectBreaker};
use platform_core::sorted::CollectSorted;
use platform_core::usage::{BatchUsage, MetricTotals, Subject};
use platform_core::{EpochMs, FeatureKey, Metric, ProjectId};

use super::receipts::{self, Receipt};
use super::rollup::{self, RollupRow};
use super::{
    select_feature_breakers, select_project_breakers, set_feature_breaker, set_project_breaker,
    FeatureBreakerRow, ProjectBreakerRow,
};
use crate::db::lenient;
use crate::db::Db;
use crate::error::DbError;
use crate::row::{FromRow, Row};
use crate::sql::{Outcome, Sql};
use crate::statement::{insert_rows, select_in, Statement};
use crate::tables::{BREAKER_EVENTS, BUDGET_WARNINGS, FEATURE_HEALTH, TELEMETRY_REJECTS};
use crate::value::Value;

pub use super::receipts::{already_counted, minute_of, ByMinute};
pub use super::rollup::UsageTotal;

/// Totals per subject and period id (`2026-03-02`, `2026-03`).
pub type Totals = BTreeMap<(Subject, String), MetricTotals>;

/// Warnings already sent: feature, metric, period id, threshold.
pub type Warned = BTreeSet<(FeatureKey, Metric, String, u8)>;

/// The state of a batch's features and projects, read in the transaction that counted it.
#[derive(Debug, Default, PartialEq)]
pub struct Snapshot {
    /// Totals of the features and their projects, this batch included.
    pub totals: Totals,
    pub feature_breakers: BTreeMap<FeatureKey, FeatureBreaker>,
    pub project_breakers: BTreeMap<ProjectId, ProjectBreaker>,
    pub warned: Warned,
    /// Rows or entries that could not be read (an unknown metric, a malformed key), left out.
    pub skipped: Vec<String>,
}

struct WarnedRow(FeatureKey, Metric, String, u8);

impl FromRow for WarnedRow {
    fn from_row(row: &Row) -> Result<Self, String> {
        Ok(Self(
            row.parse("feature_key", |s| FeatureKey::parse(s).ok())?,
            row.parse("metric", Metric::from_budget_name)?,
            row.get("period")?,
            row.get("threshold")?,
        ))
    }
}

/// The reads that end a batch's transaction, in four groups (totals, feature breakers, project
/// breakers, warnings), each split under D1's parameter limit.
pub fn snapshot_statements(features: &[FeatureKey], periods: [&str; 2]) -> [Vec<Statement>; 4] {
    let feature_keys: Vec<Value> = features.iter().map(|f| f.as_str().into()).collect();
    let projects: BTreeSet<ProjectId> = features.iter().map(FeatureKey::project).collect_set();
    let project_ids: Vec<Value> = projects.iter().map(|p| p.as_str().into()).collect();
    let period_values = [Value::from(periods[0]), Value::from(periods[1])];
    [
        rollup::select(&projects, &periods),
        select_in(
            &select_feature_breakers("WHERE feature_key"),
            &[],
            feature_keys.clone(),
            "",
        ),
        select_in(&select_project_breakers("WHERE project"), &[], project_ids, ""),
        select_in(
            "SELECT feature_key, metric, period, threshold FROM budget_warnings \
             WHERE period IN (?, ?) AND feature_key",
            &period_values,
            feature_keys,
            "",
        ),
    ]
}

fn read_snapshot(outcomes: &[Outcome], sizes: [usize; 4]) -> Snapshot {
    let mut at = 0;
    let mut next = |n: usize| {
        let part = outcomes.get(at..at + n).unwrap_or_default();
        at += n;
        part
    };
    let mut snapshot = Snapshot::default();
    let skipped = &mut snapshot.skipped;
    let rollups: Vec<RollupRow> = lenient(next(sizes[0]), skipped);
    let features: Vec<FeatureBreakerRow> = lenient(next(sizes[1]), skipped);
    let projects: Vec<ProjectBreakerRow> = lenient(next(sizes[2]), skipped);
    let warned: Vec<WarnedRow> = lenient(next(sizes[3]), skipped);
    snapshot.totals = rollup::totals(&rollups, skipped);
    snapshot.feature_breakers = features.into_iter().map(|r| (r.feature, r.breaker)).collect_map();
    snapshot.project_breakers = projects.into_iter().map(|r| (r.project, r.breaker)).collect_map();
    snapshot.warned = warned
        .into_iter()
        .map(|WarnedRow(feature, metric, period, threshold)| (feature, metric, period, threshold))
        .collect_set();
    snapshot
}

/// Which of the messages, by receipt minute, were counted already: read when a batch was refused
/// as a redelivery, to count the rest.
pub async fn counted<S: Sql>(db: &Db<S>, ids: &ByMinute) -> Result<BTreeSet<String>, DbError> {
    let minutes = ids.keys().copied().collect_set();
    let outcomes = db
        .batch(
            "reading the receipts of a redelivered batch",
            receipts::select(&minutes),
        )
        .await?;
    let batch: BTreeSet<&String> = ids.values().flatten().collect_set();
    let mut skipped = Vec::new();
    let receipts: Vec<Receipt> = lenient(&outcomes, &mut skipped);
    if let Some(bad) = skipped.first() {
        return Err(DbError::decode("reading telemetry receipts", bad));
    }
    Ok(receipts
        .into_iter()
        .flat_map(|Receipt(ids)| ids)
        .filter(|id| batch.contains(id))
        .collect_set())
}

/// Why telemetry is kept in `telemetry_rejects`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RejectKind {
    /// It could not be used (not JSON, a field out of range).
    Rejected,
    /// It exhausted its retries and arrived on the dead-letter queue.
    DeadLetter,
}

impl RejectKind {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Rejected => "rejected",
            Self::DeadLetter => "dead_letter",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "rejected" => Some(Self::Rejected),
            "dead_letter" => Some(Self::DeadLetter),
            _ => None,
        }
    }
}

/// A breaker transition for `breaker_events`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventRecord<'a> {
    /// `feature`, `project` or `global`.
    pub scope: &'a str,
    pub subject: &'a str,
    pub event: &'a str,
    pub reason: Option<&'a str>,
}

/// Everything a batch or request writes, built up and committed at once: all or nothing.
#[derive(Debug)]
pub struct Transaction {
    now: EpochMs,
    statements: Vec<Statement>,
}

impl Transaction {
    pub fn new(now: EpochMs) -> Self {
        Self {
            now,
            statements: Vec::new(),
        }
    }

    /// When the transaction's rows are stamped.
    pub fn now(&self) -> EpochMs {
        self.now
    }

    /// Counts a batch: its receipts (refused, with the whole transaction, when a message was
    /// counted before) and its usage and activity.
    pub fn count(&mut self, ids: &ByMinute, usage: &BatchUsage) {
        self.statements.extend(receipts::insert(ids));
        self.statements.extend(rollup::add(usage, self.now));
        self.heartbeats(&usage.heartbeats);
    }

    /// Counts each feature's heartbeat and keeps the latest.
    fn heartbeats(&mut self, heartbeats: &BTreeMap<FeatureKey, EpochMs>) {
        let rows = heartbeats
            .iter()
            .map(|(feature, at)| vec![feature.as_str().into(), (*at).into(), 1u32.into()])
            .collect();
        self.statements.extend(insert_rows(
            &FEATURE_HEALTH,
            "INSERT INTO feature_health (feature_key, last_heartbeat, heartbeats)",
            rows,
            "ON CONFLICT (feature_key) DO UPDATE SET heartbeats = heartbeats + 1, \
             last_heartbeat = max(last_heartbeat, excluded.last_heartbeat)",
        ));
    }

    /// Keeps a message that cannot be counted, with its payload for replay.
    pub fn reject(&mut self, kind: RejectKind, message_id: &str, queue: &str, reason: &str, payload: &str) {
        self.statements.push(Statement::write(
            &TELEMETRY_REJECTS,
            // Once per message and kind: a redelivery records nothing more to replay.
            "INSERT INTO telemetry_rejects (kind, message_id, queue, reason, payload, received_at) \
             SELECT ?1, ?2, ?3, ?4, ?5, ?6 WHERE NOT EXISTS \
             (SELECT 1 FROM telemetry_rejects WHERE message_id = ?2 AND kind = ?1)",
            vec![
                kind.as_str().into(),
                message_id.into(),
                queue.into(),
                reason.into(),
                payload.into(),
                self.now.into(),
            ],
        ));
    }

    pub fn set_feature_breaker(&mut self, feature: &FeatureKey, breaker: &FeatureBreaker) {
        self.statements.push(set_feature_breaker(feature, breaker));
    }

    pub fn set_project_breaker(&mut self, project: &ProjectId, breaker: &ProjectBreaker) {
        self.statements.push(set_project_breaker(project, breaker));
    }

    /// Records budget warnings sent; one already recorded is kept as it was.
    pub fn warned(&mut self, feature: &FeatureKey, metric: Metric, period: &str, thresholds: &[u8]) {
        let rows = thresholds
            .iter()
            .map(|t| {
                vec![
                    feature.as_str().into(),
                    metric.budget_name().into(),
                    period.into(),
                    (*t).into(),
                    self.now.into(),
                ]
            })
            .collect();
        self.statements.extend(insert_rows(
            &BUDGET_WARNINGS,
            "INSERT OR IGNORE INTO budget_warnings (feature_key, metric, period, threshold, sent_at)",
            rows,
            "",
        ));
    }

    /// Records a breaker transition.
    pub fn event(&mut self, event: EventRecord<'_>) {
        self.statements.push(Statement::write(
            &BREAKER_EVENTS,
            "INSERT INTO breaker_events (at, scope, subject, event, reason) VALUES (?, ?, ?, ?, ?)",
            vec![
                self.now.into(),
                event.scope.into(),
                event.subject.into(),
                event.event.into(),
                event.reason.into(),
            ],
        ));
    }

    /// Adds a statement built elsewhere in this crate (an alert, a handler stamp, the global stop).
    pub fn push(&mut self, statement: Statement) {
        self.statements.push(statement);
    }

    /// Adds the statement if there is one (a busy handler's stamp, when due).
    pub fn also(&mut self, statement: Option<Statement>) {
        self.statements.extend(statement);
    }

    pub fn is_empty(&self) -> bool {
        self.statements.is_empty()
    }

    pub fn statements(&self) -> &[Statement] {
        &self.statements
    }

    /// Commits everything and reads the state of the features (and their projects) after it, in
    /// one round trip.
    pub async fn commit_and_read<S: Sql>(
        mut self,
        db: &Db<S>,
        features: &[FeatureKey],
        periods: [&str; 2],
    ) -> Result<Snapshot, DbError> {
        let writes = self.statements.len();
        let reads = snapshot_statements(features, periods);
        let sizes = reads.each_ref().map(Vec::len);
        self.statements.extend(reads.into_iter().flatten());
        let outcomes = db.batch("counting a telemetry batch", self.statements).await?;
        Ok(read_snapshot(outcomes.get(writes..).unwrap_or_default(), sizes))
    }

    /// Commits everything in one round trip (none when there is nothing to write), or nothing.
    pub async fn commit<S: Sql>(self, db: &Db<S>, context: &str) -> Result<Vec<Outcome>, DbError> {
        db.batch(context, self.statements).await
    }
}
